"""Scheduler leadership: every instance keeps a scheduler, only the lock holder runs it; the others stand by.

A standby's scheduler is started paused, so jobs it adds (a crisis declared on this instance, say) are written to the
shared job store at once and run on the leader. A standby tries the lock every `poll_s` seconds and takes over when
the leader dies; a leader that finds its lock gone pauses at once, so two schedulers never run together for longer
than one tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)

# A standby notices a dead leader within this many seconds (the budget for a takeover is 30 s).
POLL_S = 5.0


class Role(StrEnum):
    leader = "leader"
    standby = "standby"
    stopped = "stopped"


class Lock(Protocol):
    kind: str

    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class PausableScheduler(Protocol):
    def start(self, paused: bool = False) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class SchedulerLeadership:
    """Start the scheduler paused, then lead while the lock is held; `role` is what /healthz reports."""

    def __init__(self, scheduler: PausableScheduler, lock: Lock, *, on_lead: Callable[[], None],
                 poll_s: float = POLL_S, standby_note: str = "") -> None:
        self._scheduler = scheduler
        self._lock = lock
        self._on_lead = on_lead
        self._poll_s = poll_s
        self._standby_note = standby_note
        self._role = Role.stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    @property
    def role(self) -> Role:
        return self._role

    def start(self) -> None:
        """Start paused, lead at once if the lock is free, and keep checking in the background."""
        self._scheduler.start(paused=True)
        self._role = Role.standby
        if not self.tick():
            log.warning("scheduler on standby: another instance holds the %s%s", self._lock.kind, self._standby_note)
        self._thread = threading.Thread(target=self._watch, name="socialops-leadership", daemon=True)
        self._thread.start()

    def tick(self) -> bool:
        """Check the lock once: take the lead if it is free, step down if it was lost; return whether we lead."""
        with self._guard:
            if self._stop.is_set():
                return False
            if self._role is Role.leader:
                if self._lock.held():
                    return True
                log.error("scheduler lock lost: pausing the scheduler and standing by")
                self._scheduler.pause()
                self._role = Role.standby
                return False
            if not self._lock.try_acquire():
                return False
            log.info("scheduler leader (%s)", self._lock.kind)
            self._on_lead()
            self._scheduler.resume()
            self._role = Role.leader
            return True

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.tick()

    def stop_watching(self) -> None:
        """Stop trying for (or checking) the lock; the caller then shuts the scheduler down and calls `release`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._poll_s + 1)

    def release(self) -> None:
        """Give the lock back once this instance's scheduler has stopped."""
        with self._guard:
            self._lock.release()
            self._role = Role.stopped
