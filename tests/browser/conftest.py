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


class PrefixProxy:
    """Serves `service` under `/zerog`, as an app that mounts the API in a scope of
    its own would be seen from the browser: a request for `/zerog/x` is passed on as
    `/x`, answers (event streams too) are passed back as they arrive, and every path
    asked is recorded."""

    PREFIX = "/zerog"

    def __init__(self, service):
        import http.server
        import threading

        self.paths = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                proxy.paths.append(self.path)
                if not self.path.startswith(PrefixProxy.PREFIX + "/"):
                    self.send_error(404, "outside the mount")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length")}
                # The service checks that writes come from its own origin and host,
                # which behind this proxy are the proxy's: it speaks for them, as a
                # front server that mounts the API would be configured to.
                if "Origin" in headers:
                    headers["Origin"] = service.base
                request = urllib.request.Request(
                    service.base + self.path[len(PrefixProxy.PREFIX):], data=body,
                    headers=headers, method=self.command)
                try:
                    answer = urllib.request.urlopen(request, timeout=60)
                except urllib.error.HTTPError as error:
                    answer = error
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while True:
                    chunk = answer.read1(65536) if hasattr(answer, "read1") else answer.read(65536)
                    if not chunk:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}{self.PREFIX}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mounted(service):
    proxy = PrefixProxy(service)
    yield proxy
    proxy.stop()
