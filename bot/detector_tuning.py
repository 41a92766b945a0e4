"""Per-team detector tuning (`/crisis tuning`): sensitivity, minimum count and quiet-hours behaviour. Pure.

The detection job turns these settings (plus any active campaign window) into the `spikes.Tuning` it runs with;
the paging job reads `quiet_hours` to decide whether a SEV3 page waits for the paged person's quiet hours to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot import spikes
from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.errors import UsageError

MAX_MIN_COUNT = 10_000
# People say low/normal/high; the detector's presets are named for their effect. Both spellings are accepted.
SENSITIVITY_NAMES = {"low": "fewer", "normal": "balanced", "high": "more"}
_CANONICAL = {preset: name for name, preset in SENSITIVITY_NAMES.items()}
TUNING_USAGE = ("Usage: `/crisis tuning [team] [sensitivity=low|normal|high] [min-count=10] [quiet-hours=page|hold-sev3]` "
                "(admins; no settings shows the current ones)")


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


class TuningStore(Protocol):
    def detector_settings(self, team_id: int) -> DetectorSettings: ...
    def save_detector_settings(self, *, team_id: int, settings: DetectorSettings, user_id: str, now: datetime) -> None: ...


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


_KEYS = {"sensitivity": "sensitivity", "min-count": "min_count", "min_count": "min_count", "mincount": "min_count",
         "quiet-hours": "quiet_hours", "quiet_hours": "quiet_hours", "quiet": "quiet_hours"}


def parse_tuning(args: Sequence[str]) -> TuningRequest:
    """Parse the words after `/crisis tuning`: an optional team name, then key=value settings."""
    team: str | None = None
    changes: dict[str, str] = {}
    for word in args:
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


def tune(store: TuningStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, team_name: str, workspace_id: str,
         request: TuningRequest, user_id: str, now: datetime, via: str) -> TuningAnswer:
    """Show a team's detector settings, or (admins only) change them and audit before/after."""
    current = store.detector_settings(team_id)
    if not request.changes:
        note = "" if admins.is_admin(user_id) else "Only admins can change them."
        return TuningAnswer(team_name, current, changed=False, note=note)
    require_admin(admins, user_id, action="change detector tuning")
    updated = apply_changes(current, request.changes)
    if updated == current:
        return TuningAnswer(team_name, current, changed=False, note="Nothing changed.")
    store.save_detector_settings(team_id=team_id, settings=updated, user_id=user_id, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="detector_tuning_changed", via=via, target=f"team:{team_id}",
                             team_id=workspace_id, before=settings_record(current), after=settings_record(updated)))
    return TuningAnswer(team_name, updated, changed=True)


def _usage(message: str) -> UsageError:
    return UsageError(message, usage=TUNING_USAGE)
