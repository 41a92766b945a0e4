"""Crisis use cases: declare, open on a spike, acknowledge, respond, escalate, page, step away, resolve, change the policy.

Takes its store as an argument (`CrisisStore`, declared here; storage/crises.py implements it). The exactly-once
rules (one acknowledgement, one resolution, each escalation step once) are the store's conditional UPDATEs;
this module decides who may do what and what is recorded. Every change also goes to the audit table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.access import AdminDirectory, require_admin
from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink
from bot.errors import Conflict, NotAllowed, NotFound, UsageError
from bot.escalation import Policy, PlannedStep, Target, policy_record, shift_after_escalation
from bot.oncall import TeamRotation
from bot.rotation import ScheduleIndex
from bot.spikes import Bucket, Severity

MAX_AWAY = timedelta(hours=12)


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"

    @property
    def closed(self) -> bool:
        return self in (Status.RESOLVED, Status.FALSE_ALARM)


class EventKind(StrEnum):
    DETECTED = "detected"
    DECLARED = "declared"
    PAGE = "page"
    ACK = "ack"
    RESPONDING = "responding"
    ESCALATED = "escalated"
    STILL_ON_IT = "still_on_it"
    NOTE = "note"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"
    STEPPED_AWAY = "stepped_away"
    PLAYBOOK_CHECK = "playbook_check"
    SEVERITY = "severity"  # the severity changed by hand (`/crisis sev`)
    ASSIGNED = "assigned"  # a commander was named (`/crisis assign`)
    STAKEHOLDER_UPDATE = "stakeholder_update"  # an update posted to the stakeholders (the Post update form)


@dataclass(frozen=True)
class SpikeStats:
    """What the card shows about the spike: window counts, baseline, a series for the sparkline, top mentions."""

    window_minutes: int = 15
    negative: int = 0
    baseline: float = 0.0
    negative_share: float = 0.0
    series: tuple[float, ...] = ()  # negative mentions per bucket, oldest first
    top_mentions: tuple[dict[str, Any], ...] = ()  # {"text", "author", "reach", "url", "source", "posted_at" (ISO)}
    top_terms: tuple[str, ...] = ()
    languages: tuple[tuple[str, float], ...] = ()  # (ISO 639-1 code, share of the negative mentions), largest first

    def to_dict(self) -> dict[str, Any]:
        return {"window_minutes": self.window_minutes, "negative": self.negative, "baseline": self.baseline,
                "negative_share": self.negative_share, "series": list(self.series), "top_mentions": list(self.top_mentions),
                "top_terms": list(self.top_terms), "languages": [list(pair) for pair in self.languages]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SpikeStats | None:
        if not data:
            return None
        return cls(window_minutes=data.get("window_minutes", 15), negative=data.get("negative", 0),
                   baseline=data.get("baseline", 0.0), negative_share=data.get("negative_share", 0.0),
                   series=tuple(data.get("series", ())), top_mentions=tuple(data.get("top_mentions", ())),
                   top_terms=tuple(data.get("top_terms", ())),
                   languages=tuple((str(code), float(share)) for code, share in data.get("languages", ())))


@dataclass(frozen=True)
class CrisisEvent:
    at: datetime
    kind: EventKind
    actor: str
    via: str
    target: str | None = None
    method: str | None = None  # dm, channel
    delivered: bool | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class Crisis:
    id: int
    team_id: int
    team_name: str
    workspace_id: str
    topic: str
    severity: Severity
    summary: str
    origin: str  # detected, declared
    declared_by: str | None
    status: Status
    opened_at: datetime
    last_activity_at: datetime
    acked_by: str | None = None
    acked_at: datetime | None = None
    acked_via: str | None = None
    responders: tuple[str, ...] = ()
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None
    real: bool | None = None
    channel: str | None = None
    message_ts: str | None = None
    stats: SpikeStats | None = None
    paged: tuple[str, ...] = ()  # people paged so far, in order
    topic_id: int | None = None
    playbook_ts: str | None = None  # the playbook message in the card's thread ("" while it is being posted)
    commander: str | None = None  # who runs the response (the latest `/crisis assign`); the store reads it from the timeline
    team_tz: str = "UTC"  # the team's zone: fallback text of time tokens, which readers see in their own zone

    @property
    def title(self) -> str:
        """Return the one-line name used in lists and announcements, e.g. "#12 SEV2 acme"."""
        return f"#{self.id} {self.severity.label} {self.topic}"

    @property
    def time_to_ack(self) -> timedelta | None:
        return None if self.acked_at is None else self.acked_at - self.opened_at

    @property
    def time_to_resolve(self) -> timedelta | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at


@dataclass(frozen=True)
class NewCrisis:
    team_id: int
    workspace_id: str
    topic: str
    severity: Severity
    summary: str
    origin: str
    declared_by: str | None
    channel: str | None
    opened_at: datetime
    steps: tuple[PlannedStep, ...]
    topic_id: int | None = None
    stats: SpikeStats | None = None


class CrisisStore(Protocol):
    """The crisis tables; storage/crises.py implements it."""

    def create_crisis(self, new: NewCrisis) -> Crisis | None: ...  # None: that topic already has an open crisis
    def get_crisis(self, crisis_id: int) -> Crisis | None: ...
    def open_crisis_for_topic(self, *, team_id: int, topic: str) -> Crisis | None: ...
    def list_crises(self, *, workspace_id: str, open_only: bool, limit: int = 20) -> list[Crisis]: ...
    def record_ack(self, *, crisis_id: int, user_id: str, at: datetime, via: str) -> bool: ...
    def add_responder(self, *, crisis_id: int, user_id: str, at: datetime) -> bool: ...
    def close_crisis(self, *, crisis_id: int, user_id: str, at: datetime, status: Status, note: str | None, real: bool | None) -> bool: ...
    def record_event(self, *, crisis_id: int, event: CrisisEvent) -> int: ...
    def timeline(self, crisis_id: int) -> list[CrisisEvent]: ...
    def steps(self, crisis_id: int) -> list[PlannedStep]: ...
    def pending_steps(self, crisis_id: int, *, now: datetime | None = None) -> list[PlannedStep]: ...
    def reschedule_steps(self, *, crisis_id: int, steps: Sequence[PlannedStep]) -> None: ...
    def claim_step(self, *, crisis_id: int, step: int, at: datetime) -> bool: ...  # a lease: see storage/crises.py
    def finish_step(self, *, crisis_id: int, step: int, claimed_at: datetime, outcome: str) -> bool: ...
    def due_steps(self, now: datetime) -> list[tuple[int, int]]: ...
    def touch(self, *, crisis_id: int, at: datetime) -> None: ...
    def raise_severity(self, *, crisis_id: int, severity: Severity) -> bool: ...
    def set_severity(self, *, crisis_id: int, severity: Severity) -> bool: ...  # open crises only; False when unchanged
    def set_card(self, *, crisis_id: int, channel: str, ts: str) -> None: ...
    def policy(self, team_id: int) -> Policy: ...
    def save_policy(self, *, team_id: int, policy: Policy, user_id: str, now: datetime) -> None: ...
    def set_away(self, *, team_id: int, user_id: str, until: datetime) -> None: ...
    def away(self, *, team_id: int, now: datetime) -> frozenset[str]: ...


@dataclass(frozen=True)
class Team:
    """What a crisis needs of its team: name, workspace, crisis channel, user group, and who is on call now."""

    id: int
    name: str
    workspace_id: str
    channel: str | None
    usergroup_id: str | None = None
    on_call: tuple[str, ...] = field(default_factory=tuple)  # primary, backup, shadow (those set)


def parse_severity(word: str) -> Severity | None:
    """Return the severity in "sev1", "SEV2", "1"; None when the word is not a severity."""
    key = word.strip().upper().removeprefix("SEV")
    return {"1": Severity.SEV1, "2": Severity.SEV2, "3": Severity.SEV3}.get(key)


def _audit(audit: AuditSink, *, at: datetime, actor: str, action: str, via: str, crisis_id: int, after: dict[str, Any] | None = None,
           team: str | None = None) -> None:
    audit.record(AuditRecord(at=at, actor=actor, action=action, via=via, target=f"crisis:{crisis_id}", team_id=team, after=after))


def _open(store: CrisisStore, audit: AuditSink, new: NewCrisis, *, actor: str, via: str) -> Crisis | None:
    crisis = store.create_crisis(new)
    if crisis is None:
        return None
    kind = EventKind.DECLARED if new.origin == "declared" else EventKind.DETECTED
    store.record_event(crisis_id=crisis.id, event=CrisisEvent(at=new.opened_at, kind=kind, actor=actor, via=via,
                                                              detail={"severity": new.severity.label, "summary": new.summary}))
    _audit(audit, at=new.opened_at, actor=actor, action=f"crisis_{kind.value}", via=via, crisis_id=crisis.id, team=new.workspace_id,
           after={"topic": new.topic, "severity": new.severity.label, "team_id": new.team_id})
    return crisis


def _declare(store: CrisisStore, audit: AuditSink, *, team: Team, topic: str, severity: Severity, summary: str, user_id: str,
             steps: Sequence[PlannedStep], now: datetime, via: str, channel: str | None) -> Crisis | None:
    """Open a crisis by hand; None when the topic already has an open one (the callers look that one up once)."""
    if not topic.strip():
        raise UsageError("Which topic?", usage="`/crisis declare <topic> [sev1|sev2|sev3] [summary]`")
    new = NewCrisis(team_id=team.id, workspace_id=team.workspace_id, topic=topic.strip(), severity=severity, summary=summary.strip(),
                    origin="declared", declared_by=user_id, channel=team.channel or channel, opened_at=now, steps=tuple(steps))
    return _open(store, audit, new, actor=user_id, via=via)


def declare(store: CrisisStore, audit: AuditSink, *, team: Team, topic: str, severity: Severity, summary: str, user_id: str,
            steps: Sequence[PlannedStep], now: datetime, via: str, channel: str | None = None) -> Crisis:
    """Open a crisis by hand; Conflict when the topic already has an open one."""
    crisis = _declare(store, audit, team=team, topic=topic, severity=severity, summary=summary, user_id=user_id, steps=steps, now=now,
                      via=via, channel=channel)
    if crisis is None:
        existing = store.open_crisis_for_topic(team_id=team.id, topic=topic.strip())
        raise Conflict(f"{topic} already has an open crisis ({existing.title if existing else 'see `/crisis list`'}).")
    return crisis


@dataclass(frozen=True)
class Declared:
    crisis: Crisis
    joined: bool  # the topic already had an open crisis: this declaration was added to it


def declare_or_join(store: CrisisStore, audit: AuditSink, *, team: Team, topic: str, severity: Severity, severity_given: bool,
                    summary: str, user_id: str, steps: Sequence[PlannedStep], now: datetime, via: str,
                    channel: str | None = None) -> Declared:
    """Open a crisis by hand, or, when the topic already has an open one (even one opened a moment ago), join it.

    Joining records the declaration in the open crisis' timeline and raises its severity when a higher one was given.
    """
    for _ in range(3):  # the open crisis may close between our insert and our look-up; try again then
        opened = _declare(store, audit, team=team, topic=topic, severity=severity, summary=summary, user_id=user_id, steps=steps,
                          now=now, via=via, channel=channel)
        if opened is not None:
            return Declared(opened, joined=False)
        existing = store.open_crisis_for_topic(team_id=team.id, topic=topic.strip())
        if existing is not None:
            return Declared(_join(store, audit, existing, severity=severity if severity_given else None, summary=summary,
                                  user_id=user_id, now=now, via=via), joined=True)
    raise Conflict(f"{topic} keeps opening and closing; try `/crisis list`.")


def _join(store: CrisisStore, audit: AuditSink, existing: Crisis, *, severity: Severity | None, summary: str, user_id: str,
          now: datetime, via: str) -> Crisis:
    raised = severity is not None and store.raise_severity(crisis_id=existing.id, severity=severity)
    note = "Declared again" + (f" as {severity.label}" if raised and severity else "") + (f": {summary.strip()}" if summary.strip() else ".")
    store.record_event(crisis_id=existing.id, event=CrisisEvent(at=now, kind=EventKind.NOTE, actor=user_id, via=via, detail={"note": note}))
    store.touch(crisis_id=existing.id, at=now)
    _audit(audit, at=now, actor=user_id, action="crisis_declare_joined", via=via, crisis_id=existing.id, team=existing.workspace_id,
           after={"summary": summary.strip(), "severity": severity.label if raised and severity else None})
    return get(store, existing.id)


MAX_NOTE = 2000


def add_note(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, text: str, now: datetime, via: str) -> Crisis:
    """Append a note to the crisis record (closed crises too: notes after the fact belong to the record)."""
    note = text.strip()
    if not note:
        raise UsageError("The note is empty.", usage="`/crisis note <id> <text>`")
    if len(note) > MAX_NOTE:
        raise UsageError(f"Keep a note under {MAX_NOTE} characters ({len(note)} now).", usage="`/crisis note <id> <text>`")
    crisis = get(store, crisis_id)
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.NOTE, actor=user_id, via=via, detail={"note": note}))
    store.touch(crisis_id=crisis_id, at=now)  # a note is an update: it holds off "still on it?"
    _audit(audit, at=now, actor=user_id, action="crisis_note_added", via=via, crisis_id=crisis_id, team=crisis.workspace_id,
           after={"note": note})
    return get(store, crisis_id)


def notes(timeline: Sequence[CrisisEvent]) -> list[CrisisEvent]:
    """Return the notes people wrote (not the bot's own remarks), oldest first."""
    return [e for e in timeline if e.kind is EventKind.NOTE and e.actor != SYSTEM_ACTOR]


def card_state(crisis: Crisis) -> str:
    """Return a short key of what the card shows that changes with state; a DM copy is updated when it differs."""
    return f"{crisis.status.value}:{crisis.acked_by or '-'}:{len(crisis.responders)}:{int(crisis.severity)}:{crisis.commander or '-'}"


def open_detected(store: CrisisStore, audit: AuditSink, *, team: Team, topic: str, topic_id: int | None, severity: Severity,
                  stats: SpikeStats | None, steps: Sequence[PlannedStep], now: datetime) -> Crisis | None:
    """Open a crisis for a detected spike; None when the topic already has one (the spike joins it)."""
    new = NewCrisis(team_id=team.id, workspace_id=team.workspace_id, topic=topic, severity=severity, summary="",
                    origin="detected", declared_by=None, channel=team.channel, opened_at=now, steps=tuple(steps),
                    topic_id=topic_id, stats=stats)
    return _open(store, audit, new, actor=SYSTEM_ACTOR, via="scheduler")


def get(store: CrisisStore, crisis_id: int) -> Crisis:
    """Return the crisis or raise NotFound."""
    crisis = store.get_crisis(crisis_id)
    if crisis is None:
        raise NotFound(f"There is no crisis #{crisis_id}. `/crisis list` shows the open ones.")
    return crisis


def _require_open(crisis: Crisis) -> None:
    if crisis.status.closed:
        raise Conflict(f"Crisis {crisis.title} is already {'resolved' if crisis.status is Status.RESOLVED else 'closed as a false alarm'}.")


def acknowledge(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, now: datetime, via: str) -> Crisis:
    """Record the acknowledgement exactly once; later presses get Conflict naming who acknowledged."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    if not store.record_ack(crisis_id=crisis_id, user_id=user_id, at=now, via=via):
        current = get(store, crisis_id)
        _require_open(current)
        who = "you" if current.acked_by == user_id else f"<@{current.acked_by}>"
        raise Conflict(f"Already acknowledged by {who}.")
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.ACK, actor=user_id, via=via))
    _audit(audit, at=now, actor=user_id, action="crisis_acknowledged", via=via, crisis_id=crisis_id, team=crisis.workspace_id)
    return get(store, crisis_id)


def respond(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, now: datetime, via: str) -> Crisis:
    """Record that `user_id` is responding; the first responder also acknowledges an unacknowledged crisis."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    if crisis.acked_by is None and store.record_ack(crisis_id=crisis_id, user_id=user_id, at=now, via=via):
        store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.ACK, actor=user_id, via=via))
        _audit(audit, at=now, actor=user_id, action="crisis_acknowledged", via=via, crisis_id=crisis_id, team=crisis.workspace_id)
    if store.add_responder(crisis_id=crisis_id, user_id=user_id, at=now):
        store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.RESPONDING, actor=user_id, via=via))
        _audit(audit, at=now, actor=user_id, action="crisis_responding", via=via, crisis_id=crisis_id, team=crisis.workspace_id)
    store.touch(crisis_id=crisis_id, at=now)
    return get(store, crisis_id)


