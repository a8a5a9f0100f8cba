"""Follows a job through a client that openapi-python-client generated from the
service's own /openapi.json, as .ci/generated-client runs it:

    python3 .ci/generated_client.py PACKAGE_DIR BASE_URL

PACKAGE_DIR holds the generated package `zerog_client`. Every answer goes through
the generated parsers, which raise on a value the document does not allow; every
expectation is asserted, and any failure exits non-zero.
"""

import sys
import time
from uuid import UUID

sys.path.insert(0, sys.argv[1])
base_url = sys.argv[2]

from zerog_client import Client  # noqa: E402
from zerog_client.api.jobs import (  # noqa: E402
    get_data,
    get_info,
    get_progress,
    list_jobs,
    submit_waste_time,
)
from zerog_client.api.operations import list_workers  # noqa: E402
from zerog_client.models import (  # noqa: E402
    DataView,
    ErrorBody,
    JobInfo,
    JobList,
    ListJobsStatus,
    ProgressView,
    SubmitWasteTimeResponse201,
    WasteTime,
)

DEADLINE = 60.0
client = Client(base_url=base_url, raise_on_unexpected_status=True, timeout=10.0)


def wait_for(what, condition):
    """Calls `condition` until it returns something other than None; fails after DEADLINE."""
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        found = condition()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened within {DEADLINE} s")


def progress(uuid):
    answer = get_progress.sync_detailed(uuid, client=client)
    assert answer.status_code == 200, (answer.status_code, answer.content)
    assert isinstance(answer.parsed, ProgressView), answer.parsed
    return answer.parsed


# Long enough to be seen running, short enough to wait for.
submitted = submit_waste_time.sync_detailed(client=client, body=WasteTime(delay=3))
assert submitted.status_code == 201, (submitted.status_code, submitted.content)
assert isinstance(submitted.parsed, SubmitWasteTimeResponse201), submitted.parsed
uuid = submitted.parsed.uuid
assert isinstance(uuid, UUID), uuid
print(f"submitted {uuid}")

running = wait_for(
    "the job running",
    lambda: (view if (view := progress(uuid)).status == "running" else None),
)
assert str(running.uuid) == str(uuid), running
assert running.job_type == "waste_time", running
assert running.result_code == -1, running
assert 0.0 <= running.completeness < 1.0, running
print(f"running, {running.completeness:.2f} complete")

# While it runs, its worker is `running` too: both closed sets parse past their first value.
workers = list_workers.sync_detailed(client=client)
assert workers.status_code == 200, (workers.status_code, workers.content)
assert workers.parsed.workers, workers.parsed
listed = list_jobs.sync_detailed(client=client, status=ListJobsStatus.RUNNING)
assert listed.status_code == 200, (listed.status_code, listed.content)
assert isinstance(listed.parsed, JobList), listed.parsed
assert [str(job.uuid) for job in listed.parsed.jobs] == [str(uuid)], listed.parsed

# Unless it has just finished, the 409 names the status it is in.
unfinished = get_data.sync_detailed(uuid, client=client)
assert unfinished.status_code in (200, 409), (unfinished.status_code, unfinished.content)
if unfinished.status_code == 409:
    assert isinstance(unfinished.parsed, ErrorBody), unfinished.parsed
    assert unfinished.parsed.error == "not_finished", unfinished.parsed
    assert unfinished.parsed.status == "running", unfinished.parsed

done = wait_for(
    "the job finishing",
    lambda: (view if (view := progress(uuid)).status not in ("queued", "running") else None),
)
assert done.status == "done", done
assert done.result_code == 200, done
assert done.result == 200, done
assert done.completeness > 0.99, done
print("done")

info = get_info.sync_detailed(uuid, client=client)
assert info.status_code == 200, (info.status_code, info.content)
assert isinstance(info.parsed, JobInfo), info.parsed
assert info.parsed.status == "done", info.parsed
assert info.parsed.result_code == 200, info.parsed
assert info.parsed.events, "a waste_time job logs as it goes"
print(f"info: {len(info.parsed.events)} events")

data = get_data.sync_detailed(uuid, client=client)
assert data.status_code == 200, (data.status_code, data.content)
assert isinstance(data.parsed, DataView), data.parsed
assert data.parsed.result_code == 200, data.parsed

refused = submit_waste_time.sync_detailed(client=client, body=WasteTime(delay=-1))
assert refused.status_code == 400, (refused.status_code, refused.content)
assert isinstance(refused.parsed, ErrorBody), refused.parsed
assert refused.parsed.error == "validation", refused.parsed
assert refused.parsed.message, refused.parsed
paths = [violation.path for violation in refused.parsed.details]
assert paths == ["/delay"], refused.parsed.details
assert refused.parsed.details[0].message, refused.parsed.details
print(f"refused: {refused.parsed.details[0].message}")

print("the generated client followed the job from submit to data")
