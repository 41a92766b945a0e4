"""Per-team detector tuning (bot/detector_tuning.py): parsing, validation, admin rule, audit, and the tuning it yields."""

from datetime import UTC, datetime, timedelta

import pytest

from bot import detector_tuning, spikes
from bot.audit import AuditRecord
from bot.detector_tuning import (
    LABEL_HALFLIFE, MAX_LOWER, MAX_RAISE, ClosedCrisis, DetectorSettings, Label, QuietHours, TopicAdjustment, TuningRequest,
    apply_changes, label_of, learn, learn_from_closed, parse_tuning, tune,
)
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
        self.learned: dict[int, tuple[str, TopicAdjustment]] = {}
        self.closed: ClosedCrisis | None = None
        self.taught_by: dict[int, int] = {}

    def topic_adjustments(self, team_id: int) -> list[tuple[int, str, TopicAdjustment]]:
        return [(topic_id, name, adjustment) for topic_id, (name, adjustment) in sorted(self.learned.items())]

    def reset_topic_adjustment(self, *, topic_id: int, user_id: str, now: datetime) -> bool:
        return self.learned.pop(topic_id, None) is not None

    def last_closed_crisis(self, *, team_id: int, topic: str) -> ClosedCrisis | None:
        return self.closed

    def topic_adjustment(self, topic_id: int) -> TopicAdjustment:
        return self.learned.get(topic_id, ("", TopicAdjustment()))[1]

    def save_topic_adjustment(self, *, topic_id, team_id, adjustment, crisis_id, user_id, now) -> bool:
        if self.taught_by.get(topic_id, 0) >= crisis_id:
            return False
        self.taught_by[topic_id] = crisis_id
        self.learned[topic_id] = ("acme", adjustment)
        return True

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


# --- labels teach ----------------------------------------------------------------------------------------


def test_a_false_alarm_raises_the_threshold_and_a_missed_crisis_lowers_it():
    """One false alarm makes the topic less sensitive (factor > 1), one missed crisis more (factor < 1), counted."""
    raised = learn(TopicAdjustment(), Label.false_alarm, NOW)
    lowered = learn(TopicAdjustment(), Label.missed, NOW)
    assert 1.04 < raised.factor(NOW) < 1.06 and raised.false_alarms == 1 and raised.missed == 0
    assert 0.94 < lowered.factor(NOW) < 0.96 and lowered.missed == 1 and lowered.false_alarms == 0


def test_labels_are_bounded_both_ways():
    """Twenty false alarms in a row stop at the upper bound; twenty misses at the lower one."""
    up = down = TopicAdjustment()
    for minute in range(20):
        up = learn(up, Label.false_alarm, NOW + timedelta(minutes=minute))
        down = learn(down, Label.missed, NOW + timedelta(minutes=minute))
    assert up.offset == pytest.approx(MAX_RAISE) and up.false_alarms == 20
    assert down.offset == pytest.approx(-MAX_LOWER) and down.missed == 20
    assert up.factor(NOW + timedelta(minutes=19)) < 1.6 and down.factor(NOW + timedelta(minutes=19)) > 0.7


def test_an_adjustment_decays_back_over_weeks():
    """Half the learned change is left after one half-life, almost none after ten; it never overshoots."""
    raised = learn(TopicAdjustment(), Label.false_alarm, NOW)
    assert raised.offset_at(NOW + LABEL_HALFLIFE) == pytest.approx(raised.offset / 2)
    assert raised.offset_at(NOW + 10 * LABEL_HALFLIFE) == pytest.approx(0.0, abs=1e-3)
    assert raised.offset_at(NOW + 10 * LABEL_HALFLIFE) > 0
    assert raised.offset_at(NOW - timedelta(days=1)) == raised.offset  # a clock step back does not amplify it
    assert TopicAdjustment().factor(NOW) == 1.0


def test_a_label_after_decay_steps_from_the_decayed_value():
    """A second false alarm a half-life later adds one step to what was left, not to the original offset."""
    first = learn(TopicAdjustment(), Label.false_alarm, NOW)
    second = learn(first, Label.false_alarm, NOW + LABEL_HALFLIFE)
    assert second.offset == pytest.approx(first.offset * 1.5)
    assert second.at == NOW + LABEL_HALFLIFE


