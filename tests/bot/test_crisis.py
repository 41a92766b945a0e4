"""Crisis use cases against an in-memory store: one acknowledgement, who may close, escalate-now, stepping away."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import crisis
from bot.crisis import Crisis, CrisisEvent, EventKind, NewCrisis, Status, Team
from bot.errors import Conflict, NotAllowed, NotFound, UsageError
from bot.escalation import DEFAULT_POLICY, PlannedStep, Policy, plan_chain
from bot.spikes import Severity
from tests.fakes.memory import MemoryAudit

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TEAM = Team(id=1, name="social", workspace_id="T1", channel="C1", on_call=("UP", "UB"))


class MemoryStore:
    """A CrisisStore in memory; a lock stands in for the database's conditional UPDATEs."""

    def __init__(self) -> None:
        self.crises: dict[int, Crisis] = {}
        self.events: dict[int, list[CrisisEvent]] = {}
        self.step_rows: dict[int, dict[int, tuple[PlannedStep, datetime | None]]] = {}
        self.away_until: dict[tuple[int, str], datetime] = {}
        self.lock = threading.Lock()

    def create_crisis(self, new: NewCrisis) -> Crisis | None:
        with self.lock:
            if any(c.topic == new.topic and not c.status.closed for c in self.crises.values()):
                return None
            crisis_id = len(self.crises) + 1
            self.crises[crisis_id] = Crisis(
                id=crisis_id, team_id=new.team_id, team_name="social", workspace_id=new.workspace_id, topic=new.topic,
                severity=new.severity, summary=new.summary, origin=new.origin, declared_by=new.declared_by, status=Status.OPEN,
                opened_at=new.opened_at, last_activity_at=new.opened_at, channel=new.channel, stats=new.stats)
            self.step_rows[crisis_id] = {s.index: (s, None) for s in new.steps}
            return self.crises[crisis_id]

    def get_crisis(self, crisis_id: int) -> Crisis | None:
        return self.crises.get(crisis_id)

    def open_crisis_for_topic(self, *, team_id: int, topic: str) -> Crisis | None:
        return next((c for c in self.crises.values() if c.topic == topic and not c.status.closed), None)

    def list_crises(self, *, workspace_id: str, open_only: bool, limit: int = 20) -> list[Crisis]:
        return [c for c in self.crises.values() if not (open_only and c.status.closed)][:limit]

    def record_ack(self, *, crisis_id: int, user_id: str, at: datetime, via: str) -> bool:
        with self.lock:
            current = self.crises[crisis_id]
            if current.status is not Status.OPEN or current.acked_by:
                return False
            self.crises[crisis_id] = replace(current, status=Status.ACKNOWLEDGED, acked_by=user_id, acked_at=at, acked_via=via, last_activity_at=at)
            return True

    def add_responder(self, *, crisis_id: int, user_id: str, at: datetime) -> bool:
        with self.lock:
            current = self.crises[crisis_id]
            if user_id in current.responders:
                return False
            self.crises[crisis_id] = replace(current, responders=(*current.responders, user_id))
            return True

    def close_crisis(self, *, crisis_id: int, user_id: str, at: datetime, status: Status, note: str | None, real: bool | None) -> bool:
        with self.lock:
            current = self.crises[crisis_id]
            if current.status.closed:
                return False
            self.crises[crisis_id] = replace(current, status=status, resolved_by=user_id, resolved_at=at, resolution_note=note, real=real)
            return True

    def record_event(self, *, crisis_id: int, event: CrisisEvent) -> int:
        self.events.setdefault(crisis_id, []).append(event)
        return len(self.events[crisis_id])

    def timeline(self, crisis_id: int) -> list[CrisisEvent]:
        return list(self.events.get(crisis_id, []))

    def steps(self, crisis_id: int) -> list[PlannedStep]:
        return [s for s, _ in self.step_rows[crisis_id].values()]

    def pending_steps(self, crisis_id: int, *, now: datetime | None = None) -> list[PlannedStep]:
        return [s for s, ran in self.step_rows[crisis_id].values() if ran is None]

    def reschedule_steps(self, *, crisis_id: int, steps) -> None:  # noqa: ANN001
        for step in steps:
            self.step_rows[crisis_id][step.index] = (step, None)

    def claim_step(self, *, crisis_id: int, step: int, at: datetime) -> bool:  # no lease here: storage tests cover it
        planned, ran = self.step_rows[crisis_id][step]
        if ran is not None:
            return False
        self.step_rows[crisis_id][step] = (planned, at)
        return True

    def finish_step(self, *, crisis_id: int, step: int, claimed_at: datetime, outcome: str) -> bool:
        return self.step_rows[crisis_id][step][1] == claimed_at

    def due_steps(self, now: datetime) -> list[tuple[int, int]]:
        return [(c, s.index) for c, rows in self.step_rows.items() for s, ran in rows.values() if ran is None and s.due_at <= now]

    def touch(self, *, crisis_id: int, at: datetime) -> None:
        self.crises[crisis_id] = replace(self.crises[crisis_id], last_activity_at=at)

    def set_card(self, *, crisis_id: int, channel: str, ts: str) -> None:
        self.crises[crisis_id] = replace(self.crises[crisis_id], channel=channel, message_ts=ts)

    def policy(self, team_id: int) -> Policy:
        return DEFAULT_POLICY

    def set_away(self, *, team_id: int, user_id: str, until: datetime) -> None:
        self.away_until[(team_id, user_id)] = until

    def away(self, *, team_id: int, now: datetime) -> frozenset[str]:
        return frozenset(u for (t, u), until in self.away_until.items() if t == team_id and until > now)


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def audit():
    return MemoryAudit()