def escalate_now(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, now: datetime, via: str) -> PlannedStep:
    """Bring the next pending escalation step forward to now (later steps keep their spacing); return it."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    pending = store.pending_steps(crisis_id)
    if not pending:
        raise Conflict("Every escalation step has already run; page someone with `/crisis page @who`.")
    moved = shift_after_escalation(pending, escalated=pending[0].index, now=now)
    store.reschedule_steps(crisis_id=crisis_id, steps=moved)
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.ESCALATED, actor=user_id, via=via,
                                                              detail={"step": moved[0].index, "target": moved[0].target.value}))
    _audit(audit, at=now, actor=user_id, action="crisis_escalated", via=via, crisis_id=crisis_id, team=crisis.workspace_id,
           after={"step": moved[0].index})
    return moved[0]


def may_close(crisis: Crisis, user_id: str, *, on_call: Sequence[str], is_admin: bool) -> bool:
    """Return whether `user_id` may resolve the crisis: its acknowledger, a responder, whoever is on call, or an admin."""
    return is_admin or user_id in (crisis.acked_by, crisis.declared_by, *crisis.responders, *on_call)


def resolve(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, note: str, real: bool | None,
            on_call: Sequence[str], is_admin: bool, now: datetime, via: str, false_alarm: bool = False) -> Crisis:
    """Close the crisis once (resolved with a note and "was it real?", or a false alarm); NotAllowed for bystanders."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    if not may_close(crisis, user_id, on_call=on_call, is_admin=is_admin):
        raise NotAllowed("Only the person who acknowledged, a responder, whoever is on call or an admin can close this crisis.")
    status = Status.FALSE_ALARM if false_alarm else Status.RESOLVED
    if not store.close_crisis(crisis_id=crisis_id, user_id=user_id, at=now, status=status, note=note.strip() or None,
                              real=False if false_alarm else real):
        _require_open(get(store, crisis_id))
        raise Conflict("The crisis changed meanwhile; try again.")
    kind = EventKind.FALSE_ALARM if false_alarm else EventKind.RESOLVED
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=kind, actor=user_id, via=via,
                                                              detail={"note": note, "real": real}))
    _audit(audit, at=now, actor=user_id, action=f"crisis_{kind.value}", via=via, crisis_id=crisis_id, team=crisis.workspace_id,
           after={"note": note, "real": False if false_alarm else real})
    return get(store, crisis_id)


