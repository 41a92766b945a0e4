"""GET /metrics: Prometheus text behind a bearer token, fed by real requests and real scheduler jobs."""

from __future__ import annotations

import functools
import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import jobs, mentions
from bot.app import create_runtime
from bot.server import BackgroundServer, build_asgi_app
from storage.session import Database, sqlite_url
from tests.conftest import make_settings
from tests.handlers.test_crisis_flow import dms, make_team, on_call, slash, wait_until

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


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the scraped exposition, found by name and labels (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_pages_are_counted_by_method_and_step(metered, signed, fake_slack):
    """A declared SEV1's first page (a DM to the primary, step index 0) shows as one delivered dm page at step 0."""
    runtime, server = metered
    make_team(runtime.database, now=runtime.clock())
    primary = on_call(runtime, runtime.clock()).primary
    assert _sample(_scrape(server), "socialops_pages_total", method="dm", step="0", delivered="true") == 0
    slash(runtime, signed, "declare acme sev1 recall video", "U0DEMO0002")
    wait_until(lambda: dms(fake_slack, primary))
    wait_until(lambda: _sample(_scrape(server), "socialops_pages_total", method="dm", step="0", delivered="true") == 1)
    assert _sample(_scrape(server), "socialops_pages_total", method="dm", step="1", delivered="true") == 0  # not due yet


def test_mentions_ingested_rejected_and_refused_are_counted_by_reason(metered):
    """A webhook batch counts new, duplicate and rejected items (by reason); refused requests count by their reason."""
    runtime, server = metered
    store = runtime.deps.mentions
    now = runtime.clock()
    store.save_topic(workspace_id="T1", name="acme", keywords=["acme"], hashtags=[], now=now)
    token = mentions.new_token()
    store.add_source(name="tool", vendor="generic", workspace_id="T1", token_hash=mentions.hash_token(token), now=now)
    at = (now - timedelta(minutes=1)).isoformat()
    batch = [
        {"id": "1", "text": "acme is down", "created_at": at},
        {"id": "2", "text": "acme again", "created_at": at},
        {"id": "2", "text": "acme again", "created_at": at},  # duplicate inside the batch
        {"id": "3", "text": "nothing relevant", "created_at": at},  # matches no topic
        {"id": "4", "text": "acme", "created_at": "yesterday-ish"},  # not a time
        {"id": "5", "text": "acme", "created_at": at, "author_reach": -3},
    ]
    post = functools.partial(httpx.post, f"{server.url}/api/mentions", timeout=30)
    answer = post(json=batch, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202 and answer.json()["accepted"] == 2
    assert post(json=batch[:2], headers={"Authorization": f"Bearer {token}"}).json()["duplicate"] == 2  # re-delivered
    assert post(content=b"{not json", headers={"Authorization": f"Bearer {token}"}).status_code == 400
    assert post(json=batch, headers={"Authorization": "Bearer so_unknown"}).status_code == 401
    assert post(json=batch).status_code == 401
    text = _scrape(server)
    assert _sample(text, "socialops_mentions_ingested_total", via="webhook") == 2
    assert _sample(text, "socialops_mentions_duplicate_total", via="webhook") == 3
    assert _sample(text, "socialops_mentions_rejected_total", via="webhook", reason="no_topic") == 1
    assert _sample(text, "socialops_mentions_rejected_total", via="webhook", reason="bad_time") == 1
    assert _sample(text, "socialops_mentions_rejected_total", via="webhook", reason="bad_number") == 1
    for reason in ("malformed_json", "bad_token", "no_token"):
        assert _sample(text, "socialops_mention_requests_refused_total", via="webhook", reason=reason) == 1


def test_each_detection_pass_is_timed(metered):
    """Every pass, from the minute job or after a webhook batch, adds one observation to the duration histogram."""
    runtime, server = metered
    before = _sample(_scrape(server), "socialops_detection_pass_seconds_count")
    jobs.detect_spikes()
    jobs.detect_spikes()
    text = _scrape(server)
    assert _sample(text, "socialops_detection_pass_seconds_count") == before + 2
    assert _sample(text, "socialops_detection_pass_seconds_bucket", le="+Inf") == before + 2
    assert _sample(text, "socialops_detection_pass_seconds_sum") > 0


def test_listening_channel_posts_are_counted_as_slack_mentions(metered, signed):
    """A post in a listening channel counts as ingested via slack; one matching no topic as rejected no_topic."""
    runtime, server = metered
    store = runtime.deps.mentions
    now = runtime.clock()
    store.save_topic(workspace_id=signed.team_id, name="acme", keywords=["acme"], hashtags=[], now=now)
    store.set_listening_channel(channel_id="C0LISTEN01", workspace_id=signed.team_id, topic_id=None, now=now)
    for number, text in enumerate(("acme app is down", "nothing to see")):
        event = {"type": "message", "subtype": "bot_message", "bot_id": "B0KWATCH", "username": "KWatch",
                 "channel": "C0LISTEN01", "ts": f"{now.timestamp() + number:.6f}", "text": text}
        assert runtime.app.dispatch(signed.event(event, event_id=f"EvMetrics{number}").as_bolt_request()).status == 200
    text = _scrape(server)
    assert _sample(text, "socialops_mentions_ingested_total", via="slack") == 1
    assert _sample(text, "socialops_mentions_rejected_total", via="slack", reason="no_topic") == 1
