"""Handover-note use cases run by the scheduler and after a save: ask the outgoing primary, bring sent messages up to date.

Pure decisions over ports: the rotation, the notes, the job ledger and the outbox (one delivery per dedupe key), so
a job repeated after a crash or on another instance asks once and edits each message once per version of the note.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from bot.blocks.handover import build_note_notice, build_note_question, handover_value, parse_handover_value
from bot.flows.ports import OutboxSender
from bot.handover import HandoverStore, handover_at, with_note
from bot.oncall import TeamRotation
from bot.rotation import Role
from bot.rotation_messages import RotationEventKind, event_key

ASK_PREFIX = "handover-ask:"


class RotationLookup(Protocol):
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...


class RunLedger(Protocol):
    def has_run(self, run_key: str) -> bool: ...
    def claim(self, run_key: str, *, at: datetime) -> bool: ...


class SentMessages(Protocol):
    """The outbox's record of what went out: (channel, ts, payload) of a sent dedupe key."""

    def sent_message(self, dedupe_key: str) -> tuple[str, str, dict[str, Any]] | None: ...


def ask_key(team_id: int, handoff: datetime) -> str:
    """Return the job id, ledger key and dedupe key of the question for one handoff."""
    return ASK_PREFIX + handover_value(team_id, handoff)


def ask_for_note(key: str, *, rotations: RotationLookup, ledger: RunLedger, outbox: OutboxSender, now: datetime) -> bool:
    """DM the outgoing primary the handover question once per team handoff; return whether it was queued now."""
    if ledger.has_run(key):
        return False
    team_id, handoff = parse_handover_value(key.removeprefix(ASK_PREFIX))
    rotation = rotations.load_rotation_by_id(team_id)
    handover = handover_at(rotation, handoff) if rotation is not None else None
    if handover is not None and now < handover.next_handoff:
        text, blocks = build_note_question(handover, tz=rotation.team.tz)  # type: ignore[union-attr]
        outbox.send(dedupe_key=key, method="dm", payload={"user": handover.outgoing, "text": text, "blocks": blocks})
    # Claimed after queueing: a crash in between queues again under the same dedupe key, which is one message.
    ledger.claim(key, at=now)
    return handover is not None


def handoff_message_keys(team_id: int, handoff: datetime, incoming: str | None) -> list[str]:
    """Return the dedupe keys of the messages that carry the note: the announcement and the incoming primary's DM."""
    keys = [event_key(RotationEventKind.ANNOUNCE, team_id=team_id, change_at=handoff)]
    if incoming:
        keys.append(event_key(RotationEventKind.ON_CALL_NOW, team_id=team_id, change_at=handoff, user_id=incoming, role=Role.PRIMARY))
    return keys


def note_saved(team_id: int, handoff: datetime, *, rotations: RotationLookup, notes: HandoverStore, sent: SentMessages,
               outbox: OutboxSender) -> list[str]:
    """Edit the handoff messages already sent so they show the note as it is now; return the keys edited.

    Messages not yet sent pick the note up when they go out. An edit does not notify, so the incoming primary, whose
    DM went out before the first note existed, also gets one short DM with it (once per handoff).
    """
    rotation = rotations.load_rotation_by_id(team_id)
    handover = handover_at(rotation, handoff) if rotation is not None else None
    if handover is None:
        return []
    note = notes.handover_note(team_id=team_id, handoff=handoff)
    version = f"{note.updated_at.astimezone(UTC):%Y%m%dT%H%M%S%f}" if note else "removed"
    edited = []
    for key in handoff_message_keys(team_id, handoff, handover.incoming):
        found = sent.sent_message(key)
        if found is None:
            continue
        channel, ts, payload = found
        blocks = with_note(list(payload.get("blocks") or []), note)
        outbox.send(dedupe_key=f"handover-edit:{key}:{version}", method="chat.update",
                    payload={"channel": channel, "ts": ts, "text": payload.get("text", ""), "blocks": blocks})
        edited.append(key)
        if note is not None and key.startswith(RotationEventKind.ON_CALL_NOW.value) and handover.incoming:
            text, notice = build_note_notice(note, team_name=handover.team_name)
            outbox.send(dedupe_key=f"handover-notice:{handover_value(team_id, handoff)}", method="dm",
                        payload={"user": handover.incoming, "text": text, "blocks": notice})
    return edited
