"""Per-team detector tuning (bot/detector_tuning.py): parsing, validation, admin rule, audit, and the tuning it yields."""

from datetime import UTC, datetime

import pytest

from bot import detector_tuning, spikes
from bot.audit import AuditRecord
from bot.detector_tuning import DetectorSettings, QuietHours, TuningRequest, apply_changes, parse_tuning, tune
from bot.errors import NotAllowed, UsageError

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Admins:
    def __init__(self, *ids: str) -> None:
        self.ids = ids

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.ids

    def admin_ids(self) -> list[str]:
        return list(self.ids)


class Store:
    def __init__(self) -> None:
        self.saved: dict[int, DetectorSettings] = {}

    def detector_settings(self, team_id: int) -> DetectorSettings:
        return self.saved.get(team_id, DetectorSettings())

    def save_detector_settings(self, *, team_id: int, settings: DetectorSettings, user_id: str, now: datetime) -> None:
        self.saved[team_id] = settings


class Audit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)


def test_defaults_give_the_shipped_detector_tuning():
    """A team that changed nothing runs the detector exactly as `socialops backtest` replays it."""
    assert DetectorSettings().tuning() == spikes.team_tuning()


@pytest.mark.parametrize(("word", "threshold"), [("low", 1.25), ("normal", 1.0), ("high", 0.8), ("fewer", 1.25), ("More", 0.8)])
def test_sensitivity_words_map_to_threshold_multipliers(word, threshold):
    """low/normal/high (or the detector's own preset names) set the score threshold."""
    settings = apply_changes(DetectorSettings(), {"sensitivity": word})
    assert settings.tuning().threshold == threshold
    assert settings.sensitivity in ("low", "normal", "high")


def test_higher_sensitivity_means_a_lower_threshold_and_campaigns_lower_it_further():
    """high < normal < low in threshold; a campaign window makes any of them more sensitive."""
    low, normal, high = (apply_changes(DetectorSettings(), {"sensitivity": w}).tuning() for w in ("low", "normal", "high"))
    assert high.effective_threshold < normal.effective_threshold < low.effective_threshold
    assert DetectorSettings().tuning(campaign=True).effective_threshold < normal.effective_threshold


def test_parse_reads_an_optional_team_then_settings():
    """`social sensitivity=high min-count=20 quiet-hours=hold-sev3` names the team and three changes."""
    request = parse_tuning(("social", "sensitivity=high", "min-count=20", "quiet-hours=hold-sev3"))
    assert request == TuningRequest(team="social", changes={"sensitivity": "high", "min_count": "20", "quiet_hours": "hold-sev3"})
    assert parse_tuning(()) == TuningRequest(team=None, changes={})


@pytest.mark.parametrize("args", [("colour=red",), ("sensitivity=",), ("min-count=5", "social"), ("a", "b")])
def test_unknown_keys_empty_values_and_stray_words_are_usage_errors(args):
    """Anything but `[team] key=value…` gets the usage text."""
    with pytest.raises(UsageError) as error:
        parse_tuning(args)
    assert "/crisis tuning" in error.value.usage


@pytest.mark.parametrize("changes", [{"sensitivity": "loud"}, {"min_count": "0"}, {"min_count": "ten"}, {"quiet_hours": "snooze"}])
def test_bad_values_are_usage_errors(changes):
    """Sensitivity, minimum count and quiet-hours values are checked."""
    with pytest.raises(UsageError):
        apply_changes(DetectorSettings(), changes)


def test_admin_change_is_saved_and_audited_with_before_and_after():
    """An admin's change is stored and one audit record keeps both versions."""
    store, audit = Store(), Audit()
    answer = tune(store, audit, Admins("UA"), team_id=1, team_name="social", workspace_id="T1",
                  request=parse_tuning(("min-count=25", "quiet-hours=hold-sev3")), user_id="UA", now=NOW, via="slash_command")
    assert answer.changed and store.saved[1] == DetectorSettings(min_count=25, quiet_hours=QuietHours.hold_sev3)
    (record,) = audit.records
    assert record.action == "detector_tuning_changed" and record.actor == "UA"
    assert record.before == {"sensitivity": "normal", "min_count": 10, "quiet_hours": "page"}
    assert record.after == {"sensitivity": "normal", "min_count": 25, "quiet_hours": "hold-sev3"}


def test_anyone_can_look_but_only_admins_change():
    """No settings shows them to anyone; a change by a non-admin is refused and nothing is stored or audited."""
    store, audit = Store(), Audit()
    shown = tune(store, audit, Admins("UA"), team_id=1, team_name="social", workspace_id="T1", request=parse_tuning(()),
                 user_id="UM", now=NOW, via="slash_command")
    assert not shown.changed and "Only admins" in shown.note
    with pytest.raises(NotAllowed):
        tune(store, audit, Admins("UA"), team_id=1, team_name="social", workspace_id="T1", request=parse_tuning(("sensitivity=high",)),
             user_id="UM", now=NOW, via="slash_command")
    assert store.saved == {} and audit.records == []


def test_a_number_is_accepted_as_a_sensitivity_threshold():
    """Experts can give the score threshold itself."""
    assert apply_changes(DetectorSettings(), {"sensitivity": "1.3"}).tuning().threshold == 1.3
    assert detector_tuning.normalise_sensitivity("NORMAL") == "normal"