@pytest.mark.parametrize(("origin", "status", "real", "peak", "label"), [
    ("detected", "false_alarm", False, 2.0, Label.false_alarm),
    ("declared", "false_alarm", False, 0.0, None),  # a person's own false alarm says nothing about the detector
    ("declared", "resolved", True, 0.3, Label.missed),
    ("declared", "resolved", True, 1.4, None),  # the detector scored above threshold: it would have paged
    ("declared", "resolved", None, 0.3, None),  # "was it real?" unanswered
    ("declared", "resolved", False, 0.3, None),
    ("detected", "resolved", True, 3.0, None),  # a hit teaches nothing
])
def test_what_a_closed_crisis_teaches(origin, status, real, peak, label):
    assert label_of(origin=origin, status=status, real=real, peak_score=peak, threshold=1.0) is label


def test_learning_from_a_closed_crisis_is_audited_and_happens_once_per_crisis():
    """A detected false alarm closed by Giulia raises acme's factor once; the audit names her, the crisis and both factors."""
    store, audit = Store(), Audit()
    store.closed = ClosedCrisis(id=7, origin="detected", status="false_alarm", real=False, closed_by="UADMIN", workspace_id="T1")
    after = learn_from_closed(store, audit, topic_id=3, team_id=1, topic="acme", peak_score=2.0, threshold=1.0, now=NOW)
    assert after is not None and after.factor(NOW) > 1
    assert learn_from_closed(store, audit, topic_id=3, team_id=1, topic="acme", peak_score=2.0, threshold=1.0, now=NOW) is None
    (record,) = audit.records
    assert (record.action, record.actor, record.target, record.team_id) == ("detector_topic_learned", "UADMIN", "topic:3", "T1")
    assert record.before["factor"] == 1.0 and record.after["factor"] > 1 and record.after["crisis_id"] == 7
    assert record.after["label"] == "false_alarm"


def test_parse_reads_reset_with_an_optional_team():
    assert parse_tuning(("reset", "acme")) == TuningRequest(team=None, changes={}, reset_topic="acme")
    assert parse_tuning(("social", "reset", "Acme")) == TuningRequest(team="social", changes={}, reset_topic="Acme")


@pytest.mark.parametrize("args", [("reset",), ("reset", "a", "b"), ("a", "b", "reset", "c"), ("reset", "sensitivity=high")])
def test_reset_without_exactly_one_topic_is_a_usage_error(args):
    with pytest.raises(UsageError) as error:
        parse_tuning(args)
    assert "reset <topic>" in error.value.usage


def test_tuning_shows_learned_topics_and_only_admins_reset_them():
    """The answer lists acme's learned factor; a member's reset is refused; an admin's is audited and drops it."""
    store, audit = Store(), Audit()
    store.learned[3] = ("acme", learn(TopicAdjustment(), Label.false_alarm, NOW))
    kwargs = dict(team_id=1, team_name="social", workspace_id="T1", now=NOW, via="slash_command")
    shown = tune(store, audit, Admins("UADMIN"), request=parse_tuning(()), user_id="UMEMBER", **kwargs)
    assert [name for name, _ in shown.topics] == ["acme"]
    with pytest.raises(NotAllowed):
        tune(store, audit, Admins("UADMIN"), request=parse_tuning(("reset", "acme")), user_id="UMEMBER", **kwargs)
    with pytest.raises(UsageError) as unknown:
        tune(store, audit, Admins("UADMIN"), request=parse_tuning(("reset", "globex")), user_id="UADMIN", **kwargs)
    assert "acme" in str(unknown.value)
    done = tune(store, audit, Admins("UADMIN"), request=parse_tuning(("reset", "ACME")), user_id="UADMIN", **kwargs)
    assert done.changed and done.topics == () and store.learned == {}
    (record,) = audit.records
    assert record.action == "detector_topic_reset" and record.before["factor"] > 1 and record.after["factor"] == 1.0
