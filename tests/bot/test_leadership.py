"""Scheduler leadership: start paused, lead while the lock is held, stand by otherwise."""

from __future__ import annotations

from bot.leadership import Role, SchedulerLeadership


class SharedLock:
    """One lock several instances compete for, as the database's advisory lock is."""

    def __init__(self) -> None:
        self.holder: object | None = None


class InstanceLock:
    kind = "test lock"

    def __init__(self, shared: SharedLock) -> None:
        self.shared = shared

    def try_acquire(self) -> bool:
        if self.shared.holder in (None, self):
            self.shared.holder = self
            return True
        return False

    def held(self) -> bool:
        return self.shared.holder is self

    def release(self) -> None:
        if self.shared.holder is self:
            self.shared.holder = None


class RecordingScheduler:
    def __init__(self) -> None:
        self.state = "stopped"
        self.history: list[str] = []

    def start(self, paused: bool = False) -> None:
        self.state = "paused" if paused else "running"
        self.history.append(f"start paused={paused}")

    def pause(self) -> None:
        self.state = "paused"
        self.history.append("pause")

    def resume(self) -> None:
        self.state = "running"
        self.history.append("resume")


def _instance(shared: SharedLock, leads: list[str], name: str) -> tuple[SchedulerLeadership, RecordingScheduler]:
    scheduler = RecordingScheduler()
    # A long poll keeps the background thread out of the way: the tests call tick() themselves.
    return SchedulerLeadership(scheduler, InstanceLock(shared), on_lead=lambda: leads.append(name), poll_s=3600), scheduler


def test_first_instance_leads_and_runs_its_scheduler():
    """The lock is free: the scheduler starts paused, recurring jobs are installed once, then it runs."""
    leads: list[str] = []
    leadership, scheduler = _instance(SharedLock(), leads, "a")
    leadership.start()
    try:
        assert leadership.role is Role.leader
        assert scheduler.history == ["start paused=True", "resume"]
        assert leads == ["a"]
        assert leadership.tick() is True
        assert leads == ["a"]  # still leading: nothing installed again
    finally:
        leadership.stop_watching()
        leadership.release()


def test_second_instance_stands_by_with_its_scheduler_paused_until_the_leader_goes():
    """A standby keeps a paused scheduler (its jobs reach the shared store) and takes over when the lock frees."""
    shared, leads = SharedLock(), []
    first, _ = _instance(shared, leads, "a")
    second, second_scheduler = _instance(shared, leads, "b")
    first.start()
    second.start()
    try:
        assert (first.role, second.role) == (Role.leader, Role.standby)
        assert second_scheduler.state == "paused"
        assert second.tick() is False
        first.stop_watching()
        first.release()  # the leader's session ends (stop, crash or kill -9 all free the lock)
        assert first.role is Role.stopped
        assert second.tick() is True
        assert second.role is Role.leader
        assert second_scheduler.state == "running"
        assert leads == ["a", "b"]
    finally:
        second.stop_watching()
        second.release()


def test_a_leader_that_lost_its_lock_pauses_at_once():
    """When the lock connection is lost the scheduler pauses, so two schedulers never run side by side."""
    shared, leads = SharedLock(), []
    leadership, scheduler = _instance(shared, leads, "a")
    leadership.start()
    try:
        shared.holder = object()  # someone else holds it now (our database session was ended)
        assert leadership.tick() is False
        assert leadership.role is Role.standby
        assert scheduler.state == "paused"
    finally:
        leadership.stop_watching()
        leadership.release()


def test_no_tick_takes_the_lead_once_watching_has_stopped():
    """During shutdown a free lock is not taken again (the scheduler is about to go)."""
    shared, leads = SharedLock(), []
    holder = InstanceLock(shared)
    holder.try_acquire()
    leadership, scheduler = _instance(shared, leads, "a")
    leadership.start()
    leadership.stop_watching()
    holder.release()
    assert leadership.tick() is False
    assert scheduler.state == "paused"
    leadership.release()
    assert leadership.role is Role.stopped