def _require_involved(crisis: Crisis, user_id: str, *, on_call: Sequence[str], is_admin: bool, action: str) -> None:
    if not may_close(crisis, user_id, on_call=on_call, is_admin=is_admin):
        raise NotAllowed(f"Only the person who acknowledged or declared, a responder, whoever is on call or an admin can {action}.")


def change_severity(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, severity: Severity,
                    on_call: Sequence[str], is_admin: bool, now: datetime, via: str) -> Crisis:
    """Set an open crisis' severity, up or down (the people on it decide); on the timeline and audited with before/after."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    _require_involved(crisis, user_id, on_call=on_call, is_admin=is_admin, action="change a crisis' severity")
    if crisis.severity is severity:
        raise Conflict(f"{crisis.title} is already {severity.label}.")
    if not store.set_severity(crisis_id=crisis_id, severity=severity):
        _require_open(get(store, crisis_id))
        raise Conflict("The crisis changed meanwhile; try again.")
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.SEVERITY, actor=user_id, via=via,
                                                              detail={"from": crisis.severity.label, "to": severity.label}))
    store.touch(crisis_id=crisis_id, at=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_severity_changed", via=via, target=f"crisis:{crisis_id}",
                             team_id=crisis.workspace_id, before={"severity": crisis.severity.label}, after={"severity": severity.label}))
    return get(store, crisis_id)


def assign_commander(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, commander: str,
                     on_call: Sequence[str], is_admin: bool, now: datetime, via: str) -> Crisis:
    """Name the crisis' commander (replacing any earlier one); on the timeline and audited with before/after."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    _require_involved(crisis, user_id, on_call=on_call, is_admin=is_admin, action="assign a crisis' commander")
    if crisis.commander == commander:
        raise Conflict(f"<@{commander}> is already the commander of {crisis.title}.")
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.ASSIGNED, actor=user_id, via=via, target=commander,
                                                              detail={"previous": crisis.commander}))
    store.touch(crisis_id=crisis_id, at=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_commander_assigned", via=via, target=f"crisis:{crisis_id}",
                             team_id=crisis.workspace_id, before={"commander": crisis.commander}, after={"commander": commander}))
    return get(store, crisis_id)


