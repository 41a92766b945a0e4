"""Detector tuning and campaign windows repository on SQLite and PostgreSQL; migration 0010 reverses cleanly."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from bot.detector_tuning import DetectorSettings, QuietHours
from storage import migrate
from storage.detector_settings import DetectorSettingsStore
from storage.rotations import Rotations

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(database):
    migrate.upgrade(database.engine)
    return DetectorSettingsStore(database)


@pytest.fixture
def team_id(database, store):
    return Rotations(database).create_team(workspace_id="T1", name="social", tz="Europe/Rome", epoch=T0, now=T0, roster=["UP", "UB"],
                                           crisis_channel="C1")


def test_a_team_without_settings_gets_the_shipped_defaults(store, team_id):
    """No row means the defaults: normal sensitivity, min count 10, page anyway in quiet hours."""
    assert store.detector_settings(team_id) == DetectorSettings()


def test_settings_round_trip_and_a_second_save_overwrites(store, team_id):
    """Saved settings come back as saved; saving again replaces them."""
    first = DetectorSettings(sensitivity="high", min_count=25, quiet_hours=QuietHours.hold_sev3)
    store.save_detector_settings(team_id=team_id, settings=first, user_id="UA", now=T0)
    assert store.detector_settings(team_id) == first
    second = DetectorSettings(sensitivity="1.3", min_count=5)
    store.save_detector_settings(team_id=team_id, settings=second, user_id="UA", now=T0 + timedelta(hours=1))
    assert store.detector_settings(team_id) == second


def test_campaigns_list_only_unfinished_uncancelled_windows_in_start_order(store, team_id):
    """Past and cancelled windows drop out of the list; the rest come back in start order with aware times."""
    later = store.add_campaign(team_id=team_id, name="b", topic=None, starts_at=T0 + timedelta(days=2), ends_at=T0 + timedelta(days=3),
                               user_id="UA", now=T0)
    sooner = store.add_campaign(team_id=team_id, name="a", topic="acme", starts_at=T0, ends_at=T0 + timedelta(days=1), user_id="UA", now=T0)
    store.add_campaign(team_id=team_id, name="old", topic=None, starts_at=T0 - timedelta(days=3), ends_at=T0 - timedelta(days=2),
                       user_id="UA", now=T0)
    assert [c.name for c in store.campaigns(team_id=team_id, ending_after=T0)] == ["a", "b"]
    assert store.get_campaign(sooner.id).starts_at == T0 and store.get_campaign(sooner.id).starts_at.tzinfo is not None
    cancelled = store.cancel_campaign(campaign_id=later.id, user_id="UA", now=T0)
    assert cancelled is not None and cancelled.cancelled_at == T0
    assert store.cancel_campaign(campaign_id=later.id, user_id="UA", now=T0) is None  # once only
    assert [c.name for c in store.campaigns(team_id=team_id, ending_after=T0)] == ["a"]


def test_migration_0010_downgrades_and_upgrades_again(database):
    """Going back to 0009 drops both tables; upgrading recreates them."""
    migrate.upgrade(database.engine)
    migrate.downgrade(database.engine, "0009")
    assert not {"detector_settings", "campaign_windows"} & set(inspect(database.engine).get_table_names())
    migrate.upgrade(database.engine)
    assert {"detector_settings", "campaign_windows"} <= set(inspect(database.engine).get_table_names())


def test_topic_adjustments_store_once_per_crisis_list_by_team_and_reset(database, store, team_id):
    """A crisis teaches a topic once (a second save for it or an older crisis is refused); reset deletes the row."""
    from bot.detector_tuning import Label, TopicAdjustment, learn
    from storage.crises import Crises
    from storage.mentions import Mentions

    topic = Mentions(database).save_topic(workspace_id="T1", name="Acme", keywords=["acme"], hashtags=[], now=T0)
    Crises(database).watch_topic(topic_id=topic.id, team_id=team_id, now=T0)
    assert store.topic_adjustment(topic.id) == TopicAdjustment() and store.topic_adjustments(team_id) == []
    first = learn(TopicAdjustment(), Label.false_alarm, T0)
    assert store.save_topic_adjustment(topic_id=topic.id, team_id=team_id, adjustment=first, crisis_id=4, user_id="UA", now=T0)
    assert not store.save_topic_adjustment(topic_id=topic.id, team_id=team_id, adjustment=first, crisis_id=4, user_id="UA", now=T0)
    assert not store.save_topic_adjustment(topic_id=topic.id, team_id=team_id, adjustment=first, crisis_id=3, user_id="UA", now=T0)
    second = learn(first, Label.false_alarm, T0 + timedelta(days=1))
    assert store.save_topic_adjustment(topic_id=topic.id, team_id=team_id, adjustment=second, crisis_id=5, user_id="UA",
                                       now=T0 + timedelta(days=1))
    assert store.topic_adjustment(topic.id) == second
    assert store.topic_adjustments(team_id) == [(topic.id, "Acme", second)]
    assert store.adjustments_by_topic() == {topic.id: second}
    assert store.reset_topic_adjustment(topic_id=topic.id, user_id="UA", now=T0)
    assert not store.reset_topic_adjustment(topic_id=topic.id, user_id="UA", now=T0)
    assert store.topic_adjustments(team_id) == []