def declared(store, audit, topic="acme", user="UX"):
    return crisis.declare(store, audit, team=TEAM, topic=topic, severity=Severity.SEV2, summary="video", user_id=user,
                          steps=plan_chain(DEFAULT_POLICY, T0), now=T0, via="slash_command")


def test_declare_records_who_declared_and_audits_it(store, audit):
    """A declared crisis keeps its declarer, opens with a timeline entry, and is audited."""
    opened = declared(store, audit)
    assert opened.declared_by == "UX" and opened.status is Status.OPEN and opened.channel == "C1"
    assert [e.kind for e in store.timeline(opened.id)] == [EventKind.DECLARED]
    assert audit.records[-1].action == "crisis_declared" and audit.records[-1].target == f"crisis:{opened.id}"


def test_second_declare_on_an_open_topic_names_the_open_crisis(store, audit):
    """Declaring a topic that already has an open crisis is a Conflict naming it."""
    declared(store, audit)
    with pytest.raises(Conflict, match="#1 SEV2 acme"):
        declared(store, audit)


def test_detected_spike_on_an_open_topic_joins_it(store, audit):
    """open_detected returns None when the topic already has an open crisis."""
    declared(store, audit)
    assert crisis.open_detected(store, audit, team=TEAM, topic="acme", topic_id=1, severity=Severity.SEV1, stats=None,
                                steps=(), now=T0) is None


def test_second_ack_is_ignored_with_the_first_ackers_name(store, audit):
    """The first acknowledgement wins; a second presser hears who acknowledged."""
    opened = declared(store, audit)
    crisis.acknowledge(store, audit, crisis_id=opened.id, user_id="UP", now=T0 + timedelta(minutes=3), via="button")
    with pytest.raises(Conflict, match="Already acknowledged by <@UP>"):
        crisis.acknowledge(store, audit, crisis_id=opened.id, user_id="UB", now=T0 + timedelta(minutes=4), via="button")
    assert store.get_crisis(opened.id).time_to_ack == timedelta(minutes=3)


def test_concurrent_acks_record_exactly_one(store, audit):
    """Fifty threads acknowledging at once: one succeeds, one ack event, the rest get Conflict."""
    opened = declared(store, audit)
    outcomes: list[str] = []
    barrier = threading.Barrier(50)

    def ack(user: str) -> None:
        barrier.wait()
        try:
            crisis.acknowledge(store, audit, crisis_id=opened.id, user_id=user, now=T0, via="button")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=ack, args=(f"U{i}",)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert [e.kind for e in store.timeline(opened.id)].count(EventKind.ACK) == 1


