"""HTTP mode end to end: signed requests over real HTTP to uvicorn, signature checks, health, URL verification."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bot.server import BackgroundServer, build_asgi_app


@pytest.fixture
def server(runtime):
    with BackgroundServer(build_asgi_app(runtime)) as running:
        yield running


def post(server, signed_request, headers=None):
    return httpx.post(f"{server.url}/slack/events", content=signed_request.body.encode(),
                      headers=headers if headers is not None else signed_request.headers_for_http(), timeout=10)


def test_oncall_help_is_answered_over_signed_http(server, signed, fake_slack):
    """A signed `/oncall help` gets 200 with the help as an ephemeral reply."""
    response = post(server, signed.slash_command("/oncall", "help", user_id="U0DEMO0001", channel_id="C0DEMOTEAM"))
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/oncall help" in body["text"]
    assert any(block["type"] == "header" for block in body["blocks"])


def test_malformed_command_gets_ephemeral_usage(server, signed):
    """An unknown subcommand is answered with usage, not an error."""
    response = post(server, signed.slash_command("/oncall", "frobnicate now", user_id="U0DEMO0001", channel_id="C0DEMOTEAM"))
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "frobnicate" in response.json()["text"] and "/oncall help" in response.json()["text"]


@pytest.mark.parametrize("problem", ["wrong", "missing", "stale", "future"])
def test_bad_signatures_get_401_and_change_nothing(server, signed, fake_slack, runtime, problem):
    """Wrong, missing, or more-than-5-minutes-off signatures are refused before any handler runs."""
    event = {"type": "app_home_opened", "user": "U0DEMO0001", "channel": "D1", "tab": "home", "event_ts": "1"}
    now = int(time.time())
    request = {
        "wrong": lambda: signed.event(event, event_id="EvBad", signature="v0=" + "0" * 64),
        "missing": lambda: signed.event(event, event_id="EvBad").without("X-Slack-Signature", "X-Slack-Request-Timestamp"),
        # A minute past Slack's 5-minute window each way: a second's delay before Bolt reads its clock cannot
        # bring a "future" stamp back inside (now + 301 did, once, on a loaded CI run).
        "stale": lambda: signed.event(event, event_id="EvBad", timestamp=now - 360),
        "future": lambda: signed.event(event, event_id="EvBad", timestamp=now + 360),
    }[problem]()
    response = post(server, request)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    time.sleep(0.3)
    assert fake_slack.calls("views.publish") == []
    # The refused delivery never reached the dedupe middleware, so its id is still unclaimed.
    assert runtime.deps.events.claim("EvBad", at=runtime.clock())


def test_url_verification_echoes_the_challenge(server, signed):
    """Slack's URL check gets its challenge back."""
    response = post(server, signed.url_verification("abc123"))
    assert response.status_code == 200 and response.json() == {"challenge": "abc123"}


def test_unknown_events_do_not_crash(server, signed):
    """An event nobody listens to is a 404 'unhandled request', not a 500."""
    response = post(server, signed.event({"type": "reaction_added", "user": "U0DEMO0001", "event_ts": "1"}, event_id="EvUnknown"))
    assert response.status_code == 404


def test_healthz_checks_the_database(server, runtime):
    """/healthz answers 200 while the database answers, 503 when it does not."""
    assert httpx.get(f"{server.url}/healthz").json()["ok"] is True
    runtime.database.engine.dispose()
    original = runtime.database.is_healthy
    runtime.database.is_healthy = lambda: False
    try:
        response = httpx.get(f"{server.url}/healthz")
    finally:
        runtime.database.is_healthy = original
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_healthz_says_whether_this_instance_leads_the_scheduler(server, runtime, fake_slack, tmp_path):
    """The only instance leads; a second runtime on the same database file reports standby and is still healthy."""
    from bot.app import create_runtime
    from storage.session import Database
    from tests.conftest import make_settings

    assert httpx.get(f"{server.url}/healthz").json()["scheduler"] == "leader"
    second = create_runtime(make_settings(fake_slack), database=Database.from_url(str(runtime.database.engine.url)))
    second.start()
    try:
        with BackgroundServer(build_asgi_app(second)) as standby_server:
            response = httpx.get(f"{standby_server.url}/healthz")
    finally:
        second.stop()
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "scheduler": "standby", "overdue_escalation_steps": 0}


def test_slash_command_ack_stays_well_inside_three_seconds(server, signed):
    """The help ack returns long before Slack's 3-second deadline (process_before_response is on)."""
    started = time.monotonic()
    response = post(server, signed.slash_command("/oncall", "", user_id="U0DEMO0001", channel_id="C0DEMOTEAM"))
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    assert json.loads(response.text)["text"]


