"""Handover notes, pure: who may write, until when, removing, and the block that carries the note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import handover
from bot.errors import Conflict, NotAllowed, UsageError
from bot.handover import NOTE_BLOCK_ID, Handover, HandoverNote, with_note
from tests.bot.test_crisis import MemoryAudit

HANDOFF = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
HANDOVER = Handover(team_id=1, team_name="social", workspace_id="T1", handoff=HANDOFF, outgoing="UBEN", incoming="UCAI",
                    next_handoff=HANDOFF + timedelta(days=7))


class MemoryNotes:
    def __init__(self) -> None:
        self.notes: dict[tuple[int, datetime], HandoverNote] = {}

    def handover_note(self, *, team_id: int, handoff: datetime) -> HandoverNote | None:
        return self.notes.get((team_id, handoff))

    def save_handover_note(self, *, team_id: int, handoff: datetime, author: str, text: str, now: datetime) -> HandoverNote | None:
        if not text:
            self.notes.pop((team_id, handoff), None)
            return None
        self.notes[(team_id, handoff)] = HandoverNote(team_id, handoff, author, text, now)
        return self.notes[(team_id, handoff)]

    def handover_notes(self, *, team_id: int, start: datetime, end: datetime) -> list[HandoverNote]:
        return [n for (t, h), n in self.notes.items() if t == team_id and start < h <= end]


def test_outgoing_primary_writes_edits_and_removes_with_audit():
    """Write, change, remove: three audit entries with before/after; the store ends empty."""
    notes, audit = MemoryNotes(), MemoryAudit()
    for text in ("check the recall thread", "check the recall thread twice", "  "):
        handover.write_note(notes, audit, handover=HANDOVER, user_id="UBEN", text=text, now=HANDOFF, via="modal")
    assert [r.action for r in audit.records] == ["handover_note_written", "handover_note_changed", "handover_note_removed"]
    assert audit.records[1].before == {"text": "check the recall thread"} and audit.records[2].after is None
    assert notes.handover_note(team_id=1, handoff=HANDOFF) is None


def test_empty_first_submit_is_no_note_and_no_audit():
    """Skipping the question (an empty form) stores and audits nothing."""
    notes, audit = MemoryNotes(), MemoryAudit()
    assert handover.write_note(notes, audit, handover=HANDOVER, user_id="UBEN", text="", now=HANDOFF, via="modal") is None
    assert audit.records == []


def test_others_and_late_edits_are_refused():
    """The incoming primary may not write it; nobody may after the next handoff; an over-long note gets a usage error."""
    notes, audit = MemoryNotes(), MemoryAudit()
    with pytest.raises(NotAllowed):
        handover.write_note(notes, audit, handover=HANDOVER, user_id="UCAI", text="x", now=HANDOFF, via="modal")
    with pytest.raises(Conflict):
        handover.write_note(notes, audit, handover=HANDOVER, user_id="UBEN", text="x", now=HANDOVER.next_handoff, via="modal")
    with pytest.raises(UsageError):
        handover.write_note(notes, audit, handover=HANDOVER, user_id="UBEN", text="x" * 3001, now=HANDOFF, via="modal")
    assert notes.notes == {} and audit.records == []


def test_with_note_replaces_the_earlier_note_block_and_keeps_the_closing_context():
    """Adding a note twice leaves one note block, placed before the message's trailing context line."""
    blocks = [{"type": "header"}, {"type": "section", "text": {"type": "mrkdwn", "text": "handoff"}}, {"type": "context", "elements": []}]
    first = with_note(blocks, HandoverNote(1, HANDOFF, "UBEN", "one", HANDOFF))
    second = with_note(first, HandoverNote(1, HANDOFF, "UBEN", "two\nlines", HANDOFF))
    notes = [b for b in second if b.get("block_id") == NOTE_BLOCK_ID]
    assert len(notes) == 1 and "> two\n> lines" in notes[0]["text"]["text"]
    assert second[-1]["type"] == "context" and with_note(second, None) == blocks
