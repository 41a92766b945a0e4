"""Two workspaces in one database (issue 18 item 5): admins, listening sources, time off and outbox rows never cross over.

Runs on SQLite and PostgreSQL; the migration test upgrades a 0014 database holding one workspace's rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot import mentions
from bot.errors import Conflict, NotFound
from bot.workspace_scope import acting_for
from storage import migrate
from storage.admins import AdminDirectory
from storage.mentions import Mentions
from storage.outbox import Outbox
from storage.rotations import Rotations
from storage.session import Database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EPOCH = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday 09:00 in Rome: a handoff
ACME, GLOBEX = "T0ACME", "T0GLOBEX"


@pytest.fixture
def db(database: Database) -> Database:
    migrate.upgrade(database.engine)
    return database


def test_each_workspace_has_its_own_admins(db):
    """An admin of one workspace is nobody in the other, and the bootstrap list only fills a workspace with none stored."""
    admins = AdminDirectory(db, bootstrap=("U0BOOT",))
    with acting_for(ACME):
        assert admins.add("U0ANNA", by="U0BOOT", at=NOW)
        assert admins.admin_ids() == ["U0ANNA"] and admins.is_admin("U0ANNA") and not admins.is_admin("U0BOOT")
    with acting_for(GLOBEX):
        assert not admins.is_admin("U0ANNA")
        assert admins.admin_ids() == ["U0BOOT"] and admins.is_admin("U0BOOT")
        assert admins.add("U0ANNA", by="U0BOOT", at=NOW)  # the same person may be admin of both
        assert admins.remove("U0ANNA")
    with acting_for(ACME):
        assert admins.admin_ids() == ["U0ANNA"]


def test_the_last_admin_is_counted_per_workspace(db):
    """`/oncall admins remove` keeps one admin in each workspace: another workspace's admins do not make the last one removable."""
    admins = AdminDirectory(db, bootstrap=("U0BOOT",))
    with acting_for(ACME):
        admins.add("U0ANNA", by="U0BOOT", at=NOW)
    with acting_for(GLOBEX):
        admins.add("U0BEN", by="U0BOOT", at=NOW)
        assert admins.stored_ids() == ["U0BEN"]
        assert not admins.remove("U0ANNA", keep_one=True)  # not an admin here
        assert not admins.remove("U0BEN", keep_one=True)  # Globex's only one, though Acme has another
    with acting_for(ACME):
        assert admins.stored_ids() == ["U0ANNA"] and not admins.remove("U0ANNA", keep_one=True)


def test_two_workspaces_can_each_have_a_source_called_brandwatch(db):
    """Names are unique per workspace; rotating or removing one workspace's source leaves the other's alone."""
    store = Mentions(db)
    acme = store.add_source(name="brandwatch", vendor="brandwatch", workspace_id=ACME, token_hash="a" * 64, now=NOW)
    globex = store.add_source(name="brandwatch", vendor="brandwatch", workspace_id=GLOBEX, token_hash="b" * 64, now=NOW)
    with pytest.raises(Conflict):
        store.add_source(name="brandwatch", vendor="generic", workspace_id=ACME, token_hash="c" * 64, now=NOW)
    assert store.source_by_name("brandwatch", workspace_id=GLOBEX) == globex
    assert store.update_source(name="brandwatch", workspace_id=ACME, token_hash="d" * 64).token_hash == "d" * 64
    assert store.source_by_name("brandwatch", workspace_id=GLOBEX).token_hash == "b" * 64
    store.remove_source("brandwatch", workspace_id=ACME)
    assert [s.id for s in store.sources()] == [globex.id] and acme.id != globex.id
    with pytest.raises(NotFound):
        store.remove_source("brandwatch", workspace_id=ACME)