def page(store: CrisisStore, audit: AuditSink, *, crisis_id: int, user_id: str, who: str, now: datetime, via: str) -> Crisis:
    """Ask for `who` by hand; the caller delivers the page and records whether it arrived."""
    crisis = get(store, crisis_id)
    _require_open(crisis)
    _audit(audit, at=now, actor=user_id, action="crisis_page_requested", via=via, crisis_id=crisis_id, team=crisis.workspace_id,
           after={"who": who})
    store.touch(crisis_id=crisis_id, at=now)
    return crisis


# How a page went out (CrisisEvent.method). A person's page is recorded once as "dm" or "channel" (their App Home choice);
# when a DM fails, its channel replacement is recorded as "channel_fallback" so counts never see that one page twice.
PAGE_BY_DM = "dm"
PAGE_IN_CHANNEL = "channel"
PAGE_DM_FALLBACK = "channel_fallback"
PERSON_PAGE_METHODS = (PAGE_BY_DM, PAGE_IN_CHANNEL)


def is_person(target: str | None) -> bool:
    """Whether a page's target is one person (a user id), not a group mention such as <!here> or <!subteam^S…>."""
    return bool(target and not target.startswith(("<", "@", "!")))


def counts_as_person_page(method: str | None, target: str | None) -> bool:
    """Whether a recorded page counts as one page of a person in reports, stats and the burnout guard.

    Rule: every DM page and every by-choice channel mention of a person counts once, delivered or not; a failed DM's
    channel fallback is the same page (already counted as the failed DM); group mentions page nobody in particular.
    """
    return method in PERSON_PAGE_METHODS and is_person(target)


