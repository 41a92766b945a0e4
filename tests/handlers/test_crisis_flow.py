"""Crises end to end: /crisis declare → card + DM → Acknowledge → Resolve modal; the escalation chain on an injected
clock (and across a restart); 200 concurrent Acknowledge presses over HTTP; a 429 on the card; a DM that fails."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from apscheduler.triggers.date import DateTrigger

from bot import jobs
from bot.app import create_runtime
from bot.blocks.crisis import RESOLVE_CALLBACK, CrisisActions
from bot.crisis import Status
from bot.escalation import Policy, PolicyStep, Target
from bot.flows.paging import Paging
from bot.rotation import ScheduleIndex
from bot.server import BackgroundServer, build_asgi_app
from storage.crises import STEP_LEASE, Crises
from storage.rotations import Rotations
from storage.session import Database, sqlite_url
from storage.tables import Team
from tests.conftest import make_settings
from tests.fakes.clock import Clock
from tests.fakes.waiting import wait_until

GIULIA, MARCUS, CHLOE, PRIYA, OLIVER = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004", "U0DEMO0005"  # giulia: admin
CRISIS_CHANNEL, GROUP = "C0DEMOCRISIS", "S0DEMOONCALL"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # week 0 Marcus/Chloe, week 1 Chloe/Priya, week 2 Priya/Marcus
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 3 a.m. in Rome, week 1: Chloe primary, Priya backup


def make_team(database: Database, *, now: datetime = EPOCH) -> int:
    team_id = Rotations(database).create_team(workspace_id="T0DEMO", name="social", tz="Europe/Rome", epoch=EPOCH, now=now,
                                              roster=[MARCUS, CHLOE, PRIYA], crisis_channel=CRISIS_CHANNEL)
    with database.session_scope() as session:
        session.get_one(Team, team_id).usergroup_id = GROUP
    return team_id


def on_call(runtime, at: datetime):
    rotation = Rotations(runtime.database).load_rotation("T0DEMO", "social")
    return ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(at)


def slash(runtime, signed, text, user, channel="C0DEMOTEAM"):
    response = runtime.app.dispatch(signed.slash_command("/crisis", text, user_id=user, channel_id=channel).as_bolt_request())
    assert response.status == 200
    return json.loads(response.body)


def press(runtime, signed, user, action, card, response_url=None):
    request = signed.block_action(user_id=user, action_id=action, value=str(crisis_id_of(card)), channel_id=CRISIS_CHANNEL,
                                  message_ts=card.response["ts"], response_url=response_url)
    response = runtime.app.dispatch(request.as_bolt_request())
    assert response.status == 200
    return request


def crisis_id_of(card) -> int:
    actions = next(b for b in card.json_arg("blocks") if b["type"] == "actions")
    return int(actions["elements"][0]["value"])


def channel_posts(fake_slack, channel=CRISIS_CHANNEL, *, top_level=True):
    return [c for c in fake_slack.calls("chat.postMessage")
            if c.args["channel"] == channel and not c.failed and (not top_level or "thread_ts" not in c.args)]


def dms(fake_slack, user=None):
    return [c for c in fake_slack.calls("chat.postMessage") if str(c.args["channel"]).startswith("D") and not c.failed
            and (user is None or c.args["channel"] == "D" + user[1:])]


def responses(fake_slack, name=None, count=1, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(fake_slack.responses(name)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake_slack.responses(name)


# --- with the real scheduler ----------------------------------------------------------------------


@pytest.fixture
def team(runtime):
    return make_team(runtime.database, now=runtime.clock())


def test_declared_crisis_posts_card_dms_primary_and_resolves_through_the_modal(runtime, signed, fake_slack, team):
    """Declare → card in the crisis channel + DM to the primary → Acknowledge updates the card → Resolve modal closes it."""
    primary = on_call(runtime, datetime.now(UTC)).primary
    body = slash(runtime, signed, "declare acme sev1 influencer video about the recall", MARCUS)
    assert "Declared #1 SEV1 acme" in body["text"]
    wait_until(lambda: channel_posts(fake_slack) and dms(fake_slack, primary))
    (card,) = channel_posts(fake_slack)
    assert "SEV1 crisis #1: acme" in card.args["text"]
    assert "influencer video" in json.dumps(card.json_arg("blocks"))
    (dm,) = dms(fake_slack, primary)
    assert f"<#{CRISIS_CHANNEL}>" in json.dumps(dm.json_arg("blocks"))
    wait_until(lambda: any(f"<@{primary}>" in c.args["text"] for c in channel_posts(fake_slack, top_level=False)))

    press(runtime, signed, primary, CrisisActions.acknowledge, card)
    wait_until(lambda: any(f"Acked by <@{primary}>" in c.args["text"] for c in fake_slack.calls("chat.update")))
    (answer,) = responses(fake_slack)
    assert "You acknowledged" in answer.body["text"] and f"<@{primary}>" not in answer.body["text"]
    # The thread names who declared and who acknowledged by their Slack name, without mentioning them again.
    name = next(u.name for u in fake_slack.workspace.people if u.id == primary)
    thread = lambda: [c.args["text"] for c in channel_posts(fake_slack, top_level=False)]  # noqa: E731
    wait_until(lambda: any("Acknowledged via button" in t and t.endswith(f" — {name}") for t in thread()))
    assert any("Declared (SEV1)." in t and t.endswith(" — marcus") for t in thread())
    assert not any("Acknowledged" in t and f"<@{primary}>" in t for t in thread())

    press(runtime, signed, primary, CrisisActions.resolve, card)
    (view,) = fake_slack.wait_for("views.open", 1)
    assert view.json_arg("view")["callback_id"] == RESOLVE_CALLBACK
    submitted = runtime.app.dispatch(signed.view_submission(
        user_id=primary, callback_id=RESOLVE_CALLBACK, values={"note": {"note": "Statement published"},
                                                                "real": {"real": {"type": "radio_buttons", "selected_option": {"value": "yes"}}}},
        private_metadata=view.json_arg("view")["private_metadata"]).as_bolt_request())
    assert submitted.status == 200
    wait_until(lambda: f"Resolved by <@{primary}>" in fake_slack.calls("chat.update")[-1].args["text"])
    assert all(b["type"] != "actions" for b in fake_slack.calls("chat.update")[-1].json_arg("blocks"))
    crisis = Crises(runtime.database).get_crisis(1)
    assert crisis.status is Status.RESOLVED and crisis.real is True and crisis.resolution_note == "Statement published"
    actions = [e.action for e in runtime.deps.audit.entries() if e.target == "crisis:1"]
    assert actions[0] == "crisis_declared" and "crisis_acknowledged" in actions and actions[-1] == "crisis_resolved"


def test_bystander_cannot_resolve_and_is_told_why(runtime, signed, fake_slack, team):
    """Someone neither on call, acknowledging nor admin pressing False alarm gets an ephemeral reason; nothing closes."""
    now = datetime.now(UTC)
    bystander = next(u for u in (MARCUS, CHLOE, PRIYA, OLIVER) if u not in (on_call(runtime, now).primary, on_call(runtime, now).backup))
    slash(runtime, signed, "declare acme", GIULIA)
    wait_until(lambda: channel_posts(fake_slack))
    (card,) = channel_posts(fake_slack)
    press(runtime, signed, bystander, CrisisActions.false_alarm, card)
    (answer,) = responses(fake_slack)
    assert "Only the person who acknowledged" in answer.body["text"]
    assert Crises(runtime.database).get_crisis(1).status is Status.OPEN


def test_crisis_commands_list_status_and_refuse_a_second_declare(runtime, signed, fake_slack, team):
    """`/crisis list` and `status` show the open crisis; declaring the same topic again names the open one."""
    slash(runtime, signed, "declare acme sev3", MARCUS)
    assert "#1 SEV3 acme" in slash(runtime, signed, "list", CHLOE)["text"]
    assert "#1 SEV3 acme" in slash(runtime, signed, "declare acme", CHLOE)["text"]
    wait_until(lambda: channel_posts(fake_slack))
    status = slash(runtime, signed, "status", CHLOE)
    assert "Timeline" in json.dumps(status["blocks"]) and "Declared" in json.dumps(status["blocks"])
    assert "ack <id>" in slash(runtime, signed, "help", CHLOE)["text"] + json.dumps(slash(runtime, signed, "help", CHLOE).get("blocks"))
    assert "not a crisis number" in slash(runtime, signed, "ack x", CHLOE)["text"]


def test_declare_with_an_unknown_severity_answers_usage_and_opens_nothing(runtime, signed, fake_slack, team):
    """`/crisis declare acme sev9 …` is answered with the usage; no crisis opens and nothing is posted."""
    body = slash(runtime, signed, "declare acme sev9 influencer video", MARCUS)
    assert body["response_type"] == "ephemeral" and "'sev9' is not a severity" in body["text"]
    assert "/crisis declare <topic> [sev1|sev2|sev3] [summary]" in body["text"]
    assert "No open crises" in slash(runtime, signed, "list", CHLOE)["text"]
    assert Crises(runtime.database).get_crisis(1) is None


def test_two_hundred_concurrent_acknowledge_presses_record_one_ack(runtime, signed, fake_slack, team):
    """200 people press Acknowledge at once over HTTP: one acknowledgement, and every presser gets an answer."""
    slash(runtime, signed, "declare acme sev1", MARCUS)
    wait_until(lambda: channel_posts(fake_slack))
    (card,) = channel_posts(fake_slack)
    crisis_id = crisis_id_of(card)
    pressers = [f"U0RACE{i:04d}" for i in range(200)]
    statuses: list[int] = []
    with BackgroundServer(build_asgi_app(runtime)) as server:
        barrier = threading.Barrier(len(pressers))

        def hit(user: str) -> None:
            request = signed.block_action(user_id=user, action_id=CrisisActions.acknowledge, value=str(crisis_id), channel_id=CRISIS_CHANNEL,
                                          message_ts=card.response["ts"], response_url=fake_slack.response_url(user))
            barrier.wait()
            statuses.append(httpx.post(f"{server.url}/slack/events", content=request.body.encode(), headers=request.headers_for_http(),
                                       timeout=60).status_code)

        threads = [threading.Thread(target=hit, args=(u,)) for u in pressers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 200
    crisis = Crises(runtime.database).get_crisis(crisis_id)
    assert crisis.acked_by in pressers
    answers = {r.name: r.body["text"] for r in responses(fake_slack, None, 200, timeout=30)}
    assert set(answers) == set(pressers)
    assert sum("You acknowledged" in text for text in answers.values()) == 1
    assert all(f"Already acknowledged by <@{crisis.acked_by}>" in text for name, text in answers.items() if name != crisis.acked_by)
    assert len([e for e in Crises(runtime.database).timeline(crisis_id) if e.kind.value == "ack"]) == 1
    assert len(runtime.deps.audit.entries(action="crisis_acknowledged")) == 1


def test_rate_limited_card_is_delivered_once_after_retry_after(runtime, signed, fake_slack, team):
    """A 429 on the card's chat.postMessage is retried after Retry-After; the card appears exactly once."""
    fake_slack.fail("chat.postMessage", status=429, retry_after=0)
    slash(runtime, signed, "declare acme sev2", MARCUS)
    wait_until(lambda: channel_posts(fake_slack), timeout=10)
    time.sleep(0.3)
    assert len(channel_posts(fake_slack)) == 1
    assert [c.status for c in fake_slack.calls("chat.postMessage")][:2] == [429, 200]