def test_the_same_vendor_id_from_both_workspaces_sources_is_two_mentions(db):
    """Two agencies' Brandwatch both deliver the same public post: each workspace stores and counts its own copy."""
    store = Mentions(db)
    for workspace in (ACME, GLOBEX):
        topic = store.save_topic(workspace_id=workspace, name="launch", keywords=["launch"], hashtags=[], now=NOW)
        store.add_source(name="brandwatch", vendor="generic", workspace_id=workspace, token_hash=workspace.ljust(64, "x"), now=NOW,
                         default_topic_id=topic.id)
    post = {"id": "tweet-1", "text": "the launch is broken, terrible", "created_at": (NOW - timedelta(minutes=1)).isoformat()}
    results = [mentions.ingest(store, [post], source=store.source_by_name("brandwatch", workspace_id=w), analyser=mentions.default_analyser(),
                               now=NOW) for w in (ACME, GLOBEX)]
    assert [(r.accepted, r.duplicate) for r in results] == [(1, 0), (1, 0)]
    again = mentions.ingest(store, [post], source=store.source_by_name("brandwatch", workspace_id=ACME),
                            analyser=mentions.default_analyser(), now=NOW)
    assert (again.accepted, again.duplicate) == (0, 1)  # a re-delivery in the same workspace is still a duplicate
    for workspace in (ACME, GLOBEX):
        assert store.totals_since(workspace_id=workspace, since=NOW - timedelta(hours=1))["launch"].total == 1


def test_time_off_in_one_workspace_does_not_take_the_person_off_the_other(db):
    """An Enterprise Grid user away in one workspace is still scheduled in their other workspace's team."""
    rotations = Rotations(db)
    acme = rotations.create_team(workspace_id=ACME, name="social", tz="Europe/Rome", epoch=EPOCH, now=NOW, roster=["U0ANNA", "U0BEN"])
    globex = rotations.create_team(workspace_id=GLOBEX, name="social", tz="Europe/Rome", epoch=EPOCH, now=NOW, roster=["U0ANNA", "U0BEN"])
    rotations.add_time_off(workspace_id=ACME, user_id="U0ANNA", start=NOW, end=NOW + timedelta(days=3), now=NOW, created_by="U0ANNA")
    assert [t.user_id for t in rotations.load_rotation_by_id(acme).layers.time_off] == ["U0ANNA"]
    assert rotations.load_rotation_by_id(globex).layers.time_off == ()
    assert rotations.end_time_off(workspace_id=GLOBEX, user_id="U0ANNA", now=NOW + timedelta(hours=1)) == 0
    assert rotations.end_time_off(workspace_id=ACME, user_id="U0ANNA", now=NOW + timedelta(hours=1)) == 1


def test_outbox_rows_belong_to_the_workspace_that_queued_them(db):
    """Rows carry the acting workspace; holding one workspace's queue leaves the other's due, and releasing brings it back."""
    outbox = Outbox(db)
    with acting_for(ACME):
        acme = outbox.enqueue(dedupe_key="a", method="dm", payload={"user": "U1", "text": "hi"}, due_at=NOW, now=NOW)
    with acting_for(GLOBEX):
        globex = outbox.enqueue(dedupe_key="g", method="dm", payload={"user": "U1", "text": "hi"}, due_at=NOW, now=NOW)
    assert (outbox.get(acme).workspace_id, outbox.get(globex).workspace_id) == (ACME, GLOBEX)
    assert outbox.hold_workspace(ACME) == 1
    assert [item.id for item in outbox.due(NOW)] == [globex] and outbox.get(acme).status == "held"
    assert outbox.claim(acme, now=NOW, lease=timedelta(minutes=5)) is None  # held items are not sent, nor retried
    assert outbox.release_workspace(ACME, now=NOW) == [acme]
    assert sorted(item.id for item in outbox.due(NOW)) == [acme, globex]