def reached_pages(pages: Sequence[tuple[int, str, datetime, str, bool]]) -> list[tuple[str, datetime]]:
    """Return (person, at) of the person pages in `pages` that reached them, each page once.

    `pages` holds (crisis_id, target, at, method, delivered). A failed DM whose channel fallback went out reached the
    person through the channel: it counts once, as that DM.
    """
    fell_back = {(crisis_id, target, at) for crisis_id, target, at, method, delivered in pages if method == PAGE_DM_FALLBACK and delivered}
    return [(target, at) for crisis_id, target, at, method, delivered in pages
            if counts_as_person_page(method, target) and (delivered or (method == PAGE_BY_DM and (crisis_id, target, at) in fell_back))]


def record_page(store: CrisisStore, audit: AuditSink, *, crisis_id: int, who: str, method: str, delivered: bool, step: int | None,
                actor: str, now: datetime, via: str, team: str | None = None) -> None:
    """Record one page (to whom, how, delivered or not) in the timeline and the audit table."""
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.PAGE, actor=actor, via=via, target=who,
                                                              method=method, delivered=delivered, detail={"step": step}))
    _audit(audit, at=now, actor=actor, action="crisis_paged", via=via, crisis_id=crisis_id, team=team,
           after={"who": who, "method": method, "delivered": delivered, "step": step})