def test_undeliverable_dm_falls_back_to_the_channel_and_tells_the_admins(runtime, signed, fake_slack, team):
    """When the primary cannot be DM'd, the channel gets the page and the admins hear about it; the page is recorded undelivered."""
    primary = on_call(runtime, datetime.now(UTC)).primary
    fake_slack.fail("conversations.open", error="user_disabled")
    slash(runtime, signed, "declare acme sev2", MARCUS)
    wait_until(lambda: any("could not DM you" in c.args["text"] for c in channel_posts(fake_slack)), timeout=10)
    wait_until(lambda: any("could not reach" in c.args["text"] for c in dms(fake_slack, GIULIA)), timeout=10)
    pages = [e for e in Crises(runtime.database).timeline(1) if e.kind.value == "page" and e.target == primary]
    # The channel post replaces the failed DM: recorded apart so the page is counted once (bot.crisis.counts_as_person_page).
    assert [(p.method, p.delivered) for p in pages] == [("dm", False), ("channel_fallback", True)]
    assert Crises(runtime.database).get_crisis(1).paged.count(primary) == 1


# --- on an injected clock, running the due jobs by hand -------------------------------------------------


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def stopped_runtime(fake_slack, tmp_path, clock):
    """A runtime whose jobs are bound but whose scheduler never starts: tests run the due jobs themselves."""
    built = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(tmp_path / "c.db")))
    built.bind_jobs()
    make_team(built.database)
    yield built
    built.stop()


