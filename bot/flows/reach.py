"""Paging beyond Slack: plan a step's provider pages (phone call, SMS, PagerDuty, Opsgenie), send each once, retry a
provider that is down for a minute and then hand the page to the next escalation step (telling the admins), resolve
the hand-offs when the crisis resolves, and take acknowledgements from the providers' webhooks.

Pure use cases over ports; the step kind picks the sender port (`senders[kind]`). The ledger row per crisis, step,
person and kind is inserted once and claimed with a lease before sending, so repeats and several instances send once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import crisis as crisis_use
from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink
from bot.crisis import Crisis, CrisisStore, Status
from bot.errors import Conflict
from bot.reach import (
    HandOn, PersonReach, ProviderPage, ProviderRejected, ProviderUnavailable, Retry, StepKind, after_failure, phone_may_ring,
)

SEND_LEASE = timedelta(minutes=2)
HANDOFF_KINDS = (StepKind.pagerduty.value, StepKind.opsgenie.value)


class PageLedger(Protocol):
    def plan(self, *, crisis_id: int, step: int, user_id: str, kind: str, now: datetime) -> ProviderPage | None: ...
    def get(self, page_id: int) -> ProviderPage | None: ...
    def claim(self, page_id: int, *, now: datetime, lease: timedelta) -> ProviderPage | None: ...
    def finish(self, page_id: int, *, status: str, at: datetime, external_id: str | None = None, error: str | None = None) -> None: ...
    def retry_at(self, page_id: int, *, due_at: datetime, error: str) -> None: ...
    def for_crisis(self, crisis_id: int) -> list[ProviderPage]: ...
    def by_external(self, *, kinds: tuple[str, ...], external_id: str) -> ProviderPage | None: ...
    def mark_acked(self, page_id: int, *, at: datetime) -> bool: ...
    def due(self, now: datetime) -> list[ProviderPage]: ...
    def release_expired(self, now: datetime) -> None: ...


class ReachLookup(Protocol):
    def person_reach(self, workspace_id: str, user_id: str) -> PersonReach | None: ...


class PageSender(Protocol):
    """One provider as a step kind sees it: send a page (return the provider's id for it), and undo a hand-off."""

    def send(self, page: ProviderPage, crisis: Crisis, *, to: str | None) -> str: ...
    def resolve(self, page: ProviderPage) -> None: ...


class Followers(Protocol):
    """What the flow sets going: a later attempt, the next step brought forward, a DM to the admins."""

    def deliver_later(self, page_id: int, at: datetime) -> None: ...
    def run_due_steps(self, crisis_id: int) -> None: ...
    def tell_admins(self, text: str, *, key: str) -> None: ...


def spoken(crisis: Crisis) -> str:
    return f"socialops: {crisis.severity.label} crisis {crisis.id} on {crisis.topic} needs an acknowledgement."


def dedup_key(crisis_id: int) -> str:
    """The PagerDuty dedup key / Opsgenie alias of a crisis: one incident per crisis however many steps hand off."""
    return f"socialops-crisis-{crisis_id}"


@dataclass
class CallSender:
    phone: object  # bot.provider_clients.TwilioPhone (call)
    gather_url: Callable[[int], str]  # page id -> the <Gather> action URL (Twilio signs its post there)
    twiml: Callable[..., str]  # bot.provider_clients.call_twiml: "say this, press 1 to acknowledge"

    def send(self, page: ProviderPage, crisis: Crisis, *, to: str | None) -> str:
        assert to is not None
        return self.phone.call(to=to, twiml=self.twiml(spoken=spoken(crisis), gather_url=self.gather_url(page.id)))  # type: ignore[attr-defined]

    def resolve(self, page: ProviderPage) -> None:
        return None  # a call that was placed is over by itself


@dataclass
class SmsSender:
    phone: object  # bot.provider_clients.TwilioPhone (sms)

    def send(self, page: ProviderPage, crisis: Crisis, *, to: str | None) -> str:
        assert to is not None
        body = f"{spoken(crisis)} Acknowledge in Slack: /crisis ack {crisis.id}"
        return self.phone.sms(to=to, body=body)  # type: ignore[attr-defined]

    def resolve(self, page: ProviderPage) -> None:
        return None


@dataclass
class PagerDutySender:
    events: object  # bot.provider_clients.PagerDutyEvents

    def send(self, page: ProviderPage, crisis: Crisis, *, to: str | None) -> str:
        return self.events.trigger(dedup_key=dedup_key(crisis.id), summary=f"{crisis.title}: {crisis.summary or 'negative-mention spike'}",  # type: ignore[attr-defined]
                                   severity=crisis.severity.label)

    def resolve(self, page: ProviderPage) -> None:
        self.events.resolve(dedup_key=page.external_id or dedup_key(page.crisis_id))  # type: ignore[attr-defined]


@dataclass
class OpsgenieSender:
    alerts: object  # bot.provider_clients.OpsgenieAlerts

    def send(self, page: ProviderPage, crisis: Crisis, *, to: str | None) -> str:
        return self.alerts.trigger(alias=dedup_key(crisis.id), message=crisis.title, severity=crisis.severity.label,  # type: ignore[attr-defined]
                                   description=crisis.summary)

    def resolve(self, page: ProviderPage) -> None:
        self.alerts.close(alias=page.external_id or dedup_key(page.crisis_id))  # type: ignore[attr-defined]


def plan_step_pages(crisis: Crisis, *, step: int, people: Sequence[str], kind: StepKind, ledger: PageLedger, reach: ReachLookup,
                    in_quiet_hours: Callable[[str], bool], now: datetime) -> tuple[list[ProviderPage], list[str]]:
    """Plan the step's pages of `kind` for `people`; return (new pages, people skipped: no verified phone or their quiet rule).

    A hand-off (PagerDuty, Opsgenie) is one per step, whoever the step names.
    """
    planned, skipped = [], []
    if kind is StepKind.slack:
        return [], []
    if kind.rings_a_phone:
        for user_id in people:
            person = reach.person_reach(crisis.workspace_id, user_id)
            # Per person: a verified number, this kind among the ones they accept, and their quiet-hours rule.
            if person is None or kind not in person.kinds or not phone_may_ring(person, crisis.severity, in_quiet_hours=in_quiet_hours(user_id)):
                skipped.append(user_id)
                continue
            page = ledger.plan(crisis_id=crisis.id, step=step, user_id=user_id, kind=kind.value, now=now)
            if page is not None:
                planned.append(page)
        return planned, skipped
    page = ledger.plan(crisis_id=crisis.id, step=step, user_id=people[0] if people else "", kind=kind.value, now=now)
    return ([page] if page is not None else []), []


@dataclass(frozen=True)
class Delivered:
    page_id: int
    outcome: str  # sent, retry, handed_on, skipped, rejected, taken (another runner has it)


def deliver(page_id: int, *, ledger: PageLedger, crises: CrisisStore, audit: AuditSink, reach: ReachLookup,
            senders: Mapping[str, PageSender], follow: Followers, now: datetime) -> Delivered:
    """Send one planned page once; on an outage retry inside the window, then hand it to the next step and tell the admins."""
    page = ledger.claim(page_id, now=now, lease=SEND_LEASE)
    if page is None:
        return Delivered(page_id, "taken")
    crisis = crises.get_crisis(page.crisis_id)
    if crisis is None or crisis.status is not Status.OPEN:
        # Acknowledged or closed meanwhile: a call now would wake someone for nothing.
        ledger.finish(page_id, status="skipped", at=now)
        return Delivered(page_id, "skipped")
    sender = senders.get(page.kind)
    person = reach.person_reach(crisis.workspace_id, page.user_id) if StepKind(page.kind).rings_a_phone else None
    if sender is None or (StepKind(page.kind).rings_a_phone and (person is None or person.verified_phone is None)):
        return _hand_on(page, crisis, ledger=ledger, audit=audit, follow=follow, now=now, reason=f"{page.kind} is not set up")
    try:
        external_id = sender.send(page, crisis, to=person.verified_phone if person else None)
    except ProviderUnavailable as outage:
        decision = after_failure(first_attempt_at=page.created_at, attempts=page.attempts, retry_after=outage.retry_after, now=now,
                                 reason=str(outage))
        if isinstance(decision, Retry):
            ledger.retry_at(page_id, due_at=decision.at, error=str(outage))
            follow.deliver_later(page_id, decision.at)
            return Delivered(page_id, "retry")
        return _hand_on(page, crisis, ledger=ledger, audit=audit, follow=follow, now=now, reason=decision.reason)
    except ProviderRejected as refusal:
        return _hand_on(page, crisis, ledger=ledger, audit=audit, follow=follow, now=now, reason=str(refusal), status="rejected")
    ledger.finish(page_id, status="sent", at=now, external_id=external_id)
    crisis_use.record_page(crises, audit, crisis_id=crisis.id, who=page.user_id, method=page.kind, delivered=True, step=page.step,
                           actor=SYSTEM_ACTOR, now=now, via="scheduler", team=crisis.workspace_id)
    return Delivered(page_id, "sent")


def _hand_on(page: ProviderPage, crisis: Crisis, *, ledger: PageLedger, audit: AuditSink, follow: Followers, now: datetime, reason: str,
             status: str = "handed_on") -> Delivered:
    ledger.finish(page.id, status=status, at=now, error=reason)
    audit.record(AuditRecord(at=now, actor=SYSTEM_ACTOR, action="provider_page_handed_on", via="scheduler", target=f"crisis:{crisis.id}",
                             team_id=crisis.workspace_id, after={"kind": page.kind, "who": page.user_id, "step": page.step, "reason": reason}))
    follow.tell_admins(f"The {page.kind} page for crisis #{crisis.id} ({crisis.topic}) to <@{page.user_id}> could not go out ({reason}); "
                       "I moved on to the next escalation step.", key=f"provider-handed-on:{page.id}")
    follow.run_due_steps(crisis.id)
    return Delivered(page.id, "handed_on" if status == "handed_on" else "rejected")


def next_step_now(crises: CrisisStore, audit: AuditSink, *, crisis_id: int, now: datetime) -> bool:
    """Bring the crisis' next escalation step forward to now (the provider of this one is down); False when none is left."""
    try:
        crisis_use.escalate_now(crises, audit, crisis_id=crisis_id, user_id=SYSTEM_ACTOR, now=now, via="scheduler")
    except Conflict:
        return False
    return True


def resolve_handoffs(crisis_id: int, *, ledger: PageLedger, senders: Mapping[str, PageSender], now: datetime) -> list[int]:
    """Resolve every PagerDuty/Opsgenie hand-off of a resolved crisis, once; return the page ids resolved."""
    done = []
    for page in ledger.for_crisis(crisis_id):
        if page.kind in HANDOFF_KINDS and page.status in ("sent", "acked") and page.kind in senders:
            senders[page.kind].resolve(page)
            ledger.finish(page.id, status="resolved", at=now)
            done.append(page.id)
    return done


def acknowledge_from_provider(kind: str, external_id: str, *, ledger: PageLedger, crises: CrisisStore, audit: AuditSink,
                              now: datetime) -> Crisis | None:
    """Record an acknowledgement made at the provider (a key pressed, PagerDuty/Opsgenie ack) as the person's ack, once."""
    kinds = (StepKind.call.value,) if kind == StepKind.call.value else (kind,)
    page = ledger.by_external(kinds=kinds, external_id=external_id)
    if page is None:
        return None
    if not ledger.mark_acked(page.id, at=now):
        return crises.get_crisis(page.crisis_id)  # the same webhook again (providers retry): nothing new
    try:
        return crisis_use.acknowledge(crises, audit, crisis_id=page.crisis_id, user_id=page.user_id or SYSTEM_ACTOR, now=now, via=kind)
    except Conflict:
        return crises.get_crisis(page.crisis_id)  # acknowledged already in Slack, or closed
