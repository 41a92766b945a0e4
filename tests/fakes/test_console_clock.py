"""The console's clock and the scheduler it drives: jobs run in order, each at its own due time, only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.date import DateTrigger

from bot.standin.clock import MAX_STEP, ClockMovedBack, ConsoleClock, clock_driven_scheduler

START = datetime(2026, 12, 4, 18, 40, tzinfo=UTC)


@pytest.fixture
def driven():
    clock = ConsoleClock(START)
    scheduler = clock_driven_scheduler(clock)(jobstores={"default": MemoryJobStore()}, timezone=UTC,
                                              job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600})
    scheduler.start()
    yield clock, scheduler
    scheduler.shutdown(wait=False)


def test_clock_moves_only_when_told_and_never_back():
    """The console clock stands still until it follows the wall clock or jumps; it never goes backwards."""
    wall = [100.0]
    clock = ConsoleClock(START, wall=lambda: wall[0])
    wall[0] = 130.5
    assert clock() == START == clock()
    assert clock.follow_wall_clock() == START + timedelta(seconds=30.5)
    clock.advance_to(START + timedelta(minutes=6))
    wall[0] = 131.5  # the wall time a jump took is not added on top of it
    assert clock.follow_wall_clock() == START + timedelta(minutes=6, seconds=1)
    with pytest.raises(ClockMovedBack, match="before the console's time"):
        clock.advance_to(START)
    with pytest.raises(ValueError, match="aware"):
        ConsoleClock(datetime(2026, 12, 4, 18, 40))  # noqa: DTZ001 - the naive start it must refuse


def test_date_jobs_run_in_order_each_at_its_own_time(driven):
    """Moving 30 minutes runs the jobs due at +5, +15 and +30 in that order, each seeing its own time; a later one waits."""
    clock, scheduler = driven
    seen: list[tuple[str, datetime]] = []
    for name, minutes in (("group", 15), ("backup", 5), ("managers", 30), ("tomorrow", 24 * 60)):
        scheduler.add_job(lambda name=name: seen.append((name, clock())), trigger=DateTrigger(START + timedelta(minutes=minutes)), id=name)
    assert scheduler.run_due().ran == 0 and seen == []  # nothing is due yet: the wall clock does not count
    result = scheduler.run_due(START + timedelta(minutes=30))
    assert seen == [("backup", START + timedelta(minutes=5)), ("group", START + timedelta(minutes=15)),
                    ("managers", START + timedelta(minutes=30))]
    assert result.ran == 3 and clock() == START + timedelta(minutes=30)
    assert [job.id for job in scheduler.get_jobs()] == ["tomorrow"]


def test_a_job_added_by_a_job_for_now_runs_in_the_same_move(driven):
    """What a job queues for "now" (an outbox delivery) runs before run_due returns, after the job that queued it."""
    clock, scheduler = driven
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        scheduler.add_job(lambda: seen.append("queued"), trigger=DateTrigger(clock()), id="queued")

    scheduler.add_job(first, trigger=DateTrigger(START + timedelta(minutes=1)), id="first")
    scheduler.run_due(START + timedelta(minutes=2))
    assert seen == ["first", "queued"]


def test_a_job_that_reschedules_itself_under_its_own_id_keeps_its_new_run(driven):
    """A step run early re-adds itself for later (as run_escalation_step does); the driver must not delete that run."""
    clock, scheduler = driven
    runs: list[datetime] = []

    def step() -> None:
        runs.append(clock())
        if len(runs) == 1:
            scheduler.add_job(step, trigger=DateTrigger(clock() + timedelta(minutes=10)), id="step", replace_existing=True)

    scheduler.add_job(step, trigger=DateTrigger(START + timedelta(minutes=1)), id="step")
    scheduler.run_due(START + timedelta(hours=1))
    assert runs == [START + timedelta(minutes=1), START + timedelta(minutes=11)]


def test_interval_jobs_start_from_console_time_and_ride_along_each_step(driven):
    """An interval job's first run is one interval after the console's time (not the wall clock's); a long move runs it
    once per step (coalesced), so planners with a look-ahead longer than a step see every instant coming."""
    clock, scheduler = driven
    runs: list[datetime] = []
    scheduler.add_job(lambda: runs.append(clock()), "interval", seconds=15, id="sweep")
    assert scheduler.get_job("sweep").next_run_time == START + timedelta(seconds=15)
    scheduler.run_due(START + timedelta(hours=12))
    assert len(runs) == -(-timedelta(hours=12) // MAX_STEP)  # one run per step, the last at the target
    assert max(b - a for a, b in zip([START, *runs], runs, strict=False)) <= MAX_STEP
    assert runs[-1] == START + timedelta(hours=12)


def test_a_failing_job_is_reported_and_the_next_one_still_runs(driven):
    """A job that raises is named in the result (as APScheduler's executor logs it); the jobs after it run."""
    clock, scheduler = driven
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("card gone")

    scheduler.add_job(broken, trigger=DateTrigger(START + timedelta(minutes=1)), id="broken")
    scheduler.add_job(lambda: seen.append("later"), trigger=DateTrigger(START + timedelta(minutes=2)), id="later")
    result = scheduler.run_due(START + timedelta(minutes=3))
    assert result.failed == ["broken: RuntimeError: card gone"] and seen == ["later"]


def test_a_job_far_past_its_grace_is_skipped_like_the_scheduler_does(driven):
    """A date job more than misfire_grace_time late (a database reopened much later) is counted as missed, not run."""
    clock, scheduler = driven
    seen: list[str] = []
    clock.advance_to(START + timedelta(hours=7))
    scheduler.add_job(lambda: seen.append("old"), trigger=DateTrigger(START), id="old")
    result = scheduler.run_due()
    assert result.missed == ["old"] and seen == [] and scheduler.get_job("old") is None