def advance(runtime, clock, until):
    """Move the clock to `until`, running each date job at its run date; return (when, job id) of what ran."""
    ran = []
    while True:
        due = sorted((job.trigger.run_date, job.id) for job in runtime.scheduler.get_jobs() if isinstance(job.trigger, DateTrigger))
        if not due or due[0][0] > until:
            break
        clock.now = max(clock.now, due[0][0])
        job = runtime.scheduler.get_job(due[0][1])
        runtime.scheduler.remove_job(job.id)
        job.func(*job.args)
        ran.append((clock.now, job.id))
    clock.now = until
    return ran


def declare_and_settle(runtime, signed, fake_slack, text="declare acme sev1"):
    slash(runtime, signed, text, MARCUS)
    wait_until(lambda: Crises(runtime.database).get_crisis(1) is not None and Crises(runtime.database).get_crisis(1).message_ts)
    wait_until(lambda: dms(fake_slack, CHLOE))
    wait_until(lambda: any("needs an acknowledgement" in c.args["text"] for c in channel_posts(fake_slack, top_level=False)))
    wait_until(lambda: runtime.scheduler.get_job("escalate:1:7") is not None)  # the chain's date jobs are added after the first page


def test_unacknowledged_crisis_escalates_at_each_step_time(stopped_runtime, signed, fake_slack, clock):
    """No ack: primary at once, backup at +5 min, the on-call group at +15, the admins at +30, then the chain repeats."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    ran = advance(stopped_runtime, clock, T0 + timedelta(minutes=31))
    when = {job_id: at for at, job_id in ran if job_id.startswith("escalate:")}
    assert when == {"escalate:1:1": T0 + timedelta(minutes=5), "escalate:1:2": T0 + timedelta(minutes=15),
                    "escalate:1:3": T0 + timedelta(minutes=30)}
    assert len(dms(fake_slack, CHLOE)) == 1 and len(dms(fake_slack, PRIYA)) == 1
    assert any(f"<!subteam^{GROUP}>" in c.args["text"] for c in channel_posts(fake_slack, top_level=False))
    assert any("You are being paged" in c.args["text"] for c in dms(fake_slack, GIULIA))
    pages = [(e.target, e.method) for e in Crises(stopped_runtime.database).timeline(1) if e.kind.value == "page"]
    assert pages == [(CHLOE, "dm"), (PRIYA, "dm"), (f"<!subteam^{GROUP}>", "channel"), (GIULIA, "dm")]
    advance(stopped_runtime, clock, T0 + timedelta(minutes=50))  # second round: primary again at +45
    assert len(dms(fake_slack, CHLOE)) == 2


def test_acknowledgement_stops_the_chain_and_still_on_it_follows(stopped_runtime, signed, fake_slack, clock):
    """After the primary acks at +3 min nobody else is paged; 30 min without an update brings "Still on it?"."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    clock.now = T0 + timedelta(minutes=3)
    (card,) = channel_posts(fake_slack)
    press(stopped_runtime, signed, CHLOE, CrisisActions.acknowledge, card)
    wait_until(lambda: stopped_runtime.scheduler.get_job("still-on-it:1") is not None)
    advance(stopped_runtime, clock, T0 + timedelta(minutes=34))
    assert dms(fake_slack, PRIYA) == [] and dms(fake_slack, GIULIA) == []
    (question,) = [c for c in dms(fake_slack, CHLOE) if "Still on it?" in c.args["text"]]
    # Answering on the card updates the question in place too: its buttons never show a stale state.
    press(stopped_runtime, signed, CHLOE, CrisisActions.responding, card)
    wait_until(lambda: any(c.args["ts"] == question.response["ts"] and c.args["channel"] == question.response["channel"]
                           for c in fake_slack.calls("chat.update") if not c.failed))
    # Steps 1-3 came due after the ack and were closed as skipped; the second round still waits (and will skip too).
    assert min(s.index for s in Crises(stopped_runtime.database).pending_steps(1)) == 4
    crisis = Crises(stopped_runtime.database).get_crisis(1)
    assert crisis.time_to_ack == timedelta(minutes=3)


