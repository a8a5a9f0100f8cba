"""The dashboard in headless Chromium: submitting through the generated form and
watching the job finish live, its log, cancel and retry from a job's page, a refused
value marked next to its field, bulk actions and the parameter search, queues and
schedules, the token prompt, the read-only service, and axe-core on every page, with a
screenshot of each."""

import re

from playwright.sync_api import expect

from conftest import TOKEN

UUID = re.compile(r"/ui/jobs/([0-9a-f-]{36})$")


def open_view(page, service, path):
    page.goto(service.base + path)
    expect(page.locator("#title")).not_to_have_text("Loading")


def confirm(page, action):
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=action, exact=True).click()
    expect(dialog).to_have_count(0)


def test_a_job_submitted_through_the_form_is_followed_to_the_end_without_a_reload(page, service):
    open_view(page, service, "/ui/submit/waste_time")
    delay = page.get_by_label("Delay", exact=True)
    expect(delay).to_have_value("30")
    expect(delay).to_have_attribute("min", "0")
    expect(delay).to_have_attribute("max", "86400")
    expect(page.get_by_text("Seconds to waste.")).to_be_visible()
    delay.fill("3")
    page.get_by_role("button", name="Submit Waste time").click()
    page.wait_for_url(UUID)
    uuid = UUID.search(page.url).group(1)
    # Marks this document: a reload would lose it.
    page.evaluate("window.sameDocument = true")
    bar = page.get_by_role("progressbar", name="Progress")
    seen = set()
    for _ in range(200):
        seen.add(int(bar.get_attribute("aria-valuenow")))
        if 100 in seen:
            break
        page.wait_for_timeout(50)
    assert 100 in seen, f"the bar never reached 100%: {sorted(seen)}"
    assert len(seen) > 2, f"the bar moved in steps: {sorted(seen)}"
    expect(page.locator("dl.info")).to_contain_text("done")
    assert page.evaluate("window.sameDocument") is True
    # Its log: the events the job logged, live.
    log = page.get_by_role("table", name="The job’s log")
    expect(log).to_contain_text("seconds remaining")
    assert log.locator("tbody tr").count() >= 3
    expect(page.locator("#job-data")).to_contain_text("null")
    assert service.progress(uuid)["status"] == "done"


def test_the_form_draws_every_kind_of_field(page, service):
    open_view(page, service, "/ui/submit/catalog")
    expect(page.get_by_label("Copies")).to_have_value("1")
    expect(page.get_by_label("Scale")).to_have_value("1")
    expect(page.get_by_label("Bound")).not_to_be_checked()
    paper = page.get_by_label("Paper")
    expect(paper.locator("option:checked")).to_have_text("a4")
    expect(page.get_by_label("Title (required)")).to_have_attribute("maxlength", "60")
    expect(page.get_by_role("group", name="Address")).to_be_visible()
    # `#[schemars(skip)]` fields are absent.
    expect(page.get_by_label("Printed")).to_have_count(0)
    page.get_by_label("Title (required)").fill("Autumn")
    page.get_by_label("City (required)").fill("Lyon")
    page.get_by_label("Copies").fill("2")
    page.get_by_label("Bound").check()
    paper.select_option(label="letter")
    page.get_by_role("button", name="Add to Tags").click()
    page.get_by_label("Tags 1").fill("new")
    page.get_by_role("button", name="Add to Tags").click()
    page.get_by_label("Tags 2").fill("gone")
    page.get_by_role("button", name="Remove Tags 2").click()
    page.get_by_role("button", name="Submit Catalog").click()
    page.wait_for_url(UUID)
    uuid = UUID.search(page.url).group(1)
    expect(page.locator("#job-data")).to_contain_text('"printed": 2')
    status, info = service.request("GET", f"/jobs?search=%7B%22title%22%3A%22Autumn%22%7D")
    assert status == 200 and [job["uuid"] for job in info["jobs"]] == [uuid]
    status, found = service.request(
        "GET", "/jobs?search=%7B%22tags%22%3A%5B%22new%22%5D%2C%22paper%22%3A%22letter%22%2C%22bound%22%3Atrue%7D")
    assert [job["uuid"] for job in found["jobs"]] == [uuid], found


