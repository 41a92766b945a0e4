"""Burnout repository on SQLite and PostgreSQL: limits, one offer per shift, accept/apply once, pages and zones read back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from bot.burnout import Finding, Limits, Move, PageRecord, RebalanceProposal, SleepOffer
from bot.crisis import CrisisEvent, EventKind, NewCrisis
from bot.home import MemberSettings
from bot.spikes import Severity
from storage import migrate
from storage.burnout import Burnout
from storage.crises import Crises
from storage.member_settings import MemberSettingsStore
from bot.people import ZoneFacts
from storage.people import People
from storage.rotations import Rotations

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Rome
TABLES = {"burnout_limits", "burnout_offers", "rebalance_proposals"}


@pytest.fixture
def store(database):
    migrate.upgrade(database.engine)
    return Burnout(database)


@pytest.fixture
def team(database, store):
    rotations = Rotations(database)
    team_id = rotations.create_team(workspace_id="T1", name="social", tz="Europe/Rome", epoch=EPOCH, now=T0, roster=["UP", "UB"])
    return rotations.load_rotation_by_id(team_id).team


def test_limits_default_until_saved_then_round_trip(store, team):
    """No row means the defaults; a save is read back, and a second save replaces it."""
    assert store.limits(team.id) == Limits()
    store.save_limits(team_id=team.id, limits=Limits(sleep_pages=1), user_id="UA", now=T0)
    store.save_limits(team_id=team.id, limits=Limits(sleep_pages=3, weekends_per_month=1), user_id="UA", now=T0)
    assert store.limits(team.id) == Limits(sleep_pages=3, consecutive_weeks=2, weekends_per_month=1)


def test_one_offer_per_shift_and_one_accept_under_concurrency(database, store, team):
    """The same shift's second offer is refused; of eight simultaneous accepts one wins and one override exists."""
    offer = SleepOffer(team=team, primary="UP", backup="UB", shift_start=T0 - timedelta(days=1), shift_end=T0 + timedelta(days=6),
                       sleep_pages=3, limit=2)
    stored = store.record_offer(offer, now=T0)
    assert stored is not None and stored.id is not None and stored.status == "offered" and stored.shift_start == offer.shift_start
    assert store.record_offer(offer, now=T0 + timedelta(hours=1)) is None
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.accept_offer(offer_id=stored.id, user_id="UB", start=T0, now=T0), range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    overrides = Rotations(database).load_rotation_by_id(team.id).layers.overrides
    assert [(o.user_id, o.start, o.end, o.replaces) for o in overrides] == [("UB", T0, offer.shift_end, "UP")]
    accepted = store.get_offer(stored.id)
    assert (accepted.status, accepted.accepted_by, accepted.override_id) == ("accepted", "UB", winners[0])


def test_proposal_is_stored_once_per_handoff_and_applied_once(database, store, team):
    """Saving the same handoff's proposal twice returns the first; applying adds overrides for moves still ahead, once."""
    past = Move(T0 - timedelta(days=8), T0 - timedelta(days=1), "UP", "UB")
    ahead = Move(T0 - timedelta(hours=1), T0 + timedelta(days=6), "UP", "UB")
    proposal = RebalanceProposal(team=team, handoff=T0, findings=(Finding("UP", "tired"),), moves=(past, ahead))
    first = store.save_proposal(proposal, now=T0)
    again = store.save_proposal(RebalanceProposal(team=team, handoff=T0, findings=(), moves=()), now=T0)
    assert first.id == again.id and again.moves == (past, ahead) and again.findings == (Finding("UP", "tired"),)
    ids = store.apply_proposal(proposal_id=first.id, user_id="UA", now=T0)
    assert ids is not None and len(ids) == 1
    assert store.apply_proposal(proposal_id=first.id, user_id="UA", now=T0) is None
    (override,) = Rotations(database).load_rotation_by_id(team.id).layers.overrides
    assert (override.user_id, override.start, override.end) == ("UB", T0, ahead.end)  # starts now, not in the past
    applied = store.get_proposal(first.id)
    assert (applied.status, applied.applied_by, applied.applied_at) == ("applied", "UA", T0)