def test_still_on_it_sent_late_through_the_outbox_is_kept_current_like_any_copy(stopped_runtime, signed, fake_slack, clock):
    """The question's DM fails (Slack 503, retries exhausted) and goes out through the outbox; once delivered it is a
    card copy, so answering on the card updates it in place too."""
    # SEV3: a SEV1's stakeholder reminder would be due at the same minute and take the planned failures.
    declare_and_settle(stopped_runtime, signed, fake_slack, text="declare acme sev3")
    clock.now = T0 + timedelta(minutes=3)
    (card,) = channel_posts(fake_slack)
    press(stopped_runtime, signed, CHLOE, CrisisActions.acknowledge, card)
    wait_until(lambda: stopped_runtime.scheduler.get_job("still-on-it:1") is not None)
    advance(stopped_runtime, clock, T0 + timedelta(minutes=32))
    fake_slack.fail("chat.postMessage", status=503, times=3)  # the first try and both of the client's retries
    advance(stopped_runtime, clock, T0 + timedelta(minutes=34))
    (question,) = [c for c in dms(fake_slack, CHLOE) if "Still on it?" in c.args["text"] and not c.failed]
    failed = [c for c in fake_slack.calls("chat.postMessage") if c.failed and "Still on it?" in c.args["text"]]
    assert len(failed) == 3 and stopped_runtime.outbox.due(clock.now) == []  # failed thrice, then delivered by the outbox
    press(stopped_runtime, signed, CHLOE, CrisisActions.responding, card)
    wait_until(lambda: any(c.args["ts"] == question.response["ts"] and c.args["channel"] == question.response["channel"]
                           for c in fake_slack.calls("chat.update") if not c.failed))