def test_a_refused_value_is_marked_next_to_its_field_and_no_job_is_made(page, service):
    before = service.job_count()
    # Checked in the page: the range.
    open_view(page, service, "/ui/submit/catalog")
    page.get_by_label("Title (required)").fill("Winter")
    page.get_by_label("City (required)").fill("Oslo")
    copies = page.get_by_label("Copies")
    copies.fill("50")
    requests = []
    page.on("request", lambda request: requests.append(request) if request.method == "POST" else None)
    page.get_by_role("button", name="Submit Catalog").click()
    field = page.locator('.field[data-path="/copies"]')
    expect(field.locator(".error")).to_have_text("Enter 10 or less.")
    expect(copies).to_have_attribute("aria-invalid", "true")
    assert requests == [], "the page posted a value it could tell was wrong"
    # Refused by the server: a number the page accepts but the job's type cannot hold.
    open_view(page, service, "/ui/submit/linger")
    ms = page.get_by_label("Ms (required)")
    ms.fill("100000000000000000000")
    page.get_by_role("button", name="Submit Linger").click()
    error = page.locator('.field[data-path="/ms"] .error')
    expect(error).to_contain_text("u64")
    expect(ms).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#notice")).to_contain_text("refused")
    assert "/ui/submit/linger" in page.url
    assert service.job_count() == before, "a refused submit made a job"


def test_a_job_is_cancelled_killed_and_retried_from_its_page(page, service):
    lingering = service.submit("linger", {"ms": 60000})
    service.wait_for_status(lingering, {"running"})
    open_view(page, service, f"/ui/jobs/{lingering}")
    page.get_by_role("button", name="Cancel", exact=True).click()
    # The first thought is kept: nothing happens without the confirmation.
    confirm(page, "Keep it")
    assert service.progress(lingering)["status"] == "running"
    page.get_by_role("button", name="Cancel", exact=True).click()
    confirm(page, "Cancel")
    service.wait_for_status(lingering, {"cancelled", "done"})
    expect(page.locator("dl.info")).to_contain_text(re.compile("cancelled|done"))

    stubborn = service.submit("linger", {"ms": 60000, "stubborn": True})
    service.wait_for_status(stubborn, {"running"})
    open_view(page, service, f"/ui/jobs/{stubborn}")
    page.get_by_role("button", name="Kill").click()
    confirm(page, "Kill")
    service.wait_for_status(stubborn, {"cancelled"})
    expect(page.locator("dl.info")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()

    # Without a mark file, `mark` fails for good.
    failing = service.submit("mark", {"ms": 0})
    service.wait_for_status(failing, {"failed"})
    open_view(page, service, f"/ui/jobs/{failing}")
    log = page.get_by_role("table", name="The job’s log")
    expect(log).to_contain_text("no mark file")
    page.get_by_role("button", name="Retry").click()
    confirm(page, "Retry")
    expect(log).to_contain_text("Retried by user")
    service.wait_for_status(failing, {"failed"})
    expect(page.locator("dl.info")).to_contain_text("failed")


def test_many_jobs_are_selected_cancelled_retried_and_deleted_and_found_by_parameter(page, service):
    jobs = [service.submit("linger", {"ms": 60000 + n, "checkpoint": True}) for n in range(2)]
    other = service.submit("linger", {"ms": 777})
    open_view(page, service, "/ui/jobs?jobType=linger&status=running")
    for uuid in jobs:
        service.wait_for_status(uuid, {"running"})
    page.get_by_role("button", name="Apply filters").click()
    for uuid in jobs:
        row = page.locator(f'tr[data-uuid="{uuid}"]')
        expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", re.compile(r"\d+"))
        page.get_by_label(f"Select job {uuid}").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Cancel selected").click()
    confirm(page, "Cancel them")
    for uuid in jobs:
        service.wait_for_status(uuid, {"cancelled"})
    expect(page.locator("#notice")).to_contain_text("Cancel: 2 done.")
    # Cancelled, they can be retried together, and once finished, deleted together;
    # a job that has not finished is refused, and said so.
    service.wait_for_status(jobs[0], {"cancelled"})
    open_view(page, service, "/ui/jobs?jobType=linger&status=cancelled")
    for uuid in jobs:
        page.get_by_label(f"Select job {uuid}").check()
    page.get_by_role("button", name="Retry selected").click()
    confirm(page, "Retry them")
    expect(page.locator("#notice")).to_contain_text("Retry: 2 done.")
    for uuid in jobs:
        service.wait_for_status(uuid, {"running"})
        service.request("POST", f"/cancel/{uuid}?kill=true")
        service.wait_for_status(uuid, {"cancelled"})
    still_running = service.submit("linger", {"ms": 60000})
    service.wait_for_status(still_running, {"running"})
    open_view(page, service, "/ui/jobs?jobType=linger")
    for uuid in [*jobs, still_running]:
        page.get_by_label(f"Select job {uuid}").check()
    page.get_by_role("button", name="Delete selected").click()
    confirm(page, "Delete them")
    expect(page.locator("#notice")).to_contain_text("Delete: 2 done, 1 refused")
    expect(page.locator("#notice")).to_contain_text("has not finished")
    for uuid in jobs:
        assert service.request("GET", f"/progress/{uuid}")[0] == 404
    assert service.progress(still_running)["status"] == "running"
    service.request("POST", f"/cancel/{still_running}?kill=true")

    open_view(page, service, "/ui/jobs")
    page.get_by_label("Parameters", exact=True).fill('{"ms": 777}')
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr[data-uuid]")).to_have_count(1)
    expect(page.locator(f'tr[data-uuid="{other}"]')).to_be_visible()
    assert "search=" in page.url, "the search is in the address, to bookmark"
    page.get_by_label("Parameters", exact=True).fill('{"ms": [')
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("alert").filter(has_text="not a parameter search")).to_be_visible()


