"""`/crisis sev` and `/crisis assign` use cases: who may, what the timeline and audit record, bad input refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import crisis
from bot.errors import Conflict, NotAllowed
from bot.crisis import EventKind
from bot.spikes import Severity
from tests.bot.test_crisis import T0, MemoryAudit, MemoryStore, declared


class CommandStore(MemoryStore):
    """MemoryStore plus the two writes these commands need; the commander is read from the timeline, as storage does."""

    def set_severity(self, *, crisis_id: int, severity: Severity) -> bool:
        current = self.crises[crisis_id]
        if current.status.closed or current.severity is severity:
            return False
        self.crises[crisis_id] = replace(current, severity=severity)
        return True

    def get_crisis(self, crisis_id: int):  # noqa: ANN201
        found = self.crises.get(crisis_id)
        assigned = [e.target for e in self.events.get(crisis_id, []) if e.kind is EventKind.ASSIGNED]
        return None if found is None else replace(found, commander=assigned[-1] if assigned else None)


@pytest.fixture
def store():
    return CommandStore()


@pytest.fixture
def audit():
    return MemoryAudit()


def test_declarer_lowers_severity_and_the_change_is_on_timeline_and_audit(store, audit):
    """The declarer sets SEV2 → SEV3: the crisis says SEV3, the timeline says from/to, the audit has before and after."""
    opened = declared(store, audit, user="UX")
    changed = crisis.change_severity(store, audit, crisis_id=opened.id, user_id="UX", severity=Severity.SEV3, on_call=(),
                                     is_admin=False, now=T0, via="slash_command")
    assert changed.severity is Severity.SEV3
    (event,) = [e for e in store.timeline(opened.id) if e.kind is EventKind.SEVERITY]
    assert event.detail == {"from": "SEV2", "to": "SEV3"} and event.actor == "UX"
    (record,) = [r for r in audit.records if r.action == "crisis_severity_changed"]
    assert record.before == {"severity": "SEV2"} and record.after == {"severity": "SEV3"}


def test_bystander_cannot_change_severity_or_assign(store, audit):
    """Someone not involved, not on call and not an admin is refused both, and nothing is recorded."""
    opened = declared(store, audit, user="UX")
    with pytest.raises(NotAllowed):
        crisis.change_severity(store, audit, crisis_id=opened.id, user_id="UZ", severity=Severity.SEV1, on_call=("UP",),
                               is_admin=False, now=T0, via="slash_command")
    with pytest.raises(NotAllowed):
        crisis.assign_commander(store, audit, crisis_id=opened.id, user_id="UZ", commander="UZ", on_call=("UP",), is_admin=False,
                                now=T0, via="slash_command")
    assert [e.kind for e in store.timeline(opened.id)] == [EventKind.DECLARED]


def test_same_severity_is_a_conflict(store, audit):
    """Setting the severity it already has says so instead of recording a non-change."""
    opened = declared(store, audit)
    with pytest.raises(Conflict, match="already SEV2"):
        crisis.change_severity(store, audit, crisis_id=opened.id, user_id="UP", severity=Severity.SEV2, on_call=("UP",),
                               is_admin=False, now=T0, via="slash_command")


def test_assigning_a_commander_twice_keeps_the_latest_and_audits_the_previous(store, audit):
    """The on-call primary names UA, then an admin names UB: UB commands, the audit shows UA → UB."""
    opened = declared(store, audit)
    crisis.assign_commander(store, audit, crisis_id=opened.id, user_id="UP", commander="UA", on_call=("UP",), is_admin=False,
                            now=T0, via="slash_command")
    second = crisis.assign_commander(store, audit, crisis_id=opened.id, user_id="UADMIN", commander="UB", on_call=("UP",),
                                     is_admin=True, now=T0, via="slash_command")
    assert second.commander == "UB"
    records = [r for r in audit.records if r.action == "crisis_commander_assigned"]
    assert [(r.before, r.after) for r in records] == [({"commander": None}, {"commander": "UA"}), ({"commander": "UA"}, {"commander": "UB"})]
    with pytest.raises(Conflict, match="already the commander"):
        crisis.assign_commander(store, audit, crisis_id=opened.id, user_id="UP", commander="UB", on_call=("UP",), is_admin=False,
                                now=T0, via="slash_command")


def test_closed_crisis_cannot_change(store, audit):
    """After resolving, severity and commander stay as they were."""
    opened = declared(store, audit, user="UX")
    crisis.resolve(store, audit, crisis_id=opened.id, user_id="UX", note="done", real=True, on_call=(), is_admin=False, now=T0,
                   via="slash_command")
    with pytest.raises(Conflict, match="already resolved"):
        crisis.change_severity(store, audit, crisis_id=opened.id, user_id="UX", severity=Severity.SEV1, on_call=(), is_admin=False,
                               now=T0, via="slash_command")
    with pytest.raises(Conflict, match="already resolved"):
        crisis.assign_commander(store, audit, crisis_id=opened.id, user_id="UX", commander="UA", on_call=(), is_admin=False, now=T0,
                                via="slash_command")