def paged_in_step(timeline: Iterable[CrisisEvent], step: int) -> set[str]:
    """Return whom escalation step `step` has paged so far (every PAGE recorded with its index, arrived or not)."""
    return {e.target for e in timeline if e.kind is EventKind.PAGE and e.target and (e.detail or {}).get("step") == step}


def step_away(store: CrisisStore, audit: AuditSink, *, team: Team, user_id: str, minutes: int, now: datetime, via: str) -> datetime:
    """Send new pages for `user_id` to the backup for `minutes` (0 = back now); return until when."""
    if not 0 <= minutes <= MAX_AWAY.total_seconds() // 60:
        raise UsageError(f"Step away for 0 to {int(MAX_AWAY.total_seconds() // 3600)} hours.", usage="e.g. 30 (minutes)")
    if user_id not in team.on_call[:1]:
        raise NotAllowed(f"Only the primary of {team.name} can step away; the backup then takes new pages.")
    until = now + timedelta(minutes=minutes)
    store.set_away(team_id=team.id, user_id=user_id, until=until)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_stepped_away", via=via, target=f"team:{team.id}",
                             team_id=team.workspace_id, after={"until": until.isoformat()}))
    return until


def save_policy(store: CrisisStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, workspace_id: str,
                edit: Callable[[Policy], Policy], user_id: str, now: datetime, via: str) -> Policy:
    """Replace the team's escalation policy with `edit(current)` (admins only); audited with before and after.

    The admin check comes before `edit` reads what was typed, so a member hears "admins only", not a usage error.
    Open crises keep the chain they started with.
    """
    require_admin(admins, user_id, action="change escalation policies")
    before = store.policy(team_id)
    policy = edit(before)
    store.save_policy(team_id=team_id, policy=policy, user_id=user_id, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="escalation_policy_changed", via=via, target=f"team:{team_id}",
                             team_id=workspace_id, before=policy_record(before), after=policy_record(policy)))
    return policy