def test_queues_pause_and_resume_and_schedules_are_added_paused_and_removed(page, service):
    open_view(page, service, "/ui/queues")
    page.get_by_role("button", name="Pause catalog").click()
    expect(page.get_by_role("button", name="Resume catalog")).to_be_visible()
    assert any(queue["paused"] for queue in service.request("GET", "/queues")[1]["queues"]
               if queue["name"] == "catalog")
    page.get_by_role("button", name="Resume catalog").click()
    expect(page.get_by_role("button", name="Pause catalog")).to_be_visible()

    open_view(page, service, "/ui/schedules")
    page.get_by_label("Name", exact=True).fill("nightly-waste")
    page.get_by_label("Job type").select_option(label="Waste time")
    expect(page.get_by_label("Delay", exact=True)).to_have_value("30")
    page.get_by_label("Cron").fill("0 3 * * *")
    page.get_by_label("Delay", exact=True).fill("7")
    page.get_by_role("button", name="Add schedule").click()
    row = page.locator("tbody tr", has_text="nightly-waste")
    expect(row).to_contain_text('{"delay":7}')
    expect(row).to_contain_text("active")
    page.get_by_role("button", name="Pause nightly-waste").click()
    expect(row).to_contain_text("paused")
    page.get_by_role("button", name="Remove nightly-waste").click()
    confirm(page, "Remove")
    expect(row).to_have_count(0)
    assert service.request("GET", "/schedules/nightly-waste")[0] == 404


def test_with_a_token_the_page_asks_for_it_and_never_puts_it_in_a_url(page, guarded):
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    open_view(page, guarded, "/ui/submit/waste_time")
    token = page.get_by_label("API token")
    expect(token).to_have_attribute("type", "password")
    token.fill("not-the-token")
    page.get_by_role("button", name="Use this token").click()
    expect(page.get_by_role("alert")).to_have_text("That token was refused.")
    token.fill(TOKEN)
    page.get_by_role("button", name="Use this token").click()
    page.get_by_label("Delay", exact=True).fill("1")
    page.get_by_role("button", name="Submit Waste time").click()
    page.wait_for_url(UUID)
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_role("table", name="The job’s log")).to_contain_text("seconds remaining")
    assert page.evaluate("sessionStorage.getItem('zerog.token')") == TOKEN
    assert not [url for url in urls if TOKEN in url], "the token went into a URL"
    assert any("/events/" in url for url in urls), "the job was followed by its event stream"
    # Another view of the same tab keeps the token.
    open_view(page, guarded, "/ui/workers")
    expect(page.locator("tbody")).to_contain_text("worker")
    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("API token")).to_be_visible()


def test_a_read_only_service_shows_no_action(page, read_only):
    uuid = None
    open_view(page, read_only, "/ui/jobs")
    expect(page.locator("#mode")).to_contain_text("read-only")
    expect(page.get_by_role("button", name="Cancel selected")).to_have_count(0)
    open_view(page, read_only, "/ui/submit/waste_time")
    expect(page.get_by_text("This service is read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Submit Waste time")).to_have_count(0)
    open_view(page, read_only, "/ui/queues")
    expect(page.get_by_role("button", name=re.compile("^Pause"))).to_have_count(0)
    status, answer = read_only.request("POST", "/job/waste_time", {"delay": 1})
    assert (status, answer["error"]) == (403, "read_only")
    assert uuid is None


PAGES = [
    ("overview", "/ui"),
    ("jobs", "/ui/jobs"),
    ("job", "/ui/jobs/{uuid}"),
    ("submit", "/ui/submit/catalog"),
    ("workers", "/ui/workers"),
    ("queues", "/ui/queues"),
    ("schedules", "/ui/schedules"),
]


