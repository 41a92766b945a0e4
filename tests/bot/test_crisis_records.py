"""Crisis records without Slack or a database: a second declare joins, notes, the card state DM copies follow, `/crisis status` notes."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import crisis
from bot.blocks.crisis import CrisisActions, build_crisis_card, build_crisis_status, build_joined_declare, timeline_line
from bot.crisis import Crisis, EventKind, Status
from bot.errors import UsageError
from bot.escalation import DEFAULT_POLICY, plan_chain
from bot.spikes import Severity
from tests.bot.test_crisis import TEAM, MemoryStore, declared
from tests.fakes.memory import MemoryAudit

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


class RaisingStore(MemoryStore):
    def raise_severity(self, *, crisis_id: int, severity: Severity) -> bool:
        current = self.crises[crisis_id]
        if current.status.closed or current.severity >= severity:
            return False
        self.crises[crisis_id] = replace(current, severity=severity)
        return True


def declare(store, audit, *, user, severity=Severity.SEV2, given=False, summary=""):
    return crisis.declare_or_join(store, audit, team=TEAM, topic="acme", severity=severity, severity_given=given, summary=summary,
                                  user_id=user, steps=plan_chain(DEFAULT_POLICY, T0), now=T0 + timedelta(minutes=1), via="slash_command")


@pytest.fixture
def store():
    return RaisingStore()


@pytest.fixture
def audit():
    return MemoryAudit()


def test_a_second_declare_joins_the_open_crisis_with_a_note(store, audit):
    """The second declarer joins crisis #1: a timeline note with their summary, audited, and no second crisis."""
    first = declare(store, audit, user="UX", severity=Severity.SEV3, given=True)
    second = declare(store, audit, user="UY", summary="influencer video")
    assert not first.joined and second.joined and second.crisis.id == first.crisis.id and len(store.crises) == 1
    (note,) = [e for e in store.timeline(1) if e.kind is EventKind.NOTE]
    assert note.actor == "UY" and note.detail["note"] == "Declared again: influencer video"
    assert audit.records[-1].action == "crisis_declare_joined"
    assert second.crisis.severity is Severity.SEV3  # no severity given: the open crisis keeps its own


def test_a_joining_declare_with_a_higher_severity_raises_it(store, audit):
    """`declare acme sev1` on an open SEV3 raises it to SEV1 and says so in the note."""
    declare(store, audit, user="UX", severity=Severity.SEV3, given=True)
    joined = declare(store, audit, user="UY", severity=Severity.SEV1, given=True)
    assert joined.crisis.severity is Severity.SEV1 and "as SEV1" in store.timeline(1)[-1].detail["note"]


def test_simultaneous_declares_open_one_and_join_the_rest(store, audit):
    """Twenty threads declare at once: exactly one opens, nineteen join."""
    barrier = threading.Barrier(20)
    outcomes = []

    def run(user):
        barrier.wait()
        outcomes.append(declare(store, audit, user=user))

    threads = [threading.Thread(target=run, args=(f"U{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o.joined for o in outcomes].count(False) == 1 and len(store.crises) == 1


def test_joined_declare_answer_names_the_open_crisis(store, audit):
    """The reply names the open crisis and where to follow it."""
    joined = declare(store, audit, user="UX")
    text, _ = build_joined_declare(joined.crisis, where="<#C1>")
    assert "already has an open crisis, #1 SEV2 acme" in text and "<#C1>" in text


def test_notes_are_recorded_audited_and_count_as_activity(store, audit):
    """A note goes to the timeline with its author, to the audit, and moves last activity (holding off "still on it?")."""
    opened = declared(store, audit)
    noted = crisis.add_note(store, audit, crisis_id=opened.id, user_id="UP", text="  legal approved  ", now=T0 + timedelta(minutes=9),
                            via="slash_command")
    assert noted.last_activity_at == T0 + timedelta(minutes=9)
    assert [(e.actor, e.detail) for e in crisis.notes(store.timeline(opened.id))] == [("UP", {"note": "legal approved"})]
    assert audit.records[-1].action == "crisis_note_added" and audit.records[-1].after == {"note": "legal approved"}


def test_empty_and_overlong_notes_are_usage_errors(store, audit):
    """Blank notes and notes past the limit are refused with the usage."""
    opened = declared(store, audit)
    for text in ("   ", "x" * (crisis.MAX_NOTE + 1)):
        with pytest.raises(UsageError):
            crisis.add_note(store, audit, crisis_id=opened.id, user_id="UP", text=text, now=T0, via="slash_command")


def test_status_lists_notes_with_authors_but_thread_lines_do_not_mention_them(store, audit):
    """`/crisis status` (ephemeral) names note authors; the thread line of a note mentions nobody."""
    opened = declared(store, audit)
    crisis.add_note(store, audit, crisis_id=opened.id, user_id="UP", text="holding statement out", now=T0, via="slash_command")
    timeline = store.timeline(opened.id)
    text, blocks = build_crisis_status(store.get_crisis(opened.id), timeline)
    assert "1 note" in text and "<@UP>: holding statement out" in str(blocks)
    assert "<@UP>" not in timeline_line(opened, timeline[-1])


def test_card_state_changes_with_what_the_card_shows(store, audit):
    """Acknowledging, responding and resolving each change the state key DM copies are compared with; a note does not."""
    opened = declared(store, audit)
    states = [crisis.card_state(opened)]
    crisis.add_note(store, audit, crisis_id=opened.id, user_id="UP", text="n", now=T0, via="slash_command")
    assert crisis.card_state(store.get_crisis(opened.id)) == states[0]
    states.append(crisis.card_state(crisis.acknowledge(store, audit, crisis_id=opened.id, user_id="UP", now=T0, via="button")))
    states.append(crisis.card_state(crisis.respond(store, audit, crisis_id=opened.id, user_id="UB", now=T0, via="button")))
    states.append(crisis.card_state(crisis.resolve(store, audit, crisis_id=opened.id, user_id="UP", note="", real=True, on_call=(),
                                                   is_admin=True, now=T0, via="button")))
    assert len(set(states)) == 4


def test_open_card_offers_add_note_next_to_open_playbook():
    """The open card carries Add note; a closed one carries no buttons."""
    base = Crisis(id=3, team_id=1, team_name="social", workspace_id="T1", topic="acme", severity=Severity.SEV2, summary="",
                  origin="declared", declared_by="UX", status=Status.OPEN, opened_at=T0, last_activity_at=T0)
    _, blocks = build_crisis_card(base)
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids[-2:] == [CrisisActions.add_note.value, CrisisActions.playbook.value]