def test_escalate_now_pages_the_backup_at_once_and_shifts_later_steps(stopped_runtime, signed, fake_slack, clock):
    """Escalate now at +1 min pages the backup then; the group step follows 10 min later, not at +15."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    clock.now = T0 + timedelta(minutes=1)
    (card,) = channel_posts(fake_slack)
    press(stopped_runtime, signed, MARCUS, CrisisActions.escalate, card)
    wait_until(lambda: dms(fake_slack, PRIYA))
    ran = advance(stopped_runtime, clock, T0 + timedelta(minutes=12))
    assert (T0 + timedelta(minutes=11), "escalate:1:2") in ran
    assert len(dms(fake_slack, PRIYA)) == 1


def test_restart_mid_chain_resumes_each_step_once(fake_slack, signed, tmp_path):
    """The bot dies after the first page; a new process at +6 min pages the backup once via the sweep, then +15 on time."""
    clock = Clock(T0)
    path = sqlite_url(tmp_path / "restart.db")
    first = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(path))
    first.bind_jobs()
    make_team(first.database)
    declare_and_settle(first, signed, fake_slack)
    first.stop()  # like kill -9 for our purposes: the pending date jobs never ran

    clock.now = T0 + timedelta(minutes=6)
    second = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(path))
    second.bind_jobs()
    try:
        jobs.sweep_crises()
        jobs.sweep_crises()
        jobs.run_escalation_step(1, 1)  # a stale date job firing too: still once
        assert len(dms(fake_slack, PRIYA)) == 1
        clock.now = T0 + timedelta(minutes=15)
        jobs.sweep_crises()
        assert any(f"<!subteam^{GROUP}>" in c.args["text"] for c in channel_posts(fake_slack, top_level=False))
        ran = [(s.index, s.due_at) for s in Crises(second.database).steps(1)]
        assert ran[:3] == [(0, T0), (1, T0 + timedelta(minutes=5)), (2, T0 + timedelta(minutes=15))]
    finally:
        second.stop()


class RunnerKilled(Exception):
    """The process running a step dies (kill -9) between two of its pages."""


def test_a_step_interrupted_after_paging_one_of_two_people_reruns_and_pages_only_the_other(stopped_runtime, signed, fake_slack,
                                                                                          clock, monkeypatch):
    """Step 1 pages primary and backup; its runner dies after Chloe's DM. While the lease holds nobody reruns it; once
    it ran out the sweep does, once: Priya is paged, Chloe is not paged again, and the step ends "paged"."""
    policy = Policy(steps=(PolicyStep(Target.GROUP, timedelta(minutes=5)), PolicyStep(Target.PRIMARY_AND_BACKUP, timedelta(minutes=5))),
                    repeat=1)
    Crises(stopped_runtime.database).save_policy(team_id=1, policy=policy, user_id=GIULIA, now=T0)
    slash(stopped_runtime, signed, "declare acme sev1", MARCUS)
    wait_until(lambda: stopped_runtime.scheduler.get_job("escalate:1:1") is not None)
    page_by_dm, sent = Paging.page_by_dm, []

    def dies_after_the_first_dm(self, crisis, user_id, *, step, now):
        if sent:
            raise RunnerKilled
        sent.append(user_id)
        return page_by_dm(self, crisis, user_id, step=step, now=now)

    with monkeypatch.context() as patch:
        patch.setattr(Paging, "page_by_dm", dies_after_the_first_dm)
        with pytest.raises(RunnerKilled):
            advance(stopped_runtime, clock, T0 + timedelta(minutes=5))
    assert sent == [CHLOE] and len(dms(fake_slack, CHLOE)) == 1 and dms(fake_slack, PRIYA) == []
    clock.now = T0 + timedelta(minutes=5) + STEP_LEASE - timedelta(seconds=1)
    jobs.sweep_crises()  # the lease still holds: its runner may be alive, waiting out a 429
    assert dms(fake_slack, PRIYA) == []
    clock.now = T0 + timedelta(minutes=5) + STEP_LEASE
    jobs.sweep_crises()
    jobs.sweep_crises()
    jobs.run_escalation_step(1, 1)  # the date job of another instance firing late: still once
    assert len(dms(fake_slack, CHLOE)) == 1 and len(dms(fake_slack, PRIYA)) == 1
    pages = [(e.target, e.method, e.detail["step"]) for e in Crises(stopped_runtime.database).timeline(1) if e.kind.value == "page"]
    assert pages == [(f"<!subteam^{GROUP}>", "channel", 0), (CHLOE, "dm", 1), (PRIYA, "dm", 1)]
    assert Crises(stopped_runtime.database).pending_steps(1, now=clock.now + timedelta(days=1)) == []
    assert len(channel_posts(fake_slack)) == 1  # the card, posted by step 0 only


def test_stepping_away_sends_new_pages_to_the_backup(stopped_runtime, signed, fake_slack, clock):
    """The primary steps away for 60 minutes: a crisis declared meanwhile pages the backup first."""
    assert "go to the backup" in slash(stopped_runtime, signed, "away 60", CHLOE)["text"]
    assert "Only the primary" in slash(stopped_runtime, signed, "away 60", PRIYA)["text"]
    slash(stopped_runtime, signed, "declare acme sev2", MARCUS)
    wait_until(lambda: dms(fake_slack, PRIYA))
    assert dms(fake_slack, CHLOE) == []


# --- detection ---------------------------------------------------------------------------------------


def seed_counts(database, topic_id, start, minutes, negative_at):
    """Store per-minute counters directly: `negative_at(i)` negatives out of 3x as many mentions in minute i."""
    from storage.tables import MentionCount

    with database.session_scope() as session:
        for i in range(minutes):
            negative = negative_at(i)
            session.add(MentionCount(topic_id=topic_id, minute=start + timedelta(minutes=i), total=3 * negative + 5, negative=negative,
                                     reach_negative=float(negative)))


def test_spike_in_a_watched_topic_opens_a_detected_crisis_once(stopped_runtime, fake_slack, clock):
    """Two calm days then a burst of negative mentions: the minute job opens one SEV crisis with the card's numbers and pages."""
    import random

    from storage.mentions import Mentions

    rng = random.Random(7)
    topic = Mentions(stopped_runtime.database).save_topic(workspace_id="T0DEMO", name="acme", keywords=["acme"], hashtags=[], now=T0)
    Crises(stopped_runtime.database).watch_topic(topic_id=topic.id, team_id=1, now=T0)
    calm = 2 * 24 * 60
    start = T0 - timedelta(minutes=calm)
    seed_counts(stopped_runtime.database, topic.id, start, calm, lambda i: rng.choice((0, 0, 1, 1, 2)))
    clock.now = T0 + timedelta(seconds=5)
    jobs.detect_spikes()  # learns the two calm days: nothing opens
    assert Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False) == []
    seed_counts(stopped_runtime.database, topic.id, T0, 4, lambda i: 60)
    clock.now = T0 + timedelta(minutes=4, seconds=5)
    jobs.detect_spikes()
    jobs.detect_spikes()  # a second pass over the same minutes does nothing more
    (opened,) = Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)
    assert opened.origin == "detected" and opened.topic == "acme" and opened.stats.negative >= 200
    assert len(channel_posts(fake_slack)) == 1 and len(dms(fake_slack, CHLOE)) == 1
    jobs.upload_crisis_chart(opened.id)
    jobs.upload_crisis_chart(opened.id)  # once
    (chart,) = fake_slack.completed_files()
    assert fake_slack.calls("files.getUploadURLExternal") and not fake_slack.calls("files.upload")
    assert next(iter(fake_slack.uploaded_files.values())).startswith(b"\x89PNG")


def test_only_admins_choose_which_team_a_topic_pages(runtime, signed, team):
    """`/crisis watch acme` maps the topic to the team for admins and explains the refusal to others."""
    from storage.mentions import Mentions

    topic = Mentions(runtime.database).save_topic(workspace_id="T0DEMO", name="acme", keywords=["acme"], hashtags=[], now=T0)
    assert "Only admins" in slash(runtime, signed, "watch acme", MARCUS)["text"]
    assert "now page *social*" in slash(runtime, signed, "watch acme", GIULIA)["text"]
    assert Crises(runtime.database).team_for_topic(topic.id) == team


def test_spike_batch_at_the_webhook_pages_within_seconds(runtime, fake_slack, team):
    """A learned topic gets a burst of negative mentions through the webhook: the card is posted without waiting for the minute job."""
    import random

    from bot import mentions
    from storage.mentions import Mentions

    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)
    store = Mentions(runtime.database)
    topic = store.save_topic(workspace_id="T0DEMO", name="acme", keywords=["acme"], hashtags=[], now=now)
    Crises(runtime.database).watch_topic(topic_id=topic.id, team_id=team, now=now)
    rng = random.Random(3)
    seed_counts(runtime.database, topic.id, minute - timedelta(days=2), 2 * 24 * 60, lambda i: rng.choice((0, 0, 1, 1, 2)))
    jobs.detect_spikes()
    assert channel_posts(fake_slack) == []
    token = mentions.new_token()
    store.add_source(name="tool", vendor="generic", workspace_id="T0DEMO", token_hash=mentions.hash_token(token), now=now,
                     default_topic_id=topic.id)
    rows = [{"id": f"spike-{i}", "text": "acme is down again, worst service ever", "language": "en", "author_reach": 1000,
             "created_at": datetime.now(UTC).isoformat()} for i in range(80)]
    with BackgroundServer(build_asgi_app(runtime)) as server:
        started = time.monotonic()
        posted = httpx.post(f"{server.url}/api/mentions", json=rows, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert posted.status_code == 202, posted.text
        wait_until(lambda: channel_posts(fake_slack), timeout=10)
        assert time.monotonic() - started < 5
    (card,) = channel_posts(fake_slack)
    assert "crisis #1: acme" in card.args["text"] and "(detected)" in json.dumps(card.json_arg("blocks"))


def seed_minute(database, topic_id, minute, *, total, negative):
    """Store one minute's counter as the ingest path would."""
    from storage.tables import MentionCount

    with database.session_scope() as session:
        session.add(MentionCount(topic_id=topic_id, minute=minute, total=total, negative=negative, reach_negative=float(negative)))


def _calm_watched_topic(runtime, clock):
    """A watched topic with two quiet days of counts (0-1 a minute), its detector run up to T0."""
    import random

    from storage.mentions import Mentions

    rng = random.Random(11)
    topic = Mentions(runtime.database).save_topic(workspace_id="T0DEMO", name="acme", keywords=["acme"], hashtags=[], now=T0)
    Crises(runtime.database).watch_topic(topic_id=topic.id, team_id=1, now=T0)
    calm = 2 * 24 * 60
    seed_counts(runtime.database, topic.id, T0 - timedelta(minutes=calm), calm, lambda i: rng.choice((0, 0, 0, 1)))
    clock.now = T0
    jobs.detect_spikes()
    return topic


@pytest.mark.parametrize("pass_at", [timedelta(minutes=1, seconds=5), timedelta(seconds=30)], ids=["whole minute", "minute still filling"])
def test_card_shows_the_counts_the_detector_decided_on(stopped_runtime, fake_slack, clock, pass_at):
    """400 mentions at 90 % negative in one minute after quiet days: the card says 360+ negative against the detector's baseline."""
    topic = _calm_watched_topic(stopped_runtime, clock)
    seed_minute(stopped_runtime.database, topic.id, T0, total=400, negative=360)
    clock.now = T0 + pass_at
    jobs.detect_spikes()
    (opened,) = Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)
    stats = opened.stats
    calm_negatives = 15  # at most one a minute in the 14 calm minutes before the spike
    assert 360 <= stats.negative <= 360 + calm_negatives
    assert 0.7 <= stats.negative_share <= 0.9  # 360 of 400, plus the calm minutes (5 + 3x negatives each)
    # The baseline is the detector's expectation over the same 15 minutes: a few calm mentions, not zero.
    assert 0.5 <= stats.baseline <= calm_negatives
    assert stats.series[-1] == 360


