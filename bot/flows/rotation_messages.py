"""Rotation upkeep after the ack: the team's Slack user group kept to who is on call, the admins' daily health DM,
and the reminders of an open cover request. (The handoff announcements and shift DMs are still planned and posted
by bot/jobs.py's plan_rotation_messages / run_rotation_event; they join this module next.)

What each message says and when a group needs syncing is bot/rotation_messages.py's; this is the executor on ports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.access import AdminDirectory
from bot.blocks.announcement import build_health_report, build_usergroup_disabled
from bot.errors import DeliveryFailed
from bot.flows.ports import Later, OutboxSender, RunLedger
from bot.installs import EverySending, SendingCheck
from bot.workspace_scope import acting_for
from bot.oncall import CoverRequestInfo, TeamInfo, TeamRotation
from bot.rotation import ScheduleIndex
from bot.rotation_messages import (
    USERGROUP_NOT_ALLOWED,
    MemberCheck,
    MemberState,
    TeamHealth,
    UsergroupState,
    people_at,
    scheduled_people,
    team_health,
    usergroup_update,
)
from bot.slack_time import slack_date

log = logging.getLogger(__name__)

REMIND_COVER_JOB = "bot.jobs:remind_cover_request"
COVER_REMINDER_EVERY = timedelta(hours=4)
COVER_REMINDER_LAST = timedelta(hours=1)  # no reminder in the last hour before the cover starts
COVER_REMINDER_MIN_GAP = timedelta(minutes=30)

# The change-instant job and the planner's catch-up may both sync one group; one process runs the scheduler.
_usergroup_lock = threading.Lock()


def next_cover_reminder(*, start: datetime, now: datetime) -> datetime | None:
    """Return when to remind the team of an open cover request next, or None when it is too close."""
    gap = start - COVER_REMINDER_LAST - now
    if gap < COVER_REMINDER_MIN_GAP:
        return None
    # Halving the wait near the deadline gives one late nudge; the minimum gap stops it from turning into spam.
    return now + min(COVER_REMINDER_EVERY, gap / 2)


class TeamRotations(Protocol):
    def all_teams(self) -> list[TeamInfo]: ...
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...
    def get_cover_request(self, request_id: int) -> CoverRequestInfo | None: ...


class UsergroupSyncs(Protocol):
    """What the bot last set each team's group to (storage/rotation_messages.py)."""

    def usergroup_state(self, team_id: int) -> UsergroupState | None: ...
    def record_synced(self, *, team_id: int, usergroup_id: str, users: list[str], at: datetime) -> None: ...
    def disable(self, *, team_id: int, usergroup_id: str, error: str, at: datetime) -> bool: ...


class SlackDirectory(Protocol):
    def call(self, method: str, **args: Any) -> dict[str, Any]: ...
    def user_info(self, user_id: str) -> dict[str, Any]: ...
    def open_dm(self, user: str) -> str: ...