def test_pages_are_the_teams_delivered_person_pages_in_range(database, store, team):
    """Undelivered pages, other teams' pages and pages outside the range are left out."""
    crises = Crises(database)
    other = Rotations(database).create_team(workspace_id="T1", name="other", tz="Europe/Rome", epoch=EPOCH, now=T0, roster=["UX"])

    def crisis(team_id, topic):
        return crises.create_crisis(NewCrisis(team_id=team_id, workspace_id="T1", topic=topic, severity=Severity.SEV2, summary="",
                                              origin="declared", declared_by="UA", channel=None, opened_at=T0, steps=()))

    def page(crisis_id, who, at, delivered=True):
        crises.record_event(crisis_id=crisis_id, event=CrisisEvent(at=at, kind=EventKind.PAGE, actor="system", via="scheduler",
                                                                   target=who, method="dm", delivered=delivered))

    mine, theirs = crisis(team.id, "acme"), crisis(other, "acme")
    page(mine.id, "UP", T0)
    page(mine.id, "UB", T0 + timedelta(minutes=5), delivered=False)
    page(mine.id, "UP", T0 + timedelta(days=2))
    page(theirs.id, "UX", T0)
    assert store.pages(team_id=team.id, since=T0 - timedelta(hours=1), until=T0 + timedelta(days=1)) == [PageRecord("UP", T0)]


def test_pages_count_channel_mentions_of_people_and_a_failed_dm_with_its_fallback_once(database, store, team):
    """A by-choice channel mention is a page; a failed DM replaced by a channel post is one page; @here and groups are nobody."""
    crises = Crises(database)
    mine = crises.create_crisis(NewCrisis(team_id=team.id, workspace_id="T1", topic="acme", severity=Severity.SEV2, summary="",
                                          origin="declared", declared_by="UA", channel="C1", opened_at=T0, steps=()))

    def page(who, at, method, delivered=True):
        crises.record_event(crisis_id=mine.id, event=CrisisEvent(at=at, kind=EventKind.PAGE, actor="system", via="scheduler",
                                                                 target=who, method=method, delivered=delivered))

    page("UP", T0, "channel")  # UP chose channel pages on their App Home
    page("UB", T0 + timedelta(minutes=5), "dm", delivered=False)  # the DM failed ...
    page("UB", T0 + timedelta(minutes=5), "channel_fallback")  # ... so the bot mentioned them in the channel instead
    page("UC", T0 + timedelta(minutes=6), "dm", delivered=False)  # failed, no crisis channel to fall back to: never reached
    page("<!here>", T0 + timedelta(minutes=10), "channel")
    page("<!subteam^S0ONCALL>", T0 + timedelta(minutes=11), "channel")
    assert store.pages(team_id=team.id, since=T0, until=T0 + timedelta(hours=1)) == [
        PageRecord("UP", T0), PageRecord("UB", T0 + timedelta(minutes=5))]


def test_zone_facts_hold_the_home_choice_and_slacks_zone_apart(database, store):
    """storage.people reads the Home's chosen zone and the remembered Slack zone together; an unknown person has neither."""
    people = People(database)
    assert people.tz_facts("T1", "UP") == ZoneFacts()
    people.remember_zone(workspace_id="T1", user_id="UP", tz="Australia/Sydney", now=T0)
    assert people.tz_facts("T1", "UP") == ZoneFacts(known="Australia/Sydney")
    people.remember_zone(workspace_id="T1", user_id="UP", tz="Europe/Paris", now=T0)  # a known zone stays
    assert people.tz_facts("T1", "UP") == ZoneFacts(known="Australia/Sydney")
    people.remember(workspace_id="T1", user_id="UP", tz="Asia/Kolkata", deleted=False, now=T0)
    assert people.tz_facts("T1", "UP") == ZoneFacts(known="Asia/Kolkata")
    MemberSettingsStore(database).save_settings(workspace_id="T1", user_id="UP", settings=MemberSettings(tz="America/Denver"), now=T0)
    assert people.tz_facts("T1", "UP") == ZoneFacts(chosen="America/Denver", known="Asia/Kolkata")


def test_burnout_migration_reverses(database):
    """Downgrading 0009 drops exactly its three tables; upgrading again restores them."""
    migrate.upgrade(database.engine, "0009")
    assert TABLES <= set(inspect(database.engine).get_table_names())
    migrate.downgrade(database.engine, "0008")
    assert not TABLES & set(inspect(database.engine).get_table_names())
    assert "crises" in set(inspect(database.engine).get_table_names())
    migrate.upgrade(database.engine)
    assert TABLES <= set(inspect(database.engine).get_table_names())