def still_on_it(store: CrisisStore, audit: AuditSink, *, crisis_id: int, now: datetime) -> Crisis | None:
    """Record a "still on it?" check of an acknowledged crisis with no update; None when it no longer applies."""
    crisis = store.get_crisis(crisis_id)
    if crisis is None or crisis.status is not Status.ACKNOWLEDGED:
        return None
    store.record_event(crisis_id=crisis_id, event=CrisisEvent(at=now, kind=EventKind.STILL_ON_IT, actor=SYSTEM_ACTOR, via="scheduler",
                                                              target=crisis.acked_by))
    _audit(audit, at=now, actor=SYSTEM_ACTOR, action="crisis_still_on_it", via="scheduler", crisis_id=crisis_id, team=crisis.workspace_id)
    return crisis


def step_applies(crisis: Crisis, step: PlannedStep) -> bool:
    """Return whether an escalation step should still page: the crisis is open and nobody acknowledged it."""
    return crisis.status is Status.OPEN and not (step.target is Target.MANAGERS and crisis.acked_by)


def team_of(rotation: TeamRotation, now: datetime) -> Team:
    """Return the crisis view of a team: its crisis channel (or announcement channel) and who is on call now."""
    shift = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(now)
    info = rotation.team
    return Team(id=info.id, name=info.name, workspace_id=info.workspace_id, channel=info.crisis_channel or info.announce_channel,
                usergroup_id=info.usergroup_id, on_call=tuple(u for u in (shift.primary, shift.backup, shift.shadow) if u))


def pick_crisis(store: CrisisStore, *, workspace_id: str, crisis_id: int | None) -> Crisis:
    """Return the crisis asked for, or the only open one when no id is given."""
    if crisis_id is not None:
        return get(store, crisis_id)
    open_now = store.list_crises(workspace_id=workspace_id, open_only=True)
    if len(open_now) != 1:
        listing = ", ".join(c.title for c in open_now) or "none"
        raise UsageError("Which crisis?", usage=f"Give its number; open crises: {listing}.")
    return open_now[0]