def test_upgrade_backfills_the_one_workspace_of_an_existing_deployment(database):
    """A 0014 database (one workspace, single-token mode) comes out of 0016 with its admins, time off, sources and outbox keyed."""
    migrate.upgrade(database.engine, "0014")
    with database.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO teams (workspace_id, name, tz, handoff_weekday, handoff_at, length_days, epoch, observe_holidays, created_at) "
            "VALUES ('T0ACME', 'social', 'Europe/Rome', 0, '09:00', 7, :at, false, :at)"), {"at": NOW})
        connection.execute(sa.text("INSERT INTO admins (user_id, added_at, added_by) VALUES ('U0ANNA', :at, 'cli')"), {"at": NOW})
        connection.execute(sa.text("INSERT INTO time_off (user_id, start_at, end_at, created_at, created_by) "
                                   "VALUES ('U0ANNA', :at, :at, :at, 'U0ANNA')"), {"at": NOW})
        connection.execute(sa.text("INSERT INTO outbox (dedupe_key, method, payload, created_at, due_at, status, attempts) "
                                   "VALUES ('k', 'dm', '{}', :at, :at, 'pending', 0)"), {"at": NOW})
        connection.execute(sa.text("INSERT INTO topics (workspace_id, name, keywords, hashtags, created_at) VALUES ('T0ACME', 'launch', '[]', '[]', :at)"),
                           {"at": NOW})
        connection.execute(sa.text("INSERT INTO listening_sources (name, vendor, workspace_id, token_hash, created_at) "
                                   "VALUES ('brandwatch', 'generic', 'T0ACME', 'h', :at)"), {"at": NOW})
        connection.execute(sa.text("INSERT INTO mentions (source, source_id, topic_id, created_at, received_at) "
                                   "VALUES ('brandwatch', 'tweet-1', 1, :at, :at)"), {"at": NOW})
    migrate.upgrade(database.engine)
    with database.engine.connect() as connection:
        keyed = [connection.execute(sa.text(f"SELECT workspace_id FROM {table}")).scalar_one() for table in ("admins", "time_off", "outbox")]
        source = connection.execute(sa.text("SELECT source FROM mentions")).scalar_one()
    assert keyed == [ACME, ACME, ACME] and source == "brandwatch@T0ACME"
    with acting_for(ACME):
        assert AdminDirectory(database).admin_ids() == ["U0ANNA"]
    migrate.downgrade(database.engine, "0014")  # and back: one admin row per user, the mention under its bare source name
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT source FROM mentions")).scalar_one() == "brandwatch"
        assert connection.execute(sa.text("SELECT user_id FROM admins")).scalars().all() == ["U0ANNA"]


def test_upgrade_refuses_to_guess_between_several_workspaces(database, monkeypatch):
    """Rows of two workspaces and no SOCIALOPS_WORKSPACE_ID: the upgrade stops with a line naming the fix; with it, it proceeds."""
    # From the revision just before 0016: SQLite commits DDL as it goes, so a refusal after other steps of the same
    # upgrade ran would leave their tables behind with alembic_version unmoved.
    migrate.upgrade(database.engine, "0017")
    with database.engine.begin() as connection:
        for workspace in (ACME, GLOBEX):
            connection.execute(sa.text("INSERT INTO topics (workspace_id, name, keywords, hashtags, created_at) VALUES (:w, 'launch', '[]', '[]', :at)"),
                               {"w": workspace, "at": NOW})
    monkeypatch.delenv("SOCIALOPS_WORKSPACE_ID", raising=False)
    with pytest.raises(RuntimeError, match="SOCIALOPS_WORKSPACE_ID"):
        migrate.upgrade(database.engine)
    monkeypatch.setenv("SOCIALOPS_WORKSPACE_ID", GLOBEX)
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()


def test_a_stop_is_seen_at_once_here_and_within_the_freshness_window_on_another_instance(db):
    """Each instance reads the stopped set at most every few seconds: its own changes apply at once, another's on the next read."""
    from storage.installations import WorkspaceStatesStore

    ticks = [0.0]
    here, there = (WorkspaceStatesStore(db, fresh_for=5.0, monotonic=lambda: ticks[0]) for _ in range(2))
    assert here.is_sending(ACME) and there.is_sending(ACME)
    assert here.stop_sending(workspace_id=ACME, reason="app_uninstalled", at=NOW)
    assert not here.stop_sending(workspace_id=ACME, reason="app_uninstalled", at=NOW)  # already stopped
    assert not here.is_sending(ACME) and there.is_sending(ACME) and here.is_sending(GLOBEX)
    ticks[0] = 5.0
    assert not there.is_sending(ACME)
    assert there.resume_sending(workspace_id=ACME, at=NOW) and there.is_sending(ACME)
    assert not there.resume_sending(workspace_id=ACME, at=NOW)  # was not stopped any more