def test_responding_acknowledges_an_unacknowledged_crisis_and_counts_each_responder_once(store, audit):
    """The first "I'm responding" also acknowledges; pressing twice lists the responder once."""
    opened = declared(store, audit)
    crisis.respond(store, audit, crisis_id=opened.id, user_id="UB", now=T0, via="button")
    crisis.respond(store, audit, crisis_id=opened.id, user_id="UB", now=T0, via="button")
    after = crisis.respond(store, audit, crisis_id=opened.id, user_id="UC", now=T0, via="button")
    assert after.acked_by == "UB" and after.responders == ("UB", "UC")


def test_bystander_may_not_resolve_but_on_call_and_admin_may(store, audit):
    """Resolve is for the acker, responders, on-call people and admins."""
    opened = declared(store, audit, user="UD")
    with pytest.raises(NotAllowed):
        crisis.resolve(store, audit, crisis_id=opened.id, user_id="UZ", note="", real=None, on_call=TEAM.on_call, is_admin=False,
                       now=T0, via="button")
    done = crisis.resolve(store, audit, crisis_id=opened.id, user_id="UB", note="ok", real=True, on_call=TEAM.on_call, is_admin=False,
                          now=T0 + timedelta(minutes=20), via="modal")
    assert done.status is Status.RESOLVED and done.real is True and done.time_to_resolve == timedelta(minutes=20)


def test_false_alarm_closes_once_and_later_actions_are_refused(store, audit):
    """A false alarm is recorded as not real; acknowledging afterwards is a Conflict."""
    opened = declared(store, audit)
    closed = crisis.resolve(store, audit, crisis_id=opened.id, user_id="UA", note="", real=None, on_call=(), is_admin=True, now=T0,
                            via="button", false_alarm=True)
    assert closed.status is Status.FALSE_ALARM and closed.real is False
    with pytest.raises(Conflict, match="false alarm"):
        crisis.acknowledge(store, audit, crisis_id=opened.id, user_id="UP", now=T0, via="button")


def test_escalate_now_brings_the_next_step_forward(store, audit):
    """Escalate now makes the next pending step due now; when nothing is left it says so."""
    opened = declared(store, audit)
    store.claim_step(crisis_id=opened.id, step=0, at=T0)
    step = crisis.escalate_now(store, audit, crisis_id=opened.id, user_id="UX", now=T0 + timedelta(minutes=1), via="button")
    assert step.index == 1 and store.due_steps(T0 + timedelta(minutes=1)) == [(opened.id, 1)]
    for s in store.pending_steps(opened.id):
        store.claim_step(crisis_id=opened.id, step=s.index, at=T0)
    with pytest.raises(Conflict):
        crisis.escalate_now(store, audit, crisis_id=opened.id, user_id="UX", now=T0, via="button")


def test_only_the_primary_can_step_away_and_only_for_a_bounded_time(store, audit):
    """The primary steps away for 30 min; the backup cannot; 13 hours is refused."""
    until = crisis.step_away(store, audit, team=TEAM, user_id="UP", minutes=30, now=T0, via="slash_command")
    assert until == T0 + timedelta(minutes=30) and store.away(team_id=1, now=T0) == {"UP"}
    with pytest.raises(NotAllowed):
        crisis.step_away(store, audit, team=TEAM, user_id="UB", minutes=30, now=T0, via="slash_command")
    with pytest.raises(UsageError):
        crisis.step_away(store, audit, team=TEAM, user_id="UP", minutes=13 * 60, now=T0, via="slash_command")


def test_unknown_crisis_is_not_found_and_several_open_need_a_number(store, audit):
    """get() raises NotFound; pick_crisis without an id needs exactly one open crisis."""
    with pytest.raises(NotFound):
        crisis.get(store, 9)
    declared(store, audit, topic="a")
    assert crisis.pick_crisis(store, workspace_id="T1", crisis_id=None).topic == "a"
    declared(store, audit, topic="b")
    with pytest.raises(UsageError):
        crisis.pick_crisis(store, workspace_id="T1", crisis_id=None)


def test_severity_words_parse():
    """sev1 / SEV2 / 3 parse; other words are not severities."""
    assert crisis.parse_severity("sev1") is Severity.SEV1 and crisis.parse_severity("SEV2") is Severity.SEV2
    assert crisis.parse_severity("3") is Severity.SEV3 and crisis.parse_severity("video") is None
