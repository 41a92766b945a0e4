"""The rotation cache: entries near expiry are reloaded in the background, equal reloads keep the cached
object, and a reload that began before a write never brings the old data back."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from storage import migrate
from storage.rotations import CACHE_SECONDS, REFRESH_AFTER_SECONDS, Rotations
from storage.session import Database
from tests.fakes.clock import Clock

EPOCH = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def other_process(database_url: str) -> Iterator[Rotations]:
    """Rotations on a second engine for the same database: its writes do not clear the first one's cache."""
    other = Database.from_url(database_url)
    yield Rotations(other)
    other.dispose()


def make_team(rotations: Rotations, name: str) -> int:
    return rotations.create_team(workspace_id="T1", name=name, tz="Europe/Rome", epoch=EPOCH, now=EPOCH, roster=["U1", "U2"])


def test_an_entry_near_expiry_is_served_and_reloaded_in_the_background(database, other_process):
    """Past REFRESH_AFTER_SECONDS the cached names still answer at once; one reload is queued, and its result serves next."""
    migrate.upgrade(database.engine)
    clock, queued = Clock(1000.0), []
    rotations = Rotations(database, monotonic=clock, refresh_in_background=queued.append)
    make_team(rotations, "social")
    assert rotations.team_names("T1") == ["social"]
    make_team(other_process, "night")  # another process: this one's cache does not know yet

    clock.now += REFRESH_AFTER_SECONDS - 1
    assert rotations.team_names("T1") == ["social"] and queued == []
    clock.now += 1
    assert rotations.team_names("T1") == ["social"]
    assert rotations.team_names("T1") == ["social"] and len(queued) == 1  # one reload at a time

    queued.pop()()
    assert rotations.team_names("T1") == ["night", "social"]
    assert queued == []  # the reloaded entry is fresh again


def test_an_expired_entry_is_loaded_before_answering(database, other_process):
    """With no request between REFRESH_AFTER_SECONDS and expiry, the next request loads inline, as before."""
    migrate.upgrade(database.engine)
    clock, queued = Clock(1000.0), []
    rotations = Rotations(database, monotonic=clock, refresh_in_background=queued.append)
    make_team(rotations, "social")
    assert rotations.team_names("T1") == ["social"]
    make_team(other_process, "night")
    clock.now += CACHE_SECONDS
    assert rotations.team_names("T1") == ["night", "social"] and queued == []


def test_an_equal_reload_keeps_the_cached_rotation_object(database):
    """Answers cached by identity downstream stay valid: a reload that finds nothing changed returns the same object."""
    migrate.upgrade(database.engine)
    clock = Clock(1000.0)
    rotations = Rotations(database, monotonic=clock, refresh_in_background=lambda work: work())
    make_team(rotations, "social")
    first = rotations.load_rotation("T1", "social")
    clock.now += REFRESH_AFTER_SECONDS  # served, and reloaded at once by this runner
    assert rotations.load_rotation("T1", "social") is first
    clock.now += CACHE_SECONDS  # expired: reloaded inline
    assert rotations.load_rotation("T1", "social") is first


def test_a_changed_reload_replaces_the_cached_rotation(database, other_process):
    migrate.upgrade(database.engine)
    clock = Clock(1000.0)
    rotations = Rotations(database, monotonic=clock, refresh_in_background=lambda work: work())
    team_id = make_team(rotations, "social")
    first = rotations.load_rotation("T1", "social")
    other_process.add_time_off(workspace_id="T1", user_id="U1", start=EPOCH, end=EPOCH.replace(day=5), now=EPOCH, created_by="U1")
    clock.now += REFRESH_AFTER_SECONDS
    rotations.load_rotation("T1", "social")  # serves `first`, reloads behind it
    reloaded = rotations.load_rotation("T1", "social")
    assert reloaded is not first and reloaded.team.id == team_id
    assert [t.user_id for t in reloaded.layers.time_off] == ["U1"]


def test_a_reload_that_began_before_a_write_is_not_kept(database):
    """A write clears the cache; a background reload that read the old data before it must not store it afterwards."""
    clock, queued = Clock(1000.0), []
    rotations = Rotations(database, monotonic=clock, refresh_in_background=queued.append)
    key = ("T1", "social")
    assert rotations._cached(key, lambda: "old") == "old"  # noqa: SLF001 - the cache mechanism itself
    clock.now += REFRESH_AFTER_SECONDS

    def read_then_write_lands() -> str:
        rotations.forget_cached()  # a write committed while this reload was reading
        return "old"

    def fresh() -> str:
        return "new"

    assert rotations._cached(key, read_then_write_lands) == "old"  # noqa: SLF001
    queued.pop()()
    assert rotations._cached(key, fresh) == "new"  # noqa: SLF001 - the stale reload was dropped


def test_a_failed_background_reload_leaves_the_entry_to_expire(database, caplog):
    clock, queued = Clock(1000.0), []
    rotations = Rotations(database, monotonic=clock, refresh_in_background=queued.append)
    key = ("T1", "social")
    rotations._cached(key, lambda: "old")  # noqa: SLF001

    def broken() -> str:
        raise ConnectionError("database went away")

    clock.now += REFRESH_AFTER_SECONDS
    assert rotations._cached(key, broken) == "old"  # noqa: SLF001
    queued.pop()()
    assert "background reload" in caplog.text
    assert rotations._cached(key, broken) == "old" and len(queued) == 1  # not stuck: the next hit tries again  # noqa: SLF001
    clock.now += CACHE_SECONDS
    with pytest.raises(ConnectionError):
        rotations._cached(key, broken)  # noqa: SLF001 - expired: the error reaches the caller, as before