@dataclass(frozen=True)
class RotationUpkeep:
    clock: Callable[[], datetime]
    rotations: TeamRotations
    syncs: UsergroupSyncs
    ledger: RunLedger
    admins: AdminDirectory
    slack: SlackDirectory
    outbox: OutboxSender
    later: Later
    workspaces: SendingCheck = field(default_factory=EverySending)  # an uninstalled workspace is not checked or told

    # --- the team's user group

    def sync_usergroup(self, team_id: int) -> None:
        """Make the team's user group exactly its current primary and backup, when that changed since the last sync."""
        with _usergroup_lock:
            rotation = self.rotations.load_rotation_by_id(team_id)
            if rotation is None:
                return
            now = self.clock()
            team = rotation.team
            index = ScheduleIndex(rotation.spec, rotation.layers)
            users = usergroup_update(team, self.syncs.usergroup_state(team_id), people_at(index, now))
            if users is None or team.usergroup_id is None:
                return
            try:
                # `users` is the group's entire new membership, not an addition.
                self.slack.call("usergroups.users.update", usergroup=team.usergroup_id, users=",".join(users))
            except DeliveryFailed as failure:
                if failure.code in USERGROUP_NOT_ALLOWED:
                    if self.syncs.disable(team_id=team_id, usergroup_id=team.usergroup_id, error=failure.code, at=now):
                        self._tell_admins_usergroup_disabled(rotation.team, failure.code, now)
                    return
                if failure.transient:
                    # The client already retried; the planner's next pass sees the group out of date and tries again.
                    log.warning("user group %s of team %s: %s, will retry", team.usergroup_id, team_id, failure.code)
                    return
                raise
            self.syncs.record_synced(team_id=team_id, usergroup_id=team.usergroup_id, users=users, at=now)

    def _tell_admins_usergroup_disabled(self, team: TeamInfo, error: str, now: datetime) -> None:
        assert team.usergroup_id is not None
        text, blocks = build_usergroup_disabled(team, usergroup_id=team.usergroup_id, error=error)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        for admin in self.admins.admin_ids():
            self.outbox.send(dedupe_key=f"usergroup-off:{team.id}:{team.usergroup_id}:{stamp}:{admin}", method="dm",
                             payload={"user": admin, "text": text, "blocks": blocks})

    # --- the daily health check

    def health_check(self) -> None:
        """DM the admins, once a day, the next 14 days' gaps and members who left, are deactivated or cannot get DMs."""
        now = self.clock()
        run_key = f"health:{now:%Y-%m-%d}"
        if self.ledger.has_run(run_key):
            return
        teams_by_workspace: dict[str, list[TeamInfo]] = {}
        for team in self.rotations.all_teams():
            teams_by_workspace.setdefault(team.workspace_id, []).append(team)
        for workspace, teams in teams_by_workspace.items():
            if not self.workspaces.is_sending(workspace):
                continue  # uninstalled: its people are not checked and its admins not told
            # Each workspace's people are checked with its own token, and only its admins hear about its teams.
            with acting_for(workspace):
                self._check_workspace_health(teams, run_key=run_key, now=now)
        self.ledger.claim(run_key, at=now)

    def _check_workspace_health(self, teams: list[TeamInfo], *, run_key: str, now: datetime) -> None:
        checks: dict[str, MemberCheck] = {}
        reports: list[TeamHealth] = []
        for team in teams:
            rotation = self.rotations.load_rotation_by_id(team.id)
            if rotation is None:
                continue
            for user_id in scheduled_people(rotation.spec):
                if user_id not in checks:
                    checks[user_id] = self.check_member(user_id)
            health = team_health(ScheduleIndex(rotation.spec, rotation.layers), rotation.team, checks, now=now)
            if not health.ok:
                reports.append(health)
        if reports:
            text, blocks = build_health_report(reports)
            workspace = teams[0].workspace_id
            for admin in self.admins.admin_ids():
                self.outbox.send(dedupe_key=f"{run_key}:{workspace}:{admin}" if workspace else f"{run_key}:{admin}", method="dm",
                                 payload={"user": admin, "text": text, "blocks": blocks})

    def check_member(self, user_id: str) -> MemberCheck:
        """Ask Slack whether a scheduled person still exists, is active, and can be sent a DM."""
        try:
            info = self.slack.user_info(user_id)
        except DeliveryFailed as failure:
            if failure.code == "user_not_found":
                return MemberCheck(MemberState.LEFT)
            if failure.transient:
                return MemberCheck(MemberState.UNKNOWN, failure.code)
            raise
        if info.get("deleted"):
            return MemberCheck(MemberState.DEACTIVATED)
        try:
            self.slack.open_dm(user_id)
        except DeliveryFailed as failure:
            if failure.transient:
                return MemberCheck(MemberState.UNKNOWN, failure.code)
            return MemberCheck(MemberState.CANNOT_DM, failure.code)
        return MemberCheck(MemberState.OK)

    # --- cover requests

    def schedule_cover_reminder(self, request_id: int, *, start: datetime) -> None:
        """Plan the next reminder of an open cover request (none when it starts too soon)."""
        when = next_cover_reminder(start=start, now=self.clock())
        if when is not None:
            self.later.at(REMIND_COVER_JOB, job_id=f"cover-remind:{request_id}", when=when, args=[request_id])

    def remind_cover_request(self, request_id: int) -> None:
        """Nudge the team in the card's thread while a cover request is still open, until shortly before it starts."""
        now = self.clock()
        request = self.rotations.get_cover_request(request_id)
        if request is None or request.status != "open" or request.start - COVER_REMINDER_LAST <= now or not (request.channel and request.message_ts):
            return
        text = (f"Still looking for cover: <@{request.requester}> on *{request.team.name}* from "
                f"{slack_date(request.start, request.team.tz)} to {slack_date(request.end, request.team.tz)}. Press *Take* on the card above.")
        self.outbox.send(dedupe_key=f"cover-remind:{request_id}:{now:%Y%m%dT%H%M}", method="chat.postMessage",
                         payload={"channel": request.channel, "thread_ts": request.message_ts, "text": text})
        self.schedule_cover_reminder(request_id, start=request.start)
