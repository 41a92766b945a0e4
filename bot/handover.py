"""Handover notes: the outgoing primary's "anything the next person should know?", one per team handoff.

Pure. Optional free text, written by the person whose primary shift ends at the handoff and editable until the next
handoff; it goes into the incoming primary's "you're on call now" DM, the handoff announcement and the report.
The store (`HandoverStore`, storage/handover.py) keeps one row per team and handoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.audit import AuditRecord, AuditSink
from bot.errors import Conflict, NotAllowed, UsageError
from bot.oncall import TeamRotation
from bot.rotation import ScheduleIndex
from bot.shift_checkin import ending_shift

MAX_NOTE_CHARS = 3000
# Asked this long before the handoff, so a note written in time is in the messages sent at the handoff itself.
ASK_LEAD = timedelta(minutes=30)
NOTE_BLOCK_ID = "handover-note"


@dataclass(frozen=True)
class HandoverNote:
    team_id: int
    handoff: datetime
    author: str
    text: str
    updated_at: datetime


@dataclass(frozen=True)
class Handover:
    """One team handoff as the note needs it: who hands over to whom, and until when the note may change."""

    team_id: int
    team_name: str
    workspace_id: str
    handoff: datetime
    outgoing: str
    incoming: str | None
    next_handoff: datetime


def handover_at(rotation: TeamRotation, handoff: datetime) -> Handover | None:
    """Return the handover at `handoff` (a team handoff instant), or None when no primary shift ends there."""
    index = ScheduleIndex(rotation.spec, rotation.layers)
    ending = ending_shift(index, handoff)
    if ending is None:
        return None
    following = index.handoffs(handoff + timedelta(microseconds=1), handoff + rotation.spec.length * 2 + timedelta(days=1))
    team = rotation.team
    return Handover(team_id=team.id, team_name=team.name, workspace_id=team.workspace_id, handoff=handoff, outgoing=ending.user_id,
                    incoming=index.who_is_on_call(handoff).primary,
                    next_handoff=following[0] if following else handoff + rotation.spec.length)


class HandoverStore(Protocol):
    def handover_note(self, *, team_id: int, handoff: datetime) -> HandoverNote | None: ...
    def save_handover_note(self, *, team_id: int, handoff: datetime, author: str, text: str, now: datetime) -> HandoverNote | None: ...
    def handover_notes(self, *, team_id: int, start: datetime, end: datetime) -> list[HandoverNote]: ...


def require_writer(handover: Handover, user_id: str, *, now: datetime) -> None:
    """Refuse anyone but the outgoing primary, and everyone once the next handoff has passed."""
    if user_id != handover.outgoing:
        raise NotAllowed(f"Only <@{handover.outgoing}>, whose shift ends at this handoff, can write its handover note.")
    if now >= handover.next_handoff:
        raise Conflict("This handover is over: the next handoff has passed, so its note can no longer change.")


def write_note(store: HandoverStore, audit: AuditSink, *, handover: Handover, user_id: str, text: str, now: datetime,
               via: str) -> HandoverNote | None:
    """Save (or, with empty text, remove) the note; only the outgoing primary, only until the next handoff; audited.

    Returns the stored note, or None when it was removed.
    """
    require_writer(handover, user_id, now=now)
    cleaned = text.strip()
    if len(cleaned) > MAX_NOTE_CHARS:
        raise UsageError(f"Keep the note under {MAX_NOTE_CHARS} characters ({len(cleaned)} now).")
    before = store.handover_note(team_id=handover.team_id, handoff=handover.handoff)
    if before is None and not cleaned:
        return None  # nothing written, nothing to remove: an empty submit is "no note", not an edit
    saved = store.save_handover_note(team_id=handover.team_id, handoff=handover.handoff, author=user_id, text=cleaned, now=now)
    action = "handover_note_written" if before is None else ("handover_note_removed" if not cleaned else "handover_note_changed")
    audit.record(AuditRecord(at=now, actor=user_id, action=action, via=via, target=f"handover:{handover.team_id}:{handover.handoff.isoformat()}",
                             team_id=handover.workspace_id, before={"text": before.text} if before else None,
                             after={"text": cleaned} if cleaned else None))
    return saved


def note_section(note: HandoverNote | None) -> list[dict]:
    """Return the message block quoting the note (none without a note); its block id lets a later edit replace it."""
    if note is None or not note.text:
        return []
    quoted = "\n".join(f"> {line}" for line in note.text.splitlines() or [""])
    return [{"type": "section", "block_id": NOTE_BLOCK_ID,
             "text": {"type": "mrkdwn", "text": f"*Handover note from <@{note.author}>*\n{quoted}"[:3000]}}]


def with_note(blocks: list[dict], note: HandoverNote | None) -> list[dict]:
    """Return `blocks` with the note's section in place of any earlier one (before a trailing context line)."""
    kept = [b for b in blocks if b.get("block_id") != NOTE_BLOCK_ID]
    at = len(kept) - 1 if kept and kept[-1].get("type") == "context" else len(kept)
    return [*kept[:at], *note_section(note), *kept[at:]]
