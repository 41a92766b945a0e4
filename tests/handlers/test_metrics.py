"""GET /metrics: Prometheus text behind a bearer token, fed by real requests and real scheduler jobs."""

from __future__ import annotations

import time

import httpx
import pytest

from bot import jobs
from bot.app import create_runtime
from bot.server import BackgroundServer, build_asgi_app
from storage.session import Database, sqlite_url
from tests.conftest import make_settings

TOKEN = "metrics-test-token"


@pytest.fixture
def metered(fake_slack, tmp_path):
    runtime = create_runtime(make_settings(fake_slack, SOCIALOPS_METRICS_TOKEN=TOKEN),
                             database=Database.from_url(sqlite_url(tmp_path / "app.db")))
    runtime.start()
    try:
        with BackgroundServer(build_asgi_app(runtime)) as server:
            yield runtime, server
    finally:
        runtime.stop()


def _scrape(server) -> str:
    response = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in the exposition")


def test_metrics_need_the_bearer_token(metered):
    """No token or a wrong one is a 401 with a JSON error; the exposition never leaks without it."""
    _, server = metered
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.get(f"{server.url}/metrics", headers=headers)
        assert response.status_code == 401
        assert "SOCIALOPS_METRICS_TOKEN" in response.json()["error"]


def test_metrics_are_off_without_a_configured_token(server):
    """With SOCIALOPS_METRICS_TOKEN unset /metrics is a 404 saying how to turn it on."""
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 404
    assert "SOCIALOPS_METRICS_TOKEN" in response.json()["error"]


@pytest.fixture
def server(runtime):
    with BackgroundServer(build_asgi_app(runtime)) as running:
        yield running


def test_slack_requests_are_counted_and_timed_by_surface(metered, signed):
    """Two /oncall commands and one button press show as counters and ack-time histograms per surface."""
    _, server = metered
    for _ in range(2):
        request = signed.slash_command("/oncall", "help", user_id="U0DEMO0001", channel_id="C0DEMOTEAM")
        httpx.post(f"{server.url}/slack/events", content=request.body.encode(), headers=request.headers_for_http())
    text = _scrape(server)
    assert _value(text, 'socialops_slack_requests_total{surface="/oncall"}') == 2
    assert _value(text, 'socialops_ack_seconds_count{surface="/oncall"}') == 2
    assert _value(text, 'socialops_ack_seconds_bucket{le="3.0",surface="/oncall"}') == 2


def test_job_lateness_outbox_depth_and_leadership_are_exposed(metered, fake_slack):
    """A delivered outbox job is observed by kind, the outbox gauge counts it as sent, and this instance leads."""
    runtime, server = metered
    jobs.enqueue_call(dedupe_key="metrics:1", method="chat.postMessage",
                      payload={"channel": "C0DEMOANNOUNCE", "text": "hello"})
    fake_slack.wait_for("chat.postMessage", 1, timeout=10)
    deadline = time.monotonic() + 10
    while runtime.outbox.counts().get("sent", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    text = _scrape(server)
    assert _value(text, 'socialops_job_lateness_seconds_count{job="outbox"}') >= 1
    assert _value(text, 'socialops_outbox_items{status="sent"}') == 1
    assert _value(text, 'socialops_outbox_items{status="failed"}') == 0
    assert _value(text, "socialops_scheduler_leader") == 1
