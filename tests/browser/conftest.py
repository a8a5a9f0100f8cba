"""Fixtures of the dashboard's browser tests: zerog services started from the test
binary, each on a SQLite file of its own, and headless Chromium driven by Playwright.

Everything comes from the machine: the service binary (ZEROG_TEST_SERVICE), Debian's
Chromium (ZEROG_CHROMIUM, default /usr/bin/chromium) and axe-core's axe.min.js
(ZEROG_AXE). Nothing is downloaded at test time. Screenshots go to
ZEROG_UI_SCREENSHOTS (default target/ui-screenshots).
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

TOKEN = "browser-test-token"


class Service:
    """A running `zerog-test-service run`: the API, a worker and the scheduler."""

    def __init__(self, name, env):
        self.name = name
        self.dir = tempfile.TemporaryDirectory(prefix=f"zerog-ui-{name}-")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.token = env.get("ZEROG_API_TOKEN")
        environment = {k: v for k, v in os.environ.items() if k not in ("ZEROG_API_TOKEN", "ZEROG_UI")}
        environment.update({
            "ZEROG_STORE": f"sqlite://{self.dir.name}/zerog.db",
            "ZEROG_BIND": f"127.0.0.1:{port}",
            "ZEROG_CAPACITY": "4",
            "RUST_LOG": "warn",
        })
        environment.update(env)
        self.log = open(Path(self.dir.name) / "service.log", "w")
        self.process = subprocess.Popen(
            [os.environ["ZEROG_TEST_SERVICE"], "run"],
            env=environment, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/health", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the {name} service never answered /health: {self.read_log()}")
                time.sleep(0.1)

    def read_log(self):
        self.log.flush()
        return (Path(self.dir.name) / "service.log").read_text()

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def submit(self, job_type, params):
        status, answer = self.request("POST", f"/job/{job_type}", params)
        assert status == 201, answer
        return answer["uuid"]

    def progress(self, uuid):
        return self.request("GET", f"/progress/{uuid}")[1]

    def wait_for_status(self, uuid, statuses, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.progress(uuid)["status"]
            if status in statuses:
                return status
            time.sleep(0.1)
        raise AssertionError(f"job {uuid} never reached {statuses}: {self.progress(uuid)}")

    def job_count(self):
        status, answer = self.request("GET", "/jobs/stats")
        assert status == 200, answer
        return sum(entry["count"] for entry in answer["statuses"].values())

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.dir.cleanup()


@pytest.fixture(scope="session")
def service():
    started = Service("open", {})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def guarded():
    started = Service("guarded", {"ZEROG_API_TOKEN": TOKEN})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def read_only():
    started = Service("read-only", {"ZEROG_UI": "readonly"})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("ZEROG_CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    opened = context.new_page()
    errors = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(15_000)
    yield opened
    context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture(scope="session")
def axe_source():
    path = os.environ.get("ZEROG_AXE")
    assert path and Path(path).is_file(), "ZEROG_AXE names axe-core's axe.min.js"
    return Path(path).read_text()


@pytest.fixture(scope="session")
def screenshots():
    directory = Path(os.environ.get("ZEROG_UI_SCREENSHOTS", "target/ui-screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory
