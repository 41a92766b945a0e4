"""Crisis repository on SQLite and PostgreSQL: round-trips, one open crisis per topic, conditional ack/close/step claims."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.crisis import CrisisEvent, EventKind, NewCrisis, SpikeStats, Status
from bot.escalation import DEFAULT_POLICY, PlannedStep, Target, parse_policy, plan_chain
from bot.spikes import Severity
from storage import migrate
from storage.crises import STEP_LEASE, Crises
from storage.mentions import Mentions
from storage.rotations import Rotations

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def crises(database):
    migrate.upgrade(database.engine)
    return Crises(database)


@pytest.fixture
def team_id(database, crises):
    return Rotations(database).create_team(workspace_id="T1", name="social", tz="Europe/Rome", epoch=T0, now=T0, roster=["UP", "UB"],
                                           crisis_channel="C1")


def new(team_id, topic="acme", **extra):
    fields = dict(team_id=team_id, workspace_id="T1", topic=topic, severity=Severity.SEV2, summary="video", origin="declared",
                  declared_by="UX", channel="C1", opened_at=T0, steps=tuple(plan_chain(DEFAULT_POLICY, T0)))
    return NewCrisis(**(fields | extra))


def test_crisis_round_trips_with_stats_steps_and_timeline(crises, team_id):
    """What is stored comes back as a Crisis with its stats, eight steps and ordered timeline (aware UTC)."""
    stats = SpikeStats(negative=40, baseline=3.0, negative_share=0.6, series=(1.0, 9.0), top_terms=("#fail",))
    created = crises.create_crisis(new(team_id, stats=stats))
    assert created.team_name == "social" and created.stats == stats and created.opened_at == T0
    assert [s.target for s in crises.steps(created.id)][:4] == [Target.PRIMARY, Target.BACKUP, Target.GROUP, Target.MANAGERS]
    crises.record_event(crisis_id=created.id, event=CrisisEvent(at=T0, kind=EventKind.PAGE, actor="system", via="scheduler", target="UP",
                                                                method="dm", delivered=True))
    crises.record_event(crisis_id=created.id, event=CrisisEvent(at=T0, kind=EventKind.PAGE, actor="system", via="scheduler", target="UB",
                                                                method="dm", delivered=False))
    assert [(e.target, e.delivered) for e in crises.timeline(created.id)] == [("UP", True), ("UB", False)]
    assert crises.get_crisis(created.id).paged == ("UP", "UB")


def test_one_open_crisis_per_topic(crises, team_id):
    """A second crisis on an open topic (any case) is refused until the first closes."""
    first = crises.create_crisis(new(team_id))
    assert crises.create_crisis(new(team_id, topic="ACME")) is None
    assert crises.close_crisis(crisis_id=first.id, user_id="UP", at=T0, status=Status.RESOLVED, note="ok", real=True)
    assert crises.create_crisis(new(team_id)) is not None
    assert [c.title for c in crises.open_crises(team_id)] == ["#2 SEV2 acme"]


def test_concurrent_acks_and_step_claims_have_one_winner(crises, team_id):
    """Twenty simultaneous acks and claims of one step: exactly one of each succeeds."""
    created = crises.create_crisis(new(team_id))
    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(lambda i: crises.record_ack(crisis_id=created.id, user_id=f"U{i}", at=T0, via="button"), range(20)))
        claims = list(pool.map(lambda i: crises.claim_step(crisis_id=created.id, step=1, at=T0), range(20)))
    assert acks.count(True) == 1 and claims.count(True) == 1
    assert crises.get_crisis(created.id).status is Status.ACKNOWLEDGED


def test_a_claimed_step_is_leased_until_finished(crises, team_id):
    """A claim marks the step running; it is neither pending nor due while the lease holds, and finishing makes it final."""
    created = crises.create_crisis(new(team_id))
    assert crises.claim_step(crisis_id=created.id, step=0, at=T0)
    within = T0 + STEP_LEASE - timedelta(seconds=1)
    assert not crises.claim_step(crisis_id=created.id, step=0, at=within)
    assert 0 not in [s.index for s in crises.pending_steps(created.id, now=within)] and (created.id, 0) not in crises.due_steps(within)
    assert crises.finish_step(crisis_id=created.id, step=0, claimed_at=T0, outcome="paged")
    later = T0 + timedelta(days=1)
    assert not crises.claim_step(crisis_id=created.id, step=0, at=later)  # final: never run again
    assert 0 not in [s.index for s in crises.pending_steps(created.id, now=later)] and (created.id, 0) not in crises.due_steps(later)


def test_a_step_whose_runner_died_is_due_again_once_its_lease_ran_out(crises, team_id):
    """Claimed, never finished (the runner was killed): after the lease it is pending and due, and one re-claim wins;
    the first runner, should it wake up, can no longer finish it."""
    created = crises.create_crisis(new(team_id))
    assert crises.claim_step(crisis_id=created.id, step=0, at=T0)
    expired = T0 + STEP_LEASE
    assert crises.pending_steps(created.id)[0].index == 1  # without a clock: only steps never claimed
    assert crises.pending_steps(created.id, now=expired)[0].index == 0
    assert crises.due_steps(expired)[0] == (created.id, 0)
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda i: crises.claim_step(crisis_id=created.id, step=0, at=expired), range(20)))
    assert claims.count(True) == 1
    assert not crises.finish_step(crisis_id=created.id, step=0, claimed_at=T0, outcome="paged")  # the lease is the rerun's
    assert crises.finish_step(crisis_id=created.id, step=0, claimed_at=expired, outcome="skipped")
    assert (created.id, 0) not in crises.due_steps(T0 + timedelta(days=1))


def test_due_steps_and_reschedule(crises, team_id):
    """Due steps are those past their deadline and not run; closing a crisis retires its pending steps."""
    created = crises.create_crisis(new(team_id))
    assert crises.due_steps(T0 + timedelta(minutes=6)) == [(created.id, 0), (created.id, 1)]
    crises.reschedule_steps(crisis_id=created.id, steps=[PlannedStep(2, Target.GROUP, T0 + timedelta(minutes=1))])
    assert (created.id, 2) in crises.due_steps(T0 + timedelta(minutes=2))
    crises.close_crisis(crisis_id=created.id, user_id="UP", at=T0, status=Status.FALSE_ALARM, note=None, real=False)
    assert crises.due_steps(T0 + timedelta(days=1)) == [] and crises.pending_steps(created.id) == []
    assert crises.get_crisis(created.id).status is Status.FALSE_ALARM


def test_responders_policy_away_and_topic_watch(database, crises, team_id):
    """Responders are kept once each; a saved policy replaces the default; away expires; a topic maps to a team."""
    created = crises.create_crisis(new(team_id))
    assert crises.add_responder(crisis_id=created.id, user_id="UB", at=T0)
    assert not crises.add_responder(crisis_id=created.id, user_id="UB", at=T0)
    assert crises.policy(team_id) == DEFAULT_POLICY
    crises.save_policy(team_id=team_id, policy=parse_policy("both 3, managers 10"), user_id="UA", now=T0)
    assert [s.target for s in crises.policy(team_id).steps] == [Target.PRIMARY_AND_BACKUP, Target.MANAGERS]
    crises.set_away(team_id=team_id, user_id="UP", until=T0 + timedelta(minutes=30))
    assert crises.away(team_id=team_id, now=T0) == {"UP"} and crises.away(team_id=team_id, now=T0 + timedelta(hours=1)) == frozenset()
    topic = Mentions(database).save_topic(workspace_id="T1", name="acme", keywords=["acme"], hashtags=[], now=T0)
    crises.watch_topic(topic_id=topic.id, team_id=team_id, now=T0)
    assert crises.team_for_topic(topic.id) == team_id


def test_thread_lines_are_claimed_once(crises, team_id):
    """Each timeline event is handed to one caller, even one recorded with an earlier time after later ones were claimed."""
    created = crises.create_crisis(new(team_id))

    def note(text, at):
        return crises.record_event(crisis_id=created.id, event=CrisisEvent(at=at, kind=EventKind.NOTE, actor="UP", via="button",
                                                                          detail={"note": text}))

    first, second = note("a", T0 + timedelta(minutes=2)), note("b", T0 + timedelta(minutes=3))
    assert [event_id for event_id, _ in crises.claim_thread_lines(crisis_id=created.id)] == [first, second]
    assert crises.claim_thread_lines(crisis_id=created.id) == []
    late = note("late", T0 + timedelta(minutes=1))  # e.g. a declare that joined, stamped before the pages were recorded
    assert [(event_id, e.detail["note"]) for event_id, e in crises.claim_thread_lines(crisis_id=created.id)] == [(late, "late")]
    with ThreadPoolExecutor(6) as pool:
        note("c", T0 + timedelta(minutes=4))
        claims = list(pool.map(lambda i: crises.claim_thread_lines(crisis_id=created.id), range(6)))
    assert sum(len(c) for c in claims) == 1


def test_save_detectors_compares_and_sets_each_topic_in_one_batch(database, crises, team_id):
    """First passes (no read_until yet) and later ones are stored in one call; a topic another runner advanced
    meanwhile keeps that runner's state and is left out of the ids returned; a later pass finds what was stored."""
    from storage.crises import Detection

    ids = [Mentions(database).save_topic(workspace_id="T1", name=f"t{i}", keywords=[f"t{i}"], hashtags=[], now=T0).id for i in range(4)]
    for topic_id in ids:
        crises.watch_topic(topic_id=topic_id, team_id=team_id, now=T0)
    detection = Detection(database)
    first = T0 + timedelta(minutes=1)
    assert detection.save_detectors([(topic_id, {"seen": 1}, first, None) for topic_id in ids], now=first) == set(ids)
    # Another runner advances ids[0] first; this runner's batch then wins the other three only.
    second, other = T0 + timedelta(minutes=2), T0 + timedelta(minutes=2, microseconds=7)
    assert detection.save_detectors([(ids[0], {"seen": "other"}, second, first)], now=other) == {ids[0]}
    stored = detection.save_detectors([(topic_id, {"seen": 2}, second, first) for topic_id in ids], now=second)
    assert stored == set(ids[1:])
    states = {topic_id: state for topic_id, _, _, state, _ in detection.watches()}
    assert states[ids[0]] == {"seen": "other"} and all(states[topic_id] == {"seen": 2} for topic_id in ids[1:])
    assert detection.save_detectors([(topic_id, {"seen": 3}, second, first) for topic_id in ids], now=second + timedelta(seconds=1)) == set()
