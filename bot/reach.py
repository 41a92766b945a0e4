"""Reaching people beyond Slack: which escalation step kinds exist (Slack, phone call, SMS, PagerDuty, Opsgenie),
each person's verified phone and quiet-hours rule, and what to do when a provider is down.

Pure. A step kind is offered only when its provider is configured; a phone step rings only a verified number, and
during the person's quiet hours only at the severities their rule allows. A provider answering 429/5xx is retried
for RETRY_WINDOW, then the page is handed to the next escalation step (and the admins are told).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.errors import Conflict, NotFound, UsageError
from bot.spikes import Severity

RETRY_WINDOW = timedelta(minutes=1)  # past this a failing provider's page moves to the next step
MAX_BACKOFF = timedelta(seconds=15)
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class StepKind(StrEnum):
    slack = "slack"
    call = "call"
    sms = "sms"
    pagerduty = "pagerduty"
    opsgenie = "opsgenie"

    @property
    def rings_a_phone(self) -> bool:
        return self in (StepKind.call, StepKind.sms)


@dataclass(frozen=True)
class ProvidersConfigured:
    """Which providers have credentials in the settings."""

    twilio: bool = False
    pagerduty: bool = False
    opsgenie: bool = False


def offered_kinds(configured: ProvidersConfigured) -> tuple[StepKind, ...]:
    """Return the step kinds an admin may choose: Slack always, the others only with their provider configured."""
    kinds = [StepKind.slack]
    if configured.twilio:
        kinds += [StepKind.call, StepKind.sms]
    if configured.pagerduty:
        kinds.append(StepKind.pagerduty)
    if configured.opsgenie:
        kinds.append(StepKind.opsgenie)
    return tuple(kinds)


def require_offered(kinds: Sequence[str], configured: ProvidersConfigured) -> None:
    """Refuse a policy naming a step kind whose provider has no credentials here."""
    for kind in kinds:
        parse_kind(kind, configured)


def parse_kind(word: str, configured: ProvidersConfigured) -> StepKind:
    """Return the step kind named by `word`; UsageError naming the offered ones when it is unknown or not configured."""
    offered = offered_kinds(configured)
    usage = "Step kinds here: " + ", ".join(k.value for k in offered) + "."
    try:
        kind = StepKind(word.strip().lower())
    except ValueError:
        raise UsageError(f"{word!r} is not a step kind.", usage=usage) from None
    if kind not in offered:
        raise UsageError(f"{kind.value} is not set up on this bot (its provider has no credentials).", usage=usage)
    return kind


class QuietChoice(StrEnum):
    slack = "slack"  # during quiet hours: Slack only, no call or SMS
    phone = "phone"  # during quiet hours: the phone steps ring as well


DEFAULT_QUIET = {Severity.SEV1: QuietChoice.phone, Severity.SEV2: QuietChoice.phone, Severity.SEV3: QuietChoice.slack}
QUIET_USAGE = "`/crisis reach quiet sev1=phone sev2=phone sev3=slack` (phone or slack for each severity, during your quiet hours)"


@dataclass(frozen=True)
class QuietRule:
    choices: Mapping[Severity, QuietChoice] = field(default_factory=lambda: dict(DEFAULT_QUIET))

    def choice(self, severity: Severity) -> QuietChoice:
        return self.choices.get(severity, DEFAULT_QUIET[severity])

    def to_dict(self) -> dict[str, str]:
        return {severity.label.lower(): self.choice(severity).value for severity in Severity}

    @classmethod
    def from_dict(cls, data: Mapping[str, str] | None) -> QuietRule:
        if not data:
            return cls()
        return cls({s: QuietChoice(data.get(s.label.lower(), DEFAULT_QUIET[s].value)) for s in Severity})


def parse_quiet_rule(words: Sequence[str], current: QuietRule) -> QuietRule:
    """Parse `sev1=phone sev3=slack`; severities not named keep their current choice."""
    if not words:
        raise UsageError("Say which severity rings your phone during quiet hours.", usage=QUIET_USAGE)
    choices = dict(current.choices)
    for word in words:
        key, _, value = word.partition("=")
        severity = {"sev1": Severity.SEV1, "sev2": Severity.SEV2, "sev3": Severity.SEV3}.get(key.strip().lower())
        if severity is None or value.strip().lower() not in ("phone", "slack"):
            raise UsageError(f"{word!r} is not severity=phone|slack.", usage=QUIET_USAGE)
        choices[severity] = QuietChoice(value.strip().lower())
    return QuietRule(choices)


@dataclass(frozen=True)
class PersonReach:
    workspace_id: str
    user_id: str
    phone: str | None = None
    phone_verified_at: datetime | None = None
    quiet: QuietRule = field(default_factory=QuietRule)
    kinds: tuple[StepKind, ...] = (StepKind.call, StepKind.sms)  # the phone step kinds this person accepts (none: Slack only)

    @property
    def verified_phone(self) -> str | None:
        return self.phone if self.phone and self.phone_verified_at else None


def phone_may_ring(reach: PersonReach | None, severity: Severity, *, in_quiet_hours: bool) -> bool:
    """Whether a call or SMS step may go to this person now: a verified number, and their rule allows it in quiet hours."""
    if reach is None or reach.verified_phone is None:
        return False
    return not in_quiet_hours or reach.quiet.choice(severity) is QuietChoice.phone


# --- verifying a number once, by a code sent to it --------------------------------------------------------


@dataclass(frozen=True)
class PendingCode:
    phone: str
    code_hash: str
    expires_at: datetime
    attempts: int


class ReachStore(Protocol):
    def person_reach(self, workspace_id: str, user_id: str) -> PersonReach | None: ...
    def pending_code(self, workspace_id: str, user_id: str) -> PendingCode | None: ...
    def start_verification(self, *, workspace_id: str, user_id: str, phone: str, code_hash: str, expires_at: datetime, now: datetime) -> None: ...
    def count_code_attempt(self, *, workspace_id: str, user_id: str) -> int: ...  # returns the attempts so far
    def mark_verified(self, *, workspace_id: str, user_id: str, phone: str, now: datetime) -> None: ...
    def save_quiet_rule(self, *, workspace_id: str, user_id: str, rule: QuietRule, now: datetime) -> None: ...
    def save_kinds(self, *, workspace_id: str, user_id: str, kinds: tuple[StepKind, ...], now: datetime) -> None: ...


class CodeTexter(Protocol):
    """Texts a verification code (bot.provider_clients.TwilioPhone)."""

    def sms(self, *, to: str, body: str) -> str: ...


def parse_kinds(words: Sequence[str], configured: ProvidersConfigured) -> tuple[StepKind, ...]:
    """Return the phone kinds a person chose (`call sms`; `slack` alone means none); only configured ones."""
    kinds = [parse_kind(w, configured) for w in words]
    if not kinds:
        raise UsageError("Which kinds?", usage="`/crisis reach kinds call sms` or `/crisis reach kinds slack`")
    phone = tuple(dict.fromkeys(k for k in kinds if k.rings_a_phone))
    if len(phone) != len([k for k in kinds if k is not StepKind.slack]):
        raise UsageError("PagerDuty and Opsgenie are the team's hand-offs, not a way to reach one person.",
                         usage="`/crisis reach kinds call sms` or `/crisis reach kinds slack`")
    return phone


def normalise_phone(text: str) -> str:
    """Return the number in E.164 (+ then 8-15 digits; spaces, dots, dashes and brackets dropped); UsageError otherwise."""
    number = re.sub(r"[\s().-]", "", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not _E164.match(number):
        raise UsageError(f"{text!r} is not a phone number in international form.", usage="e.g. `/crisis reach phone +39 333 123 4567`")
    return number


def code_hash(*, user_id: str, phone: str, code: str) -> str:
    """Hash a verification code with whose and which number it is: the table never holds a usable code."""
    return hashlib.sha256(f"{user_id}|{phone}|{code}".encode()).hexdigest()


def start_verification(store: ReachStore, *, workspace_id: str, user_id: str, phone_text: str, code: str, now: datetime) -> str:
    """Remember the number unverified with the code's hash; return the number (the caller texts `code` to it)."""
    phone = normalise_phone(phone_text)
    store.start_verification(workspace_id=workspace_id, user_id=user_id, phone=phone, code_hash=code_hash(user_id=user_id, phone=phone, code=code),
                             expires_at=now + CODE_LIFETIME, now=now)
    return phone