# --- detection: per-minute counters through the topic's spike detector ------------------------------

MINUTE = timedelta(minutes=1)
BACKFILL = timedelta(days=7)  # a newly watched topic learns its baseline from this much stored history
_STOPWORDS = frozenset(
    "a an and are at be but by for from has have i in is it its just my not of on or so that the this to was we were with you "
    "your again ever never new very all our out get got".split()
)


def minutes_between(since: datetime, until: datetime, buckets: Sequence[Bucket]) -> list[Bucket]:
    """Return one bucket per minute in [since, until), zero where nothing was stored (the detector needs every minute)."""
    stored = {b.at: b for b in buckets}
    filled: list[Bucket] = []
    at = since
    while at < until:
        filled.append(stored.get(at, Bucket(at=at, total=0.0, negative=0.0, reach=0.0)))
        at += MINUTE
    return filled


def detection_window(*, read_until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Return the whole minutes to feed next: from where the detector stopped (or the backfill start) to the current minute."""
    current = now.replace(second=0, microsecond=0)
    return (read_until or current - BACKFILL), current


def top_terms(texts: Sequence[str], limit: int = 6) -> tuple[str, ...]:
    """Return the hashtags, then words, that occur most in `texts` (stopwords and short words left out)."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in {w.strip(".,!?:;\"'()").lower() for w in text.split()}:
            if word.startswith("#") and len(word) > 2:
                counts[word] = counts.get(word, 0) + 1000  # hashtags first: they are what people search for
            elif len(word) > 3 and word.isalpha() and word not in _STOPWORDS:
                counts[word] = counts.get(word, 0) + 1
    return tuple(word for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit])


def language_mix(languages: Sequence[str | None], *, limit: int = 3) -> tuple[tuple[str, float], ...]:
    """Share of each language among the negative mentions (undetected ones count in the total), largest first."""
    if not languages:
        return ()
    counts: dict[str, int] = {}
    for code in languages:
        if code:
            counts[code] = counts.get(code, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return tuple((code, count / len(languages)) for code, count in ranked)


def describe_language_mix(mix: Sequence[tuple[str, float]]) -> str:
    """`62 % it, 30 % en`."""
    return ", ".join(f"{share:.0%} {code}".replace("%", " %", 1) for code, share in mix)


_LINK = re.compile(r"https?://\S+")
_NOT_WORD = re.compile(r"[\W_]+")


def _same_post_key(mention: dict[str, Any]) -> str:
    """Return what makes two mentions the same post for the card: the words, ignoring case, links and punctuation."""
    words = _NOT_WORD.sub(" ", _LINK.sub(" ", str(mention.get("text") or "")).casefold()).strip()
    return words or str(mention.get("url") or id(mention))


def distinct_mentions(mentions: Sequence[dict[str, Any]], *, limit: int = 5) -> list[dict[str, Any]]:
    """Return up to `limit` mentions, the first (most reached) of each text: retweets and cross-posts repeat it."""
    seen: set[str] = set()
    kept = []
    for mention in mentions:
        key = _same_post_key(mention)
        if key in seen:
            continue
        seen.add(key)
        kept.append(mention)
        if len(kept) == limit:
            break
    return kept


def spike_stats(buckets: Sequence[Bucket], *, expected_per_minute: float, mentions: Sequence[dict[str, Any]],
                window: timedelta = timedelta(minutes=15), negative_languages: Sequence[str | None] = ()) -> SpikeStats:
    """Return the card's numbers: the last `window` of negatives vs the baseline, the share, the series, top mentions and terms."""
    size = max(1, int(window / MINUTE))
    recent = list(buckets)[-size:]
    negative = sum(b.negative for b in recent)
    total = sum(b.total for b in recent)
    return SpikeStats(window_minutes=size, negative=int(negative), baseline=round(expected_per_minute * size, 1),
                      negative_share=negative / total if total else 0.0, series=tuple(b.negative for b in list(buckets)[-60:]),
                      top_mentions=tuple(distinct_mentions(mentions)), top_terms=top_terms([str(m.get("text", "")) for m in mentions]),
                      languages=language_mix(negative_languages))
