"""Per-team detector tuning (`/crisis tuning`): sensitivity, minimum count and quiet-hours behaviour. Pure.

The detection job turns these settings (plus any active campaign window) into the `spikes.Tuning` it runs with;
the paging job reads `quiet_hours` to decide whether a SEV3 page waits for the paged person's quiet hours to end.

Labels teach, per topic: a detected crisis closed as a false alarm raises that topic's threshold, a real crisis
declared by hand while the detector stayed silent lowers it (`learn`); the change is bounded and decays back by half
every LABEL_HALFLIFE, and an admin can reset it (`/crisis tuning reset <topic>`).
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot import spikes
from bot.access import AdminDirectory, require_admin
from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink
from bot.errors import UsageError

MAX_MIN_COUNT = 10_000
# People say low/normal/high; the detector's presets are named for their effect. Both spellings are accepted.
SENSITIVITY_NAMES = {"low": "fewer", "normal": "balanced", "high": "more"}
_CANONICAL = {preset: name for name, preset in SENSITIVITY_NAMES.items()}
TUNING_USAGE = ("Usage: `/crisis tuning [team] [sensitivity=low|normal|high] [min-count=10] [quiet-hours=page|hold-sev3]` "
                "or `/crisis tuning [team] reset <topic>` (admins; no settings shows the current ones)")

# --- labels teach: per-topic threshold adjustment ------------------------------------------------------------------
# One label moves the topic's threshold by ×exp(LABEL_STEP) (about 5 %); the bounds keep a run of labels from
# silencing a topic (at most ×1.57 after false alarms) or making it page on noise (at least ×0.74 after misses).
# The size was chosen once by the procedure in bench/detector.py labels_teach (0.15, 0.10, 0.05 replayed on all 53
# development series with labels teaching; 0.15, the first guess, cut the tweet NAB score from 78.4 to 51.3).
LABEL_STEP = 0.05
MAX_RAISE = 0.45
MAX_LOWER = 0.30
LABEL_HALFLIFE = timedelta(days=14)  # a topic drifts back to the team's sensitivity over weeks without new labels


class Label(StrEnum):
    """What a closed crisis taught about its topic's detector."""

    false_alarm = "false_alarm"  # the detector opened it; someone pressed False alarm
    missed = "missed"  # declared by hand, resolved as real, and the detector never scored above threshold during it


@dataclass(frozen=True)
class TopicAdjustment:
    """A topic's learned threshold change: `offset` is log(threshold factor) as of `at`, decaying towards 0."""

    offset: float = 0.0
    at: datetime | None = None
    false_alarms: int = 0
    missed: int = 0

    def offset_at(self, now: datetime) -> float:
        """Return the offset decayed from `at` to `now` (half every LABEL_HALFLIFE)."""
        if self.at is None or self.offset == 0.0:
            return self.offset
        elapsed = max(now - self.at, timedelta(0))
        return self.offset * 0.5 ** (elapsed / LABEL_HALFLIFE)

    def factor(self, now: datetime) -> float:
        """Return what the topic's threshold is multiplied by at `now` (>1: less sensitive)."""
        return math.exp(self.offset_at(now))


def learn(current: TopicAdjustment, label: Label, now: datetime, *, step: float = LABEL_STEP) -> TopicAdjustment:
    """Return the adjustment after one label at `now`: decay what was there, step, clamp to the bounds."""
    step = step if label is Label.false_alarm else -step
    offset = min(MAX_RAISE, max(-MAX_LOWER, current.offset_at(now) + step))
    return TopicAdjustment(offset=offset, at=now, false_alarms=current.false_alarms + (label is Label.false_alarm),
                           missed=current.missed + (label is Label.missed))


def label_of(*, origin: str, status: str, real: bool | None, peak_score: float, threshold: float) -> Label | None:
    """Return what a crisis the detector saw close teaches, or None (a real detected crisis, an unanswered "real?").

    `peak_score` is the highest score the detector gave the topic while the crisis was open, `threshold` the
    effective threshold then: a hand-declared crisis the detector would have opened itself was not missed.
    """
    if status == "false_alarm":
        return Label.false_alarm if origin == "detected" else None
    if status == "resolved" and real is True and origin == "declared" and peak_score < threshold:
        return Label.missed
    return None


def adjustment_record(adjustment: TopicAdjustment, now: datetime) -> dict[str, object]:
    """Return the adjustment as plain data for the audit table (factor as of `now`)."""
    return {"factor": round(adjustment.factor(now), 3), "false_alarms": adjustment.false_alarms, "missed": adjustment.missed}


