"""Stakeholder cadence: while a SEV1/SEV2 crisis is acknowledged and open, its acknowledger is reminded to update the
stakeholders at the playbook's interval (default 30 min), and an update posted through the form is recorded.

Pure. The interval is read from the team's playbook step that mentions stakeholders ("Update stakeholders every
30 minutes"); the stakeholders' channel is a team setting (`StakeholderStore`, storage/stakeholders.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.crisis import Crisis, CrisisEvent, CrisisStore, EventKind, Status, get, may_close
from bot.errors import Conflict, NotAllowed, UsageError
from bot.spikes import Severity

DEFAULT_INTERVAL = timedelta(minutes=30)
MIN_INTERVAL = timedelta(minutes=5)  # a playbook saying "every 1 minute" would turn the thread into reminders
MAX_UPDATE_CHARS = 3000
CADENCE_SEVERITIES = (Severity.SEV1, Severity.SEV2)
_EVERY = re.compile(r"every\s+(?:(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h)\b|(hour|half[ -]hour))", re.IGNORECASE)


class StakeholderStore(Protocol):
    def stakeholder_channel(self, team_id: int) -> str | None: ...
    def set_stakeholder_channel(self, *, team_id: int, channel: str, user_id: str, now: datetime) -> str | None: ...  # the one before


def interval_from_playbook(steps: Iterable[str]) -> timedelta:
    """Return the update interval a playbook step about stakeholders names ("every 45 minutes", "every hour"); else 30 min."""
    for step in steps:
        if "stakeholder" not in step.lower():
            continue
        match = _EVERY.search(step)
        if match is None:
            continue
        if match.group(3):
            found = timedelta(minutes=30) if match.group(3).lower().startswith("half") else timedelta(hours=1)
        else:
            amount, unit = int(match.group(1)), match.group(2).lower()
            found = timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount)
        return max(found, MIN_INTERVAL)
    return DEFAULT_INTERVAL


def cadence_applies(crisis: Crisis) -> bool:
    """Whether the crisis gets reminders: acknowledged (someone to remind), still open, at SEV1 or SEV2."""
    return crisis.status is Status.ACKNOWLEDGED and crisis.acked_by is not None and crisis.severity in CADENCE_SEVERITIES


def last_update_at(timeline: Sequence[CrisisEvent]) -> datetime | None:
    return max((e.at for e in timeline if e.kind is EventKind.STAKEHOLDER_UPDATE), default=None)


def next_reminder_due(crisis: Crisis, timeline: Sequence[CrisisEvent], *, interval: timedelta) -> datetime | None:
    """Return when the next reminder is due: one interval after the acknowledgement or the latest update; None if none applies.

    Deterministic from the record, so every instance (and a restart) computes the same instant, and the instant
    names the reminder's ledger key.
    """
    if not cadence_applies(crisis) or crisis.acked_at is None:
        return None
    since = max(crisis.acked_at, last_update_at(timeline) or crisis.acked_at)
    return since + interval


def reminder_key(crisis_id: int, due: datetime) -> str:
    """Return the ledger key (and outbox dedupe key) of the reminder due at `due`: it goes out once."""
    return f"stakeholder-reminder:{crisis_id}:{due.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class ReminderDecision:
    send_key: str | None  # remind now under this key (None: not now)
    next_check: datetime | None  # when to look again (None: the cadence is over for this crisis)


def decide_reminder(crisis: Crisis | None, timeline: Sequence[CrisisEvent], *, interval: timedelta, now: datetime,
                    already_sent: Callable[[str], bool]) -> ReminderDecision:
    """Decide whether to remind now and when to look next.

    Once a reminder for a slot went out without an update, the next slot is one interval later (the acknowledger is
    nudged at the cadence, not once).
    """
    if crisis is None:
        return ReminderDecision(None, None)
    due = next_reminder_due(crisis, timeline, interval=interval)
    if due is None:
        return ReminderDecision(None, None)
    while already_sent(reminder_key(crisis.id, due)) and due <= now:
        due += interval
    if now < due:
        return ReminderDecision(None, due)
    return ReminderDecision(reminder_key(crisis.id, due), due + interval)


def post_update(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, text: str, channel: str | None,
                on_call: Sequence[str], is_admin: bool, now: datetime, via: str) -> tuple[Crisis, int]:
    """Record a stakeholder update (the caller posts it to `channel`); return the crisis and the timeline event id."""
    cleaned = text.strip()
    if not cleaned:
        raise UsageError("The update is empty.")
    if len(cleaned) > MAX_UPDATE_CHARS:
        raise UsageError(f"Keep the update under {MAX_UPDATE_CHARS} characters ({len(cleaned)} now).")
    crisis = get(store, crisis_id)
    if not may_close(crisis, user_id, on_call=on_call, is_admin=is_admin):
        raise NotAllowed("Only the person who acknowledged or declared, a responder, whoever is on call or an admin can post updates.")
    event_id = store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.STAKEHOLDER_UPDATE, actor=user_id, via=via,
                                                                         target=channel, detail={"text": cleaned}))
    store.touch(crisis_id=crisis_id, at=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_stakeholder_update", via=via, target=f"crisis:{crisis_id}",
                             team_id=crisis.workspace_id, after={"text": cleaned, "channel": channel}))
    return get(store, crisis_id), event_id


def set_channel(store: StakeholderStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, workspace_id: str, channel: str,
                user_id: str, now: datetime, via: str) -> None:
    """Set where the team's stakeholder updates go (admins only); audited with before and after."""
    require_admin(admins, user_id, action="choose the stakeholders' channel")
    before = store.set_stakeholder_channel(team_id=team_id, channel=channel, user_id=user_id, now=now)
    if before == channel:
        raise Conflict(f"Stakeholder updates already go to <#{channel}>.")
    audit.record(AuditRecord(at=now, actor=user_id, action="stakeholder_channel_set", via=via, target=f"team:{team_id}",
                             team_id=workspace_id, before={"channel": before} if before else None, after={"channel": channel}))