def confirm_code(store: ReachStore, *, workspace_id: str, user_id: str, code: str, now: datetime) -> str:
    """Verify the number with the code it received; return the number. Expired, wrong or too many tries are refused."""
    pending = store.pending_code(workspace_id, user_id)
    if pending is None:
        raise NotFound("No code is waiting: start with `/crisis reach phone +…`.")
    if now >= pending.expires_at:
        raise Conflict("That code expired; ask for a new one with `/crisis reach phone +…`.")
    if store.count_code_attempt(workspace_id=workspace_id, user_id=user_id) > MAX_CODE_ATTEMPTS:
        raise Conflict("Too many wrong codes; ask for a new one with `/crisis reach phone +…`.")
    if not hmac.compare_digest(pending.code_hash, code_hash(user_id=user_id, phone=pending.phone, code=code.strip())):
        raise UsageError("That code is not the one I sent.", usage="`/crisis reach verify 123456`")
    store.mark_verified(workspace_id=workspace_id, user_id=user_id, phone=pending.phone, now=now)
    return pending.phone


@dataclass(frozen=True)
class ProviderPage:
    """One page through a provider for a crisis step and person (storage/reach.py keeps the ledger)."""

    id: int
    crisis_id: int
    step: int
    user_id: str
    kind: str
    status: str
    attempts: int
    external_id: str | None
    created_at: datetime
    due_at: datetime



# --- provider outages --------------------------------------------------------------------------------------


class ProviderUnavailable(Exception):
    """The provider answered 429/5xx or could not be reached: try again later (after `retry_after` when it said)."""

    def __init__(self, provider: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(f"{provider} unavailable ({status if status is not None else 'no answer'})")
        self.provider, self.status, self.retry_after = provider, status, retry_after


class ProviderRejected(Exception):
    """The provider refused the request for good (4xx other than 429): no retry, the page moves on."""

    def __init__(self, provider: str, status: int, detail: str = "") -> None:
        super().__init__(f"{provider} rejected the request ({status}{': ' + detail if detail else ''})")
        self.provider, self.status = provider, status


@dataclass(frozen=True)
class Retry:
    at: datetime


@dataclass(frozen=True)
class HandOn:
    reason: str


def after_failure(*, first_attempt_at: datetime, attempts: int, retry_after: float | None, now: datetime,
                  reason: str) -> Retry | HandOn:
    """Retry with backoff (or the provider's Retry-After) while inside RETRY_WINDOW; after it, hand the page on."""
    wait = timedelta(seconds=retry_after) if retry_after is not None else min(MAX_BACKOFF, timedelta(seconds=2 ** max(0, attempts - 1)))
    at = now + min(wait, MAX_BACKOFF)
    if at - first_attempt_at > RETRY_WINDOW:
        return HandOn(reason)
    return Retry(at)