class QuietHours(StrEnum):
    """What a page does when it lands in the paged person's quiet hours (set on their App Home)."""

    page = "page"  # page anyway: a crisis is a crisis (the default)
    hold_sev3 = "hold-sev3"  # hold SEV3 pages until the person's quiet hours end; SEV1/SEV2 page at once


@dataclass(frozen=True)
class DetectorSettings:
    """One team's detector knobs; the defaults are what a team gets before an admin changes anything."""

    sensitivity: str = "normal"  # low | normal | high, or a positive score threshold such as "1.2"
    min_count: int = spikes.Tuning.min_count
    quiet_hours: QuietHours = QuietHours.page

    def tuning(self, *, campaign: bool = False) -> spikes.Tuning:
        """Return the detector tuning these settings mean, in campaign mode when a window is active."""
        return spikes.team_tuning(sensitivity=SENSITIVITY_NAMES.get(self.sensitivity, self.sensitivity),
                                  min_count=self.min_count, campaign=campaign)


@dataclass(frozen=True)
class ClosedCrisis:
    """How a topic's latest crisis ended: what a label is read from."""

    id: int
    origin: str  # detected, declared
    status: str  # resolved, false_alarm
    real: bool | None
    closed_by: str | None
    workspace_id: str


class LabelStore(Protocol):
    def last_closed_crisis(self, *, team_id: int, topic: str) -> ClosedCrisis | None: ...
    def topic_adjustment(self, topic_id: int) -> TopicAdjustment: ...
    def save_topic_adjustment(self, *, topic_id: int, team_id: int, adjustment: TopicAdjustment, crisis_id: int,
                              user_id: str, now: datetime) -> bool: ...  # False when that crisis already taught it


def learn_from_closed(store: LabelStore, audit: AuditSink, *, topic_id: int, team_id: int, topic: str, peak_score: float,
                      threshold: float, now: datetime) -> TopicAdjustment | None:
    """Apply what the topic's just-closed crisis teaches (once per crisis), audited; None when it teaches nothing."""
    closed = store.last_closed_crisis(team_id=team_id, topic=topic)
    if closed is None:
        return None
    label = label_of(origin=closed.origin, status=closed.status, real=closed.real, peak_score=peak_score, threshold=threshold)
    if label is None:
        return None
    before = store.topic_adjustment(topic_id)
    after = learn(before, label, now)
    actor = closed.closed_by or SYSTEM_ACTOR
    if not store.save_topic_adjustment(topic_id=topic_id, team_id=team_id, adjustment=after, crisis_id=closed.id, user_id=actor, now=now):
        return None
    audit.record(AuditRecord(at=now, actor=actor, action="detector_topic_learned", via="scheduler", target=f"topic:{topic_id}",
                             team_id=closed.workspace_id, before=adjustment_record(before, now),
                             after={**adjustment_record(after, now), "label": label.value, "crisis_id": closed.id}))
    return after


class TuningStore(Protocol):
    def detector_settings(self, team_id: int) -> DetectorSettings: ...
    def save_detector_settings(self, *, team_id: int, settings: DetectorSettings, user_id: str, now: datetime) -> None: ...
    def topic_adjustments(self, team_id: int) -> list[tuple[int, str, TopicAdjustment]]: ...  # (topic id, name, adjustment)
    def reset_topic_adjustment(self, *, topic_id: int, user_id: str, now: datetime) -> bool: ...


def normalise_sensitivity(text: str) -> str:
    """Return "low"/"normal"/"high" for a preset in either spelling, or the number as typed; UsageError otherwise."""
    key = text.strip().lower()
    key = _CANONICAL.get(key, key)
    try:
        spikes.parse_sensitivity(SENSITIVITY_NAMES.get(key, key))
    except UsageError:
        raise _usage(f"sensitivity is low, normal, high or a positive threshold such as 1.2, not {text!r}.") from None
    return key if key in SENSITIVITY_NAMES else str(float(key))


@dataclass(frozen=True)
class TuningRequest:
    """`/crisis tuning [team] [key=value …]`: which team, and the changes (empty: just show)."""

    team: str | None
    changes: dict[str, str]
    reset_topic: str | None = None  # `reset <topic>`: drop what labels taught that topic


_KEYS = {"sensitivity": "sensitivity", "min-count": "min_count", "min_count": "min_count", "mincount": "min_count",
         "quiet-hours": "quiet_hours", "quiet_hours": "quiet_hours", "quiet": "quiet_hours"}


