"""App Home refreshes after the ack: one at every change of who is on call (planned ahead, caught up after downtime,
once per change) and one whenever a crisis opens or changes. Publishing a Home is the handlers' (handlers/app_home.py),
handed in as `publish`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.flows.ports import Later, RunLedger, instant_key
from bot.rotation import ScheduleIndex
from bot.rotation_messages import Holders

REFRESH_JOB = "bot.jobs:refresh_team_homes"


class RanKeys(Protocol):
    def ran_keys(self, keys: Iterable[str]) -> set[str]: ...


@dataclass(frozen=True)
class HomeRefresh:
    clock: Callable[[], datetime]
    ledger: RunLedger
    ran: RanKeys
    later: Later
    publish: Callable[[int], None]  # republish a team's App Homes, in the background

    def refresh(self, team_id: int, key: str | None = None) -> None:
        """Republish the Homes of everyone the team schedules; with a key (one per change of who is on call), once per
        key across restarts and processes (jobs persisted by earlier versions carry none and simply run)."""
        if key is not None and not self.ledger.claim(key, at=self.clock()):
            return
        self.publish(team_id)

    def after_crisis(self, team_id: int) -> None:
        """Refresh the team's Homes after a crisis opens or changes (off the scheduler's threads, which page people)."""
        self.publish(team_id)

    def plan(self, index: ScheduleIndex, team_id: int, now: datetime, *, lookback: timedelta, lookahead: timedelta) -> None:
        """Give every change of primary/backup/shadow in the window a refresh at that instant, and catch up the latest
        change of the look-back if its refresh never ran (the bot was down past the look-ahead)."""
        shifts = index.final_schedule(now - lookback, now + lookahead)
        changes = [after.start for before, after in zip(shifts, shifts[1:]) if Holders.of(before) != Holders.of(after)]
        keys = {at: f"homes:{team_id}:{instant_key(at)}" for at in changes}
        latest_past = [at for at in changes if at <= now][-1:]  # only the latest matters: a Home shows who is on call now
        done = self.ran.ran_keys(keys[at] for at in latest_past)
        for at in changes:
            if at > now or (at in latest_past and keys[at] not in done):
                self.later.at(REFRESH_JOB, job_id=keys[at], when=max(at, now), args=[team_id, keys[at]])
