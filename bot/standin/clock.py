"""The console's clock and the scheduler it drives: console time passes between typed lines, and jumps on `clock`.

`ConsoleClock` is the runtime's Clock. `ClockDrivenScheduler` stores jobs exactly like the real scheduler (same job
store, same triggers) but never runs them on its own thread: `run_due(clock, until)` walks the clock from one due job
to the next and runs each in the caller's thread, so whatever a job sends is printed, in order, before the prompt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import _StoppableScheduler
from bot.jobs import PLAN_LOOKAHEAD

log = logging.getLogger(__name__)

# The longest single step of a long jump. Interval jobs (sweeps, the planners) run once per step, so the step stays
# inside the planners' look-ahead: then every handoff, reminder and report gets its date job before it is due, and
# runs at its own time rather than at the end of a step.
MAX_STEP = PLAN_LOOKAHEAD - timedelta(minutes=5)
# A job that keeps rescheduling itself at the same instant would otherwise spin for ever.
MAX_RUNS_AT_ONE_INSTANT = 2_000


class ClockMovedBack(ValueError):
    """The console's time only moves forward, like the real one."""


class ConsoleClock:
    """A Clock that stands still between `follow_wall_clock` and `advance_to` calls; safe to read from any thread.

    The console calls `follow_wall_clock` before each typed line, so time passes as the typist waits (and two
    actions never share an instant), while everything one line sets off sees a single, unmoving "now".
    """

    def __init__(self, start: datetime, *, wall: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("ConsoleClock needs an aware start")
        self._now = start.astimezone(UTC)
        self._wall = wall
        self._wall_mark = wall()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def follow_wall_clock(self) -> datetime:
        """Add the wall-clock time passed since the clock last moved; return the new time."""
        with self._lock:
            mark = self._wall()
            self._now += timedelta(seconds=max(0.0, mark - self._wall_mark))
            self._wall_mark = mark
            return self._now

    def advance_to(self, when: datetime) -> None:
        """Move the clock to `when`; moving it back raises ClockMovedBack."""
        when = when.astimezone(UTC)
        with self._lock:
            if when < self._now:
                raise ClockMovedBack(f"{when:%Y-%m-%d %H:%M} UTC is before the console's time, {self._now:%Y-%m-%d %H:%M} UTC")
            self._now = when
            self._wall_mark = self._wall()


@dataclass
class DriveResult:
    """What one `run_due` did: jobs run, jobs that raised, and jobs skipped for being later than their grace."""

    ran: int = 0
    failed: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def clock_driven_scheduler(clock: ConsoleClock) -> type[ClockDrivenScheduler]:
    """Return a ClockDrivenScheduler class bound to `clock` (create_runtime builds the instance)."""
    return type("ClockDrivenScheduler", (ClockDrivenScheduler,), {"clock": clock})


class ClockDrivenScheduler(_StoppableScheduler):
    """A scheduler whose thread never runs a job; `run_due` does, when the console says so."""

    clock: ConsoleClock

    def _process_jobs(self):  # noqa: ANN202 - APScheduler's signature
        return None  # wait for the next wakeup; console time, not wall time, decides what is due

    def _create_trigger(self, trigger, trigger_args):  # noqa: ANN001, ANN202 - APScheduler's signature
        created = super()._create_trigger(trigger, trigger_args)
        if isinstance(created, IntervalTrigger) and "start_date" not in trigger_args:
            # APScheduler starts an interval at the wall clock's now; the first run belongs one interval after the console's.
            created.start_date = self.clock() + created.interval
        return created

    def _real_add_job(self, job: Job, jobstore_alias: str, replace_existing: bool) -> None:
        if not hasattr(job, "next_run_time"):
            # Otherwise APScheduler computes the first run from the wall clock, which the console's time has left behind.
            job._modify(next_run_time=job.trigger.get_next_fire_time(None, self.clock()))  # noqa: SLF001
        super()._real_add_job(job, jobstore_alias, replace_existing)

    def run_due(self, until: datetime | None = None, *, after_each: Callable[[], None] | None = None) -> DriveResult:
        """Run every job due up to `until` (default: the clock's time), each at its own due time, oldest first.

        `after_each` runs after every job (the console waits there for the background work a job started).
        """
        clock = self.clock
        result = DriveResult()
        until = clock() if until is None else until
        runs_here, instant = 0, clock()
        while True:
            now = clock()
            if now != instant:
                runs_here, instant = 0, now
            job = self._first_due(now)
            if job is not None and runs_here < MAX_RUNS_AT_ONE_INSTANT:
                runs_here += 1
                self._run(job, now, result)
                if after_each is not None:
                    after_each()
                continue
            if job is not None:
                log.error("job %s keeps coming due at %s; left for the next move of the clock", job.id, now.isoformat())
            if now >= until:
                return result
            stop = min(until, now + MAX_STEP)
            next_fixed = self._next_fixed_run(now)
            clock.advance_to(min(stop, next_fixed) if next_fixed is not None else stop)

    def _first_due(self, now: datetime) -> Job | None:
        with self._jobstores_lock:
            for store in self._jobstores.values():
                due = store.get_due_jobs(now)
                if due:
                    return due[0]
        return None

    def _next_fixed_run(self, now: datetime) -> datetime | None:
        """Return the earliest run of a date or cron job after `now`; interval jobs ride along with each step."""
        with self._jobstores_lock:
            times = [job.next_run_time for store in self._jobstores.values() for job in store.get_all_jobs()
                     if job.next_run_time is not None and not isinstance(job.trigger, IntervalTrigger)]
        later = [t for t in times if t > now]
        return min(later) if later else None

    def _run(self, job: Job, now: datetime, result: DriveResult) -> None:
        run_times = job._get_run_times(now)  # noqa: SLF001 - the same calls APScheduler's own pass makes
        run_time = run_times[-1] if run_times else now
        # Move the job on before running it, as APScheduler does: a job that reschedules itself under its own id
        # (an escalation step not yet due, "still on it?") must not have its new run removed afterwards.
        next_run = job.trigger.get_next_fire_time(run_time, now)
        if next_run is not None:
            job._modify(next_run_time=next_run)  # noqa: SLF001
            with self._jobstores_lock:
                self._lookup_jobstore(job._jobstore_alias).update_job(job)  # noqa: SLF001
        else:
            self.remove_job(job.id, job._jobstore_alias)  # noqa: SLF001
        if job.misfire_grace_time is not None and now - run_time > timedelta(seconds=job.misfire_grace_time):
            result.missed.append(job.id)
            self._dispatch_event(JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time))  # noqa: SLF001
            return
        try:
            retval = job.func(*job.args, **job.kwargs)
        except Exception as error:  # noqa: BLE001 - a job's failure is reported, as APScheduler's executor does
            log.exception("job %s raised", job.id)
            result.failed.append(f"{job.id}: {type(error).__name__}: {error}")
            self._dispatch_event(JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=error))  # noqa: SLF001
            return
        result.ran += 1
        self._dispatch_event(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time, retval=retval))  # noqa: SLF001