def parse_tuning(args: Sequence[str]) -> TuningRequest:
    """Parse the words after `/crisis tuning`: an optional team name, then key=value settings."""
    team: str | None = None
    changes: dict[str, str] = {}
    words = list(args)
    if "reset" in (w.lower() for w in words):
        at = next(i for i, w in enumerate(words) if w.lower() == "reset")
        if at > 1 or len(words) - at != 2 or "=" in "".join(words):
            raise _usage("Reset one topic's learned sensitivity with `reset <topic>` (after an optional team name).")
        return TuningRequest(team=words[0] if at == 1 else None, changes={}, reset_topic=words[at + 1])
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            if team is not None or changes:
                raise _usage(f"I read {word!r} as a team name, but the team comes first and only once.")
            team = word
            continue
        field = _KEYS.get(key.strip().lower())
        if field is None:
            raise _usage(f"{key!r} is not a tuning setting.")
        if not value.strip():
            raise _usage(f"Give {key} a value.")
        changes[field] = value.strip()
    return TuningRequest(team=team, changes=changes)


def apply_changes(current: DetectorSettings, changes: dict[str, str]) -> DetectorSettings:
    """Return `current` with validated changes applied; UsageError names the bad value."""
    updated = current
    if "sensitivity" in changes:
        updated = replace(updated, sensitivity=normalise_sensitivity(changes["sensitivity"]))
    if "min_count" in changes:
        text = changes["min_count"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_MIN_COUNT:
            raise _usage(f"min-count must be a whole number from 1 to {MAX_MIN_COUNT}, not {text!r}.")
        updated = replace(updated, min_count=int(text))
    if "quiet_hours" in changes:
        try:
            updated = replace(updated, quiet_hours=QuietHours(changes["quiet_hours"].lower()))
        except ValueError:
            raise _usage(f"quiet-hours is `page` or `hold-sev3`, not {changes['quiet_hours']!r}.") from None
    return updated


def settings_record(settings: DetectorSettings) -> dict[str, object]:
    """Return the settings as plain data (the audit table keeps them as before/after)."""
    return {"sensitivity": settings.sensitivity, "min_count": settings.min_count, "quiet_hours": settings.quiet_hours.value}


@dataclass(frozen=True)
class TuningAnswer:
    team_name: str
    settings: DetectorSettings
    changed: bool
    note: str = ""
    topics: tuple[tuple[str, TopicAdjustment], ...] = ()  # topics whose labels moved their threshold, by name
    now: datetime | None = None  # when the factors are shown for


def tune(store: TuningStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, team_name: str, workspace_id: str,
         request: TuningRequest, user_id: str, now: datetime, via: str) -> TuningAnswer:
    """Show a team's detector settings, or (admins only) change them and audit before/after."""
    current = store.detector_settings(team_id)
    learned = [(topic_id, name, adjustment) for topic_id, name, adjustment in store.topic_adjustments(team_id)
               if adjustment.false_alarms or adjustment.missed]
    shown = tuple((name, adjustment) for _, name, adjustment in learned if abs(adjustment.factor(now) - 1.0) >= 0.005)
    if request.reset_topic is not None:
        require_admin(admins, user_id, action="reset a topic's learned sensitivity")
        match = next(((topic_id, name, a) for topic_id, name, a in learned if name.lower() == request.reset_topic.lower()), None)
        if match is None:
            names = ", ".join(name for _, name, _ in learned) or "none"
            raise _usage(f"Labels have not changed the sensitivity of {request.reset_topic!r} (topics with a learned change: {names}).")
        topic_id, name, adjustment = match
        store.reset_topic_adjustment(topic_id=topic_id, user_id=user_id, now=now)
        audit.record(AuditRecord(at=now, actor=user_id, action="detector_topic_reset", via=via, target=f"topic:{topic_id}",
                                 team_id=workspace_id, before=adjustment_record(adjustment, now),
                                 after=adjustment_record(TopicAdjustment(), now)))
        return TuningAnswer(team_name, current, changed=True, note=f"Reset what labels taught {name}: it pages at the team's sensitivity again.",
                            topics=tuple(pair for pair in shown if pair[0] != name), now=now)
    if not request.changes:
        note = "" if admins.is_admin(user_id) else "Only admins can change them."
        return TuningAnswer(team_name, current, changed=False, note=note, topics=shown, now=now)
    require_admin(admins, user_id, action="change detector tuning")
    updated = apply_changes(current, request.changes)
    if updated == current:
        return TuningAnswer(team_name, current, changed=False, note="Nothing changed.", topics=shown, now=now)
    store.save_detector_settings(team_id=team_id, settings=updated, user_id=user_id, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="detector_tuning_changed", via=via, target=f"team:{team_id}",
                             team_id=workspace_id, before=settings_record(current), after=settings_record(updated)))
    return TuningAnswer(team_name, updated, changed=True, topics=shown, now=now)


def _usage(message: str) -> UsageError:
    return UsageError(message, usage=TUNING_USAGE)