def check_accessibility(page, axe_source, name):
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    # A modal dialog leaves the rest of the page inert, and fewer rules apply.
    assert len(result["passes"]) > 10, f"axe-core ran few rules on the {name} page"
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(node["target"][0] if isinstance(node["target"][0], str) else str(node["target"])
                    for node in violation["nodes"][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert not serious, f"axe-core on the {name} page: {serious}"


def test_every_page_passes_axe_core_and_is_photographed(page, service, guarded, axe_source, screenshots):
    uuid = service.submit("waste_time", {"delay": 2})
    service.submit("linger", {"ms": 40000})
    service.submit("mark", {"ms": 0})
    service.wait_for_status(uuid, {"done"})
    status, _ = service.request("POST", "/schedules", {
        "name": "hourly-catalog", "jobType": "catalog", "cron": "@hourly",
        "params": {"title": "Hourly", "address": {"city": "Bern"}},
    })
    assert status == 201
    for name, path in PAGES:
        open_view(page, service, path.format(uuid=uuid))
        # Event streams stay open, so the network never idles: the views draw within
        # this.
        page.wait_for_timeout(1000)
        check_accessibility(page, axe_source, name)
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    # The token prompt, and a page with a dialog open.
    open_view(page, guarded, "/ui")
    check_accessibility(page, axe_source, "sign-in")
    page.screenshot(path=str(screenshots / "sign-in.png"), full_page=True)
    open_view(page, service, "/ui/jobs/{uuid}".format(uuid=service.submit("linger", {"ms": 40000})))
    page.get_by_role("button", name="Cancel", exact=True).click()
    check_accessibility(page, axe_source, "confirm")
    page.screenshot(path=str(screenshots / "confirm.png"))
    confirm(page, "Cancel")


def test_everything_works_from_the_keyboard(page, service):
    open_view(page, service, "/ui/submit/waste_time")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    # Through the navigation, to the form.
    delay = page.get_by_label("Delay", exact=True)
    for _ in range(20):
        page.keyboard.press("Tab")
        if delay.evaluate("element => element === document.activeElement"):
            break
    expect(delay).to_be_focused()
    delay.fill("1")
    page.keyboard.press("Enter")
    page.wait_for_url(UUID)
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
    # A confirmation is answered from the keyboard too, and Escape keeps the job.
    lingering = service.submit("linger", {"ms": 60000})
    service.wait_for_status(lingering, {"running"})
    open_view(page, service, f"/ui/jobs/{lingering}")
    page.get_by_role("button", name="Cancel", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_be_visible()
    expect(page.locator("dialog[open]").get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert service.progress(lingering)["status"] == "running"
    page.get_by_role("button", name="Cancel", exact=True).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    service.wait_for_status(lingering, {"cancelled", "done"})


def test_under_a_mount_prefix_every_request_stays_under_it(page, service, mounted):
    page.goto(mounted.base + "/ui/submit/waste_time")
    expect(page.locator("#title")).to_have_text("Submit Waste time")
    page.get_by_label("Delay", exact=True).fill("1")
    page.get_by_role("button", name="Submit Waste time").click()
    page.wait_for_url(re.compile(r"/zerog/ui/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
    page.get_by_role("link", name="Jobs").click()
    page.wait_for_url(re.compile(r"/zerog/ui/jobs$"))
    expect(page.locator("tbody tr[data-uuid]").first).to_be_visible()
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#title")).to_have_text("Overview")
    outside = [path for path in mounted.paths if not path.startswith("/zerog/")]
    assert not outside, f"the page asked for paths outside its mount: {outside}"
    assert any(path.startswith("/zerog/events/") for path in mounted.paths)
    assert any(path.startswith("/zerog/job/waste_time") for path in mounted.paths)


def test_a_worker_is_drained_from_its_row(page):
    from conftest import Service

    # A service of its own: once drained, its worker takes no more jobs.
    drained = Service("drained", {})
    try:
        status, answer = drained.request("GET", "/workers")
        for _ in range(100):
            if answer["workers"]:
                break
            page.wait_for_timeout(100)
            status, answer = drained.request("GET", "/workers")
        worker = answer["workers"][0]["id"]
        open_view(page, drained, "/ui/workers")
        row = page.locator("tbody tr", has_text=worker)
        expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
        expect(row).to_contain_text("polling")
        # The list redraws itself every few seconds, and the focus stays put.
        drain = row.get_by_role("button", name=f"Drain {worker}")
        drain.focus()
        page.wait_for_timeout(3500)
        expect(drain).to_be_focused()
        page.keyboard.press("Enter")
        confirm(page, "Drain")
        expect(row).to_contain_text("draining")
        assert drained.request("GET", "/workers")[1]["workers"][0]["state"] == "draining"
    finally:
        drained.stop()