def test_card_follows_a_spike_that_lands_in_batches(stopped_runtime, fake_slack, clock):
    """The first batch of a 400-mention minute opens the crisis; the card then shows the whole minute the detector saw."""
    from sqlmodel import select

    from storage.tables import MentionCount

    topic = _calm_watched_topic(stopped_runtime, clock)
    seed_minute(stopped_runtime.database, topic.id, T0, total=60, negative=54)
    clock.now = T0 + timedelta(seconds=10)
    jobs.detect_spikes()  # the first batch is enough to open
    (opened,) = Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)
    assert 54 <= opened.stats.negative < 70
    with stopped_runtime.database.session_scope() as session:
        row = session.exec(select(MentionCount).where(MentionCount.topic_id == topic.id, MentionCount.minute == T0)).one()
        row.total, row.negative, row.reach_negative = 400, 360, 360.0
    clock.now = T0 + timedelta(minutes=1, seconds=5)
    jobs.detect_spikes()
    (grown,) = Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)
    assert 360 <= grown.stats.negative <= 375 and grown.stats.series[-1] == 360
    assert 0.7 <= grown.stats.negative_share <= 0.9
    card_text = json.dumps(fake_slack.calls("chat.update")[-1].json_arg("blocks")) if fake_slack.calls("chat.update") else ""
    assert str(grown.stats.negative) in card_text