def test_ssl_check_is_answered_without_side_effects(server, signed, fake_slack):
    """Slack's ssl_check ping gets 200 and touches nothing."""
    response = post(server, signed.ssl_check())
    assert response.status_code == 200
    assert fake_slack.calls() == []



def test_serve_freezes_the_startup_heap(fake_slack, tmp_path, monkeypatch):
    """HTTP mode freezes what start-up built, so full collections don't rescan it while requests wait."""
    import gc

    import uvicorn

    from bot.app import create_runtime
    from bot import server as server_module
    from storage.session import Database, sqlite_url
    from tests.conftest import make_settings

    built = create_runtime(make_settings(fake_slack), database=Database.from_url(sqlite_url(tmp_path / "app.db")))
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kwargs: seen.setdefault("frozen", gc.get_freeze_count()))
    gc.unfreeze()
    try:
        server_module.serve(built)  # returns when (the stand-in for) uvicorn returns, and stops the runtime
    finally:
        gc.unfreeze()
    assert seen["frozen"] > 10_000  # the runtime's modules and objects, not a handful


def test_healthz_is_503_when_the_scheduler_thread_died(server, runtime):
    """A scheduler pass that raises ends the thread: /healthz then answers 503 with "scheduler": "dead"."""
    store = runtime.scheduler._jobstores["default"]

    def broken_next_run_time():
        raise RuntimeError("job store failed outside APScheduler's retry")

    store.get_next_run_time = broken_next_run_time
    runtime.scheduler.wakeup()
    deadline = time.monotonic() + 10
    while runtime.scheduler_state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": "ok", "scheduler": "dead", "overdue_escalation_steps": 0}


def test_healthz_is_503_while_an_escalation_step_is_more_than_a_minute_late(server, runtime):
    """Paging that stopped: a step two minutes past due (no scheduler ran it) fails the health check, naming it."""
    from datetime import timedelta

    from bot.crisis import NewCrisis
    from bot.escalation import DEFAULT_POLICY, plan_chain
    from bot.spikes import Severity

    runtime.scheduler.pause()  # as if no instance ran the scheduler
    team_id = runtime.deps.rotations.create_team(workspace_id="T1", name="health", tz="Europe/Rome", epoch=runtime.clock(),
                                                 now=runtime.clock(), roster=["UP", "UB"], crisis_channel="C1")
    opened = runtime.clock() - timedelta(minutes=2)
    runtime.deps.crises.create_crisis(NewCrisis(
        team_id=team_id, workspace_id="T1", topic="late", severity=Severity.SEV2, summary="late", origin="declared",
        declared_by="UX", channel="C1", opened_at=opened, steps=tuple(plan_chain(DEFAULT_POLICY, opened))[:1]))
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert response.json()["overdue_escalation_steps"] == 1


def test_healthz_counts_a_step_whose_runner_died_mid_step_as_overdue(server, runtime):
    """A step claimed ten minutes ago and never finished (its runner was killed, no sweep reran it) is overdue; a step
    claimed just now is running, not late; once finished neither counts."""
    from datetime import timedelta

    from bot.crisis import NewCrisis
    from bot.escalation import DEFAULT_POLICY, plan_chain
    from bot.spikes import Severity

    runtime.scheduler.pause()  # as if no instance ran the scheduler
    team_id = runtime.deps.rotations.create_team(workspace_id="T1", name="health", tz="Europe/Rome", epoch=runtime.clock(),
                                                 now=runtime.clock(), roster=["UP", "UB"], crisis_channel="C1")
    now = runtime.clock()
    opened = now - timedelta(minutes=10)
    claims = {}
    for topic, claimed_at in (("died", opened), ("running", now)):
        crisis = runtime.deps.crises.create_crisis(NewCrisis(
            team_id=team_id, workspace_id="T1", topic=topic, severity=Severity.SEV2, summary=topic, origin="declared",
            declared_by="UX", channel="C1", opened_at=opened, steps=tuple(plan_chain(DEFAULT_POLICY, opened))[:1]))
        assert runtime.deps.crises.claim_step(crisis_id=crisis.id, step=0, at=claimed_at)
        claims[topic] = (crisis.id, claimed_at)
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert response.json()["overdue_escalation_steps"] == 1
    for crisis_id, claimed_at in claims.values():
        assert runtime.deps.crises.finish_step(crisis_id=crisis_id, step=0, claimed_at=claimed_at, outcome="paged")
    assert httpx.get(f"{server.url}/healthz").json()["overdue_escalation_steps"] == 0
