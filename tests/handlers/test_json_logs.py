"""JSON logs of the real app: a Slack request's lines carry its request id, a job run's lines its job id, none a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot import jobs, logs
from bot.app import create_runtime
from bot.server import BackgroundServer, build_asgi_app
from storage.session import Database, sqlite_url
from tests.conftest import SIGNING_SECRET, make_settings

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-2710984437-6042917360529-4Kd8pQvX0mZrT3bYcWe1LhNa"


@pytest.fixture
def json_logs():
    """JSON lines at DEBUG into a buffer for one test, pytest's handlers restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure(level="DEBUG", log_format="json", secrets=(BOT_TOKEN, SIGNING_SECRET), stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def served(fake_slack, tmp_path):
    runtime = create_runtime(make_settings(fake_slack, SLACK_BOT_TOKEN=BOT_TOKEN),
                             database=Database.from_url(sqlite_url(tmp_path / "app.db")))
    runtime.start()
    try:
        with BackgroundServer(build_asgi_app(runtime)) as server:
            yield runtime, server
    finally:
        runtime.stop()


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_slack_request_logs_under_its_request_id_and_answers_with_it(json_logs, served, signed):
    """Bolt's own lines for a signed /oncall carry the X-Request-ID the load balancer sent, and the answer echoes it."""
    _, server = served
    request = signed.slash_command("/oncall", "help", user_id="U0DEMO0001", channel_id="C0DEMOTEAM")
    response = httpx.post(f"{server.url}/slack/events", content=request.body.encode(),
                          headers={**request.headers_for_http(), "X-Request-ID": "lb-7f3a"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "lb-7f3a"
    tagged = [line for line in _lines(json_logs) if line.get("request_id") == "lb-7f3a"]
    assert any(line["logger"].startswith("slack_bolt") for line in tagged), json_logs.getvalue()[-2000:]
    other = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert other.headers["x-request-id"] != "bad id with spaces" and len(other.headers["x-request-id"]) == 16
    assert BOT_TOKEN not in json_logs.getvalue() and SIGNING_SECRET not in json_logs.getvalue()


def test_a_scheduled_job_logs_under_its_job_id(json_logs, served, fake_slack):
    """The outbox delivery of a queued message logs under `outbox:<id>` and a run id, in the scheduler's thread."""
    runtime, _ = served
    item = jobs.enqueue_call(dedupe_key="logs:1", method="chat.postMessage", payload={"channel": "C0DEMOANNOUNCE", "text": "hi"})
    fake_slack.wait_for("chat.postMessage", 1, timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = [line for line in _lines(json_logs) if line.get("job_id") == f"outbox:{item}"]
        if any("executed successfully" in line["message"] for line in runs):
            break
        time.sleep(0.05)
    assert runs and len({line["job_run"] for line in runs}) == 1
    assert all("request_id" not in line for line in runs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_socialops_serve_writes_only_json_lines_without_secrets(tmp_path, fake_slack, signed):
    """`socialops serve` with SOCIALOPS_LOG_FORMAT=json: every stderr line (uvicorn's too) parses, no secret in any."""
    port = _free_port()
    metrics_token = "metrics-9d8e7f6a5b4c3d2e1f"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "SOCIALOPS_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(ROOT), SOCIALOPS_LOG_FORMAT="json", LOG_LEVEL="DEBUG", PORT=str(port), HOST="127.0.0.1",
               SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.base_url,
               SOCIALOPS_METRICS_TOKEN=metrics_token, DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}")
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "socialops serve did not come up"
            time.sleep(0.2)
        request = signed.slash_command("/oncall", "help", user_id="U0DEMO0001", channel_id="C0DEMOTEAM")
        assert httpx.post(f"{url}/slack/events", content=request.body.encode(), headers=request.headers_for_http()).status_code == 200
        assert httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {metrics_token}"}).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    assert any(line.get("request_id") and line["logger"].startswith("slack_bolt") for line in lines)
    for secret in (BOT_TOKEN, SIGNING_SECRET, metrics_token):
        assert secret not in stderr
