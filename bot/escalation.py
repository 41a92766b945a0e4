"""Escalation policy: who a crisis pages at each step of its chain, and when each step is due. Pure.

A policy is frozen into a crisis' step rows when the crisis opens (deadlines live in the database), so a
policy edited mid-crisis changes the next crisis, not the chain already running.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.errors import UsageError

MAX_REPEAT = 5


class Target(StrEnum):
    """Whom one step pages."""

    PRIMARY = "primary"
    BACKUP = "backup"
    PRIMARY_AND_BACKUP = "both"
    GROUP = "group"  # the on-call user group (or @here) in the crisis channel
    MANAGERS = "managers"  # the workspace's socialops admins


@dataclass(frozen=True)
class PolicyStep:
    target: Target
    wait: timedelta  # how long this step waits for an acknowledgement before the next one
    kind: str = "slack"  # bot.reach.StepKind: slack, or also a call, SMS, PagerDuty or Opsgenie (bot/flows/reach.py)


@dataclass(frozen=True)
class Policy:
    steps: tuple[PolicyStep, ...]
    repeat: int = 2  # the whole chain runs this many times, then the bot stops paging
    still_on_it_after: timedelta = timedelta(minutes=30)  # an acked crisis with no update this long gets "still on it?"

    def __post_init__(self) -> None:
        if not self.steps:
            raise UsageError("An escalation policy needs at least one step.", usage="e.g. primary 5, backup 10, group 15, managers")
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise UsageError(f"Repeat must be between 1 and {MAX_REPEAT}.", usage="e.g. repeat 2")
        if any(step.wait <= timedelta(0) for step in self.steps):
            raise UsageError("Every wait must be at least a minute.", usage="e.g. primary 5, backup 10")


DEFAULT_POLICY = Policy(steps=(
    PolicyStep(Target.PRIMARY, timedelta(minutes=5)),
    PolicyStep(Target.BACKUP, timedelta(minutes=10)),
    PolicyStep(Target.GROUP, timedelta(minutes=15)),
    PolicyStep(Target.MANAGERS, timedelta(minutes=15)),
))


@dataclass(frozen=True)
class PlannedStep:
    index: int  # 0 is the first page, sent when the crisis opens
    target: Target
    due_at: datetime
    kind: str = "slack"  # the policy step's kind beyond Slack (bot.reach.StepKind)


def plan_chain(policy: Policy, opened_at: datetime, *, campaign: bool = False) -> list[PlannedStep]:
    """Return every step of the chain with its deadline; during a campaign the first page goes to primary and backup."""
    if opened_at.tzinfo is None:
        raise ValueError("plan_chain needs an aware datetime")
    planned: list[PlannedStep] = []
    due = opened_at
    for index in range(len(policy.steps) * policy.repeat):
        step = policy.steps[index % len(policy.steps)]
        target = Target.PRIMARY_AND_BACKUP if campaign and index == 0 and step.target is Target.PRIMARY else step.target
        planned.append(PlannedStep(index, target, due, step.kind))
        due += step.wait
    return planned


def shift_after_escalation(steps: Sequence[PlannedStep], *, escalated: int, now: datetime) -> list[PlannedStep]:
    """Return the steps from `escalated` on, moved so `escalated` is due now and the waits between them are kept."""
    later = [s for s in steps if s.index >= escalated]
    if not later:
        return []
    delta = now - later[0].due_at
    return [PlannedStep(s.index, s.target, s.due_at + delta, s.kind) for s in later]


@dataclass(frozen=True)
class OnCall:
    """Who holds each role when a step runs, and who has stepped away."""

    primary: str | None
    backup: str | None
    shadow: str | None = None
    away: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Recipients:
    """Whom one step reaches: people by DM (mentioned in the channel too), and a channel-wide mention."""

    dm: tuple[str, ...]
    cc: tuple[str, ...] = ()  # notified but not paged (the shadow)
    channel_mention: str | None = None  # "<!subteam^S…>" or "<!here>"
    covered_by_backup: bool = False  # the primary stepped away, so the backup was paged instead


def recipients(target: Target, on_call: OnCall, *, managers: Iterable[str], usergroup_id: str | None) -> Recipients:
    """Return whom `target` pages now; a primary who stepped away is covered by the backup."""
    primary_away = on_call.primary is not None and on_call.primary in on_call.away
    primary = on_call.backup if primary_away else on_call.primary
    if target is Target.PRIMARY:
        people = [primary]
    elif target is Target.BACKUP:
        people = [on_call.backup]
    elif target is Target.PRIMARY_AND_BACKUP:
        people = [primary, on_call.backup]
    elif target is Target.MANAGERS:
        people = list(managers)
    else:
        mention = f"<!subteam^{usergroup_id}>" if usergroup_id else "<!here>"
        return Recipients(dm=(), channel_mention=mention)
    dm = tuple(dict.fromkeys(p for p in people if p))
    cc = (on_call.shadow,) if target in (Target.PRIMARY, Target.PRIMARY_AND_BACKUP) and on_call.shadow and on_call.shadow not in dm else ()
    if not dm:
        # Nobody holds the role (a gap in the schedule): fall back to the whole channel rather than page no one.
        return Recipients(dm=(), cc=cc, channel_mention=f"<!subteam^{usergroup_id}>" if usergroup_id else "<!here>")
    return Recipients(dm=dm, cc=cc, covered_by_backup=primary_away and target is not Target.BACKUP)


def still_on_it_due(*, acked_at: datetime | None, last_activity_at: datetime, policy: Policy) -> datetime | None:
    """Return when to ask an acknowledger "still on it?", or None when the crisis is not acknowledged."""
    if acked_at is None:
        return None
    return max(acked_at, last_activity_at) + policy.still_on_it_after


STEP_KINDS = ("slack", "call", "sms", "pagerduty", "opsgenie")  # bot.reach.StepKind; which are offered depends on the settings


def parse_policy(text: str, *, repeat: int = 2, still_on_it_minutes: int = 30) -> Policy:
    """Parse "primary 5, backup 10, group 15, managers 15" (minutes to wait after each step) into a Policy."""
    usage = "e.g. `primary 5, backup 10 call, group 15 pagerduty, managers 15` (minutes to wait after each step, then its kind beyond Slack)"
    steps: list[PolicyStep] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.split()
        try:
            target = Target(words[0].lower())
        except ValueError:
            raise UsageError(f"{words[0]!r} is not a step (primary, backup, both, group, managers).", usage=usage) from None
        minutes = words[1] if len(words) > 1 else "15"
        if not minutes.isdigit() or len(words) > 3:
            raise UsageError(f"{part!r}: give the wait in whole minutes (then, optionally, call, sms, pagerduty or opsgenie).", usage=usage)
        kind = words[2].lower() if len(words) > 2 else "slack"
        if kind not in STEP_KINDS:
            raise UsageError(f"{words[2]!r} is not a step kind ({', '.join(STEP_KINDS)}).", usage=usage)
        steps.append(PolicyStep(target, timedelta(minutes=int(minutes)), kind))
    return Policy(steps=tuple(steps), repeat=repeat, still_on_it_after=timedelta(minutes=still_on_it_minutes))


def describe_policy(policy: Policy) -> str:
    """Return the policy in the form parse_policy reads."""
    return ", ".join(f"{s.target.value} {int(s.wait.total_seconds() // 60)}" + (f" {s.kind}" if s.kind != "slack" else "") for s in policy.steps)


# --- the policy form (`/crisis policy` modal) ------------------------------------------------------------

FORM_ROWS = 6  # step rows in the modal; empty rows are ignored
MAX_WAIT_MINUTES = 24 * 60
MIN_STILL_ON_IT, MAX_STILL_ON_IT = 5, 24 * 60


class PolicyFormErrors(Exception):
    """The policy form has problems; `errors` maps an input block id to its message (shown next to the field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def step_block_ids(row: int) -> tuple[str, str]:
    """Return the block ids of row `row`'s target select and wait input."""
    return f"step{row}_target", f"step{row}_wait"


def _whole_number(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def read_policy_form(values: dict[str, object]) -> Policy:
    """Build a Policy from the modal's {block_id: value}; PolicyFormErrors names each bad field."""
    errors: dict[str, str] = {}
    steps: list[PolicyStep] = []
    for row in range(FORM_ROWS):
        target_id, wait_id = step_block_ids(row)
        target, wait = values.get(target_id), values.get(wait_id)
        if not target and (wait is None or str(wait).strip() == ""):
            continue
        if not target:
            errors[target_id] = "Choose whom this step pages, or clear its wait."
            continue
        try:
            chosen = Target(str(target))
        except ValueError:
            errors[target_id] = f"{target!r} is not a step."
            continue
        minutes = _whole_number(wait)
        if minutes is None or not 1 <= minutes <= MAX_WAIT_MINUTES:
            errors[wait_id] = f"Wait 1 to {MAX_WAIT_MINUTES} whole minutes before the next step."
            continue
        steps.append(PolicyStep(chosen, timedelta(minutes=minutes)))
    if not steps and not errors:
        errors[step_block_ids(0)[0]] = "An escalation policy needs at least one step."
    repeat = _whole_number(values.get("repeat"))
    if repeat is None or not 1 <= repeat <= MAX_REPEAT:
        errors["repeat"] = f"Run the chain 1 to {MAX_REPEAT} times."
    still = _whole_number(values.get("still_on_it"))
    if still is None or not MIN_STILL_ON_IT <= still <= MAX_STILL_ON_IT:
        errors["still_on_it"] = f"Ask \"still on it?\" after {MIN_STILL_ON_IT} to {MAX_STILL_ON_IT} minutes without an update."
    if errors:
        raise PolicyFormErrors(errors)
    assert repeat is not None and still is not None
    return Policy(steps=tuple(steps), repeat=repeat, still_on_it_after=timedelta(minutes=still))


def keep_step_kinds(edited: Policy, current: Policy) -> Policy:
    """Return the form's policy with each row keeping the kind its step had (the form edits targets and waits only)."""
    steps = tuple(replace(step, kind=current.steps[i].kind) if i < len(current.steps) else step for i, step in enumerate(edited.steps))
    return replace(edited, steps=steps)


def policy_record(policy: Policy) -> dict[str, object]:
    """Return the policy as plain data (the audit table keeps it as before/after)."""
    return {"steps": describe_policy(policy), "repeat": policy.repeat,
            "still_on_it_minutes": int(policy.still_on_it_after.total_seconds() // 60)}
