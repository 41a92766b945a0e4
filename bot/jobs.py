"""Scheduler entry points: module-level functions referenced as text, taking IDs only.

Each job reloads its state and is idempotent, so APScheduler's catch-up after a restart (coalesced,
within the misfire grace) runs a due job once and a finished job never again. `bind()` hands the
jobs their collaborators; the composition root calls it before starting the scheduler.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from bot.access import AdminDirectory
from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink, Via
from bot import crisis as crisis_use
from bot.crisis_chart import CHART_SPAN, render_chart
from bot.spikes import Bucket, Severity
from bot.flows import detection as detection_flow
from bot.metrics import Metrics, timed_detection_pass
from bot.blocks.announcement import build_announcement, build_health_report, build_reminder, build_usergroup_disabled
from bot import burnout
from bot.mentions import TOMBSTONE_HORIZON, MentionPurge
from bot.blocks.burnout import build_offer_to_backup, build_offer_to_primary
from bot.oncall import TeamInfo, TeamRotation
from bot.outbox import next_attempt_at, should_give_up
from bot.retention import RetentionCutoffs, RetentionPolicy
from bot.people import ZoneFacts, zone_of
from bot.flows.outbox import OutboxFlow
from bot.flows.paging import STILL_ON_IT_DELIVERED, Paging
from bot.flows.uploads import FileUpload
from bot.rotation import ScheduleIndex
from bot.rotation_messages import (
    USERGROUP_NOT_ALLOWED,
    RotationEventKind,
    MemberCheck,
    MemberState,
    OpenCoverRequests,
    AnnouncedCrises,
    Holders,
    TeamHealth,
    compose_announcement,
    compose_reminder,
    find_event,
    parse_event_key,
    people_at,
    planned_events,
    scheduled_people,
    team_health,
    usergroup_update,
)
from bot.slack_gateway import SlackCallFailed, SlackGateway
from bot.installs import WorkspaceStates, run_for_workspace
from bot.workspace_scope import acting_for
from bot.blocks.report import build_checkin_question, build_report as build_report_blocks
from bot.report_chart import Chart, report_charts
from bot.reports import ReportDelivery, TeamReport, build_report, report_period, weekly_report_due, weekly_report_weeks
from bot.shift_checkin import CHECKIN_LATE_LIMIT, ending_shift
from bot.slack_time import slack_date
from storage.burnout import Burnout
from storage.events import EVENT_MEMORY, ProcessedEvents
from storage.crises import Crises, Detection
from storage.detector_settings import DetectorSettingsStore
from storage.member_settings import MemberSettingsStore
from storage.mentions import Mentions
from storage.job_runs import JobLedger
from storage.outbox import Outbox
from storage.rotation_messages import RotationMessageState
from storage.rotations import Rotations
from storage.reports import Reports

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30


@dataclass(frozen=True)
class JobContext:
    clock: Callable[[], datetime]
    outbox: Outbox
    slack: SlackGateway
    audit: AuditSink
    events: ProcessedEvents
    scheduler: BaseScheduler
    rotations: Rotations
    admins: AdminDirectory
    ledger: JobLedger
    message_state: RotationMessageState
    crises: AnnouncedCrises
    cover_requests: OpenCoverRequests
    people: ZoneDirectory  # each person's zone facts (bot.people.zone_of reads them)
    mentions: MentionPurger  # raw mentions past their retention become tombstones
    retention_store: ExpiredRows  # counters, finished outbox rows, job ledger, audit past their retention
    crisis_records: Crises  # crises, their steps, card copies and timeline
    detection: Detection  # topic watches and their detectors
    mention_counts: Mentions  # per-minute counters the detector reads
    detector_settings: DetectorSettingsStore  # per-team tuning and campaign windows
    member_settings: MemberSettingsStore  # each person's page_via and quiet hours (App Home)
    burnout: Burnout  # limits, offers and proposals of the burnout guard
    refresh_homes: Callable[[int], None]  # republish a team's App Homes, in the background (handlers/app_home.py)
    reports: Reports  # report facts, settings and check-ins
    installs: WorkspaceStates  # which workspaces still have the app (an uninstalled one gets nothing sent)
    mention_retention: timedelta = timedelta(days=30)
    retention: RetentionPolicy = RetentionPolicy()
    metrics: Metrics | None = None  # this runtime's /metrics (detection pass time); None in bare job contexts


_context: JobContext | None = None


def bind(context: JobContext | None) -> None:
    """Give the job functions their collaborators (None unbinds at shutdown)."""
    global _context
    _context = context


def _ctx() -> JobContext:
    if _context is None:
        raise RuntimeError("bot.jobs used before bind(): the composition root must bind the jobs first")
    return _context


def _acting_for(workspace_of: Callable[..., str | None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a job for the workspace its arguments belong to (its token, its admins); skip it while that workspace is uninstalled.

    `workspace_of(ctx, *args, **kwargs)` finds the workspace from the job's IDs; None (the row is gone) runs the job
    unscoped, and the job itself then finds nothing to do. The flows (bot/flows/) scope their own entry points.
    """
    def decorate(job: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            ctx = _ctx()
            return run_for_workspace(ctx.installs, workspace_of(ctx, *args, **kwargs), lambda: job(*args, **kwargs),
                                     skipped=None, what=f"{job.__name__}{args!r}")
        return run
    return decorate


def _team_workspace(ctx: JobContext, team_id: int, *_: Any, **__: Any) -> str | None:
    return ctx.rotations.team_workspace(team_id)


def _crisis_workspace(ctx: JobContext, crisis_id: int, *_: Any, **__: Any) -> str | None:
    crisis = ctx.crisis_records.get_crisis(crisis_id)
    return None if crisis is None else crisis.workspace_id


def _event_key_workspace(ctx: JobContext, key: str) -> str | None:
    return _team_workspace(ctx, parse_event_key(key).team_id)


def _cover_request_workspace(ctx: JobContext, request_id: int) -> str | None:
    request = ctx.rotations.get_cover_request(request_id)
    return None if request is None else request.team.workspace_id


def _report_key_workspace(ctx: JobContext, key: str) -> str | None:
    return _team_workspace(ctx, _report_key_parts(key)[0])


def _outbox(ctx: JobContext) -> OutboxFlow:
    return OutboxFlow(clock=ctx.clock, queue=ctx.outbox, slack=ctx.slack, audit=ctx.audit, later=SchedulerLater(ctx.scheduler),
                      on_delivered={STILL_ON_IT_DELIVERED: _paging(ctx).still_on_it_delivered}, workspaces=ctx.installs)


def enqueue_call(*, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None,
                 kind: str | None = None, subject: dict[str, Any] | None = None) -> int:
    """Queue a Web API call for delivery at `due_at` (now by default); the same key is queued once."""
    return _outbox(_ctx()).send(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due_at, kind=kind, subject=subject)


def deliver_outbox_item(item_id: int) -> None:
    """Send one queued call; on a transient failure try again later, on a permanent one give up loudly."""
    _outbox(_ctx()).deliver(item_id)


def sweep_outbox() -> None:
    """Deliver anything due that no date job is waiting for (e.g. a lease that expired in a crash)."""
    _outbox(_ctx()).sweep()


def purge_processed_events() -> None:
    """Forget event ids older than Slack's retry horizon."""
    ctx = _ctx()
    ctx.events.purge_older_than(ctx.clock() - EVENT_MEMORY)


class ZoneDirectory(Protocol):
    """A person's stored zone facts (storage/people.py)."""

    def tz_facts(self, workspace_id: str, user_id: str) -> ZoneFacts: ...
    def remember_zone(self, *, workspace_id: str, user_id: str, tz: str, now: datetime) -> None: ...


class MentionPurger(Protocol):
    def purge_mentions(self, *, before: datetime, forget_before: datetime, now: datetime) -> MentionPurge: ...


def purge_old_mentions() -> None:
    """Blank raw mentions past the retention to tombstones (their key keeps re-deliveries out) and delete tombstones
    past TOMBSTONE_HORIZON; the per-minute counters stay for detection and reports."""
    ctx = _ctx()
    now = ctx.clock()
    before = now - ctx.mention_retention
    purge = ctx.mentions.purge_mentions(before=before, forget_before=min(before, now - TOMBSTONE_HORIZON), now=now)
    if purge.tombstoned or purge.forgotten:
        log.info("purged %s mentions older than %s days; forgot %s tombstones", purge.tombstoned,
                 ctx.mention_retention.days, purge.forgotten)


class ExpiredRows(Protocol):
    def purge_expired(self, cutoffs: RetentionCutoffs) -> dict[str, int]: ...


def purge_expired_rows() -> None:
    """Delete counters, finished outbox rows, ledger keys and audit entries past their retention (nightly)."""
    ctx = _ctx()
    purged = ctx.retention_store.purge_expired(ctx.retention.cutoffs(ctx.clock()))
    if any(purged.values()):
        log.info("retention purge: %s", ", ".join(f"{table} {count}" for table, count in purged.items() if count))


def install_recurring_jobs(scheduler: BaseScheduler) -> None:
    """Add the housekeeping jobs with fixed IDs (replace_existing keeps one copy across restarts)."""
    scheduler.add_job("bot.jobs:sweep_outbox", "interval", seconds=SWEEP_EVERY_S, id="outbox:sweep", replace_existing=True)
    scheduler.add_job("bot.jobs:purge_processed_events", "interval", hours=1, id="events:purge", replace_existing=True)
    scheduler.add_job("bot.jobs:purge_old_mentions", "cron", hour=3, minute=30, timezone=UTC, id="mentions:purge", replace_existing=True)
    scheduler.add_job("bot.jobs:purge_expired_rows", "cron", hour=3, minute=45, timezone=UTC, id="retention:purge", replace_existing=True)
    scheduler.add_job("bot.jobs:plan_rotation_messages", "interval", seconds=PLAN_EVERY_S, id="rotation:plan", replace_existing=True)
    # A fixed UTC hour (not an interval) so restarts, which re-add the job, never push the check back a day.
    scheduler.add_job("bot.jobs:run_health_check", "cron", hour=HEALTH_CHECK_HOUR_UTC, minute=0, timezone=UTC,
                      id="rotation:health", replace_existing=True)
    scheduler.add_job("bot.jobs:detect_spikes", "interval", seconds=DETECT_EVERY_S, id="crisis:detect", replace_existing=True)
    scheduler.add_job("bot.jobs:sweep_crises", "interval", seconds=CRISIS_SWEEP_EVERY_S, id="crisis:sweep", replace_existing=True)
    scheduler.add_job("bot.jobs:plan_report_events", "interval", seconds=REPORT_PLAN_EVERY_S, id="reports:plan", replace_existing=True)


# --- automatic rotation messages (issue 4) ---------------------------------------------------------

PLAN_EVERY_S = 300
# The planner looks back so a restart catches up what it missed (events past their expiry are dropped),
# and ahead a little further than its own period so every event has its date job before it is due.
PLAN_LOOKBACK = timedelta(hours=24)
PLAN_LOOKAHEAD = timedelta(hours=3)
HEALTH_CHECK_HOUR_UTC = 7
# The change-instant job and the planner's catch-up may both sync one group; one process runs the scheduler.
_usergroup_lock = threading.Lock()


def _schedule_once(scheduler: BaseScheduler, func: str, job_id: str, when: datetime, args: list[Any]) -> None:
    scheduler.add_job(func, trigger=DateTrigger(run_date=when), args=args, id=job_id, replace_existing=True)


@dataclass(frozen=True)
class SchedulerLater:
    """The flows' Later port on APScheduler: one date job per id (replace_existing)."""

    scheduler: BaseScheduler

    def at(self, func: str, *, job_id: str, when: datetime, args: list[Any]) -> None:
        _schedule_once(self.scheduler, func, job_id, when, args)


def plan_rotation_messages() -> None:
    """Give every due or soon-due announcement, shift DM and user-group sync a date job (missed ones run now)."""
    ctx = _ctx()
    now = ctx.clock()
    for team in ctx.rotations.all_teams():
        rotation = ctx.rotations.load_rotation_by_id(team.id)
        if rotation is None:
            continue  # deleted since all_teams()
        index = ScheduleIndex(rotation.spec, rotation.layers)
        events = [e for e in planned_events(index, rotation.team, now - PLAN_LOOKBACK, now + PLAN_LOOKAHEAD) if now < e.expires_at]
        done = ctx.message_state.ran_keys(e.key for e in events if e.kind is not RotationEventKind.USERGROUP)
        for event in events:
            if event.kind is RotationEventKind.USERGROUP:
                if event.at > now:  # past changes are covered by the catch-up sync below
                    _schedule_once(ctx.scheduler, "bot.jobs:sync_usergroup", event.key, event.at, [team.id])
            elif event.key not in done:
                _schedule_once(ctx.scheduler, "bot.jobs:run_rotation_event", event.key, max(event.at, now), [event.key])
        _plan_home_refreshes(ctx, index, team.id, now)
        if usergroup_update(rotation.team, ctx.message_state.usergroup_state(team.id), people_at(index, now)) is not None:
            # Never synced, or a change was missed while the bot was down.
            _schedule_once(ctx.scheduler, "bot.jobs:sync_usergroup", f"usergroup:{team.id}:catch-up", now, [team.id])


@_acting_for(_event_key_workspace)
def run_rotation_event(key: str) -> None:
    """Post one handoff announcement or shift DM, if the schedule still plans it and it is not stale; once per key."""
    ctx = _ctx()
    now = ctx.clock()
    if ctx.ledger.has_run(key):
        return
    rotation = ctx.rotations.load_rotation_by_id(parse_event_key(key).team_id)
    if rotation is None:
        return
    team = rotation.team
    index = ScheduleIndex(rotation.spec, rotation.layers)
    event = find_event(index, team, key)
    if event is None or now >= event.expires_at:
        log.info("rotation event %s dropped: %s", key, "no longer planned" if event is None else "stale")
        return
    if now < event.at:
        _schedule_once(ctx.scheduler, "bot.jobs:run_rotation_event", key, event.at, [key])
        return
    if event.kind is RotationEventKind.ANNOUNCE:
        assert team.announce_channel is not None  # planned_events only announces to teams with a channel
        announcement = compose_announcement(
            index, team, event.change_at, crises=ctx.crises.open_crises(team.id),
            cover_requests=ctx.cover_requests.open_cover_requests(team.id), now=now,
            rebalance=_rebalance_proposal(ctx, rotation, event.change_at, now),
        )
        text, blocks = build_announcement(announcement)
        enqueue_call(dedupe_key=key, method="chat.postMessage", payload={"channel": team.announce_channel, "text": text, "blocks": blocks})
    else:
        text, blocks = build_reminder(compose_reminder(index, team, event, now=now))
        enqueue_call(dedupe_key=key, method="dm", payload={"user": event.user_id, "text": text, "blocks": blocks})
    # Claimed after queueing: a crash in between re-queues under the same dedupe key (one message), where
    # claiming first could lose the message.
    ctx.ledger.claim(key, at=now)


@_acting_for(_team_workspace)
def sync_usergroup(team_id: int) -> None:
    """Make the team's user group exactly its current primary and backup, when that changed since the last sync."""
    ctx = _ctx()
    with _usergroup_lock:
        rotation = ctx.rotations.load_rotation_by_id(team_id)
        if rotation is None:
            return
        now = ctx.clock()
        team = rotation.team
        index = ScheduleIndex(rotation.spec, rotation.layers)
        users = usergroup_update(team, ctx.message_state.usergroup_state(team_id), people_at(index, now))
        if users is None or team.usergroup_id is None:
            return
        try:
            # `users` is the group's entire new membership, not an addition.
            ctx.slack.call("usergroups.users.update", usergroup=team.usergroup_id, users=",".join(users))
        except SlackCallFailed as failure:
            if failure.code in USERGROUP_NOT_ALLOWED:
                if ctx.message_state.disable(team_id=team_id, usergroup_id=team.usergroup_id, error=failure.code, at=now):
                    _tell_admins_usergroup_disabled(ctx, rotation.team, failure.code, now)
                return
            if failure.transient:
                # The client already retried; the planner's next pass sees the group out of date and tries again.
                log.warning("user group %s of team %s: %s, will retry", team.usergroup_id, team_id, failure.code)
                return
            raise
        ctx.message_state.record_synced(team_id=team_id, usergroup_id=team.usergroup_id, users=users, at=now)


def _tell_admins_usergroup_disabled(ctx: JobContext, team: TeamInfo, error: str, now: datetime) -> None:
    assert team.usergroup_id is not None
    text, blocks = build_usergroup_disabled(team, usergroup_id=team.usergroup_id, error=error)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for admin in ctx.admins.admin_ids():
        enqueue_call(dedupe_key=f"usergroup-off:{team.id}:{team.usergroup_id}:{stamp}:{admin}", method="dm",
                     payload={"user": admin, "text": text, "blocks": blocks})


def run_health_check() -> None:
    """DM the admins, once a day, the next 14 days' gaps and members who left, are deactivated or cannot get DMs."""
    ctx = _ctx()
    now = ctx.clock()
    run_key = f"health:{now:%Y-%m-%d}"
    if ctx.ledger.has_run(run_key):
        return
    teams_by_workspace: dict[str, list[TeamInfo]] = {}
    for team in ctx.rotations.all_teams():
        teams_by_workspace.setdefault(team.workspace_id, []).append(team)
    for workspace, teams in teams_by_workspace.items():
        if not ctx.installs.is_sending(workspace):
            continue  # uninstalled: its people are not checked and its admins not told
        # Each workspace's people are checked with its own token, and only its admins hear about its teams.
        with acting_for(workspace):
            _check_workspace_health(ctx, teams, run_key=run_key, now=now)
    ctx.ledger.claim(run_key, at=now)


def _check_workspace_health(ctx: JobContext, teams: list[TeamInfo], *, run_key: str, now: datetime) -> None:
    checks: dict[str, MemberCheck] = {}
    reports: list[TeamHealth] = []
    for team in teams:
        rotation = ctx.rotations.load_rotation_by_id(team.id)
        if rotation is None:
            continue
        for user_id in scheduled_people(rotation.spec):
            if user_id not in checks:
                checks[user_id] = _check_member(ctx.slack, user_id)
        health = team_health(ScheduleIndex(rotation.spec, rotation.layers), rotation.team, checks, now=now)
        if not health.ok:
            reports.append(health)
    if reports:
        text, blocks = build_health_report(reports)
        for admin in ctx.admins.admin_ids():
            enqueue_call(dedupe_key=f"{run_key}:{teams[0].workspace_id}:{admin}" if teams[0].workspace_id else f"{run_key}:{admin}",
                         method="dm", payload={"user": admin, "text": text, "blocks": blocks})


def _check_member(slack: SlackGateway, user_id: str) -> MemberCheck:
    """Ask Slack whether a scheduled person still exists, is active, and can be sent a DM."""
    try:
        info = slack.user_info(user_id)
    except SlackCallFailed as failure:
        if failure.code == "user_not_found":
            return MemberCheck(MemberState.LEFT)
        if failure.transient:
            return MemberCheck(MemberState.UNKNOWN, failure.code)
        raise
    if info.get("deleted"):
        return MemberCheck(MemberState.DEACTIVATED)
    try:
        slack.open_dm(user_id)
    except SlackCallFailed as failure:
        if failure.transient:
            return MemberCheck(MemberState.UNKNOWN, failure.code)
        return MemberCheck(MemberState.CANNOT_DM, failure.code)
    return MemberCheck(MemberState.OK)


COVER_REMINDER_EVERY = timedelta(hours=4)
COVER_REMINDER_LAST = timedelta(hours=1)  # no reminder in the last hour before the cover starts
COVER_REMINDER_MIN_GAP = timedelta(minutes=30)


def next_cover_reminder(*, start: datetime, now: datetime) -> datetime | None:
    """Return when to remind the team of an open cover request next, or None when it is too close."""
    gap = start - COVER_REMINDER_LAST - now
    if gap < COVER_REMINDER_MIN_GAP:
        return None
    # Halving the wait near the deadline gives one late nudge; the minimum gap stops it from turning into spam.
    return now + min(COVER_REMINDER_EVERY, gap / 2)


def schedule_cover_reminder(request_id: int, *, start: datetime) -> None:
    """Plan the first reminder for a freshly posted cover request."""
    ctx = _ctx()
    when = next_cover_reminder(start=start, now=ctx.clock())
    if when is not None:
        ctx.scheduler.add_job("bot.jobs:remind_cover_request", trigger=DateTrigger(run_date=when), args=[request_id],
                              id=f"cover-remind:{request_id}", replace_existing=True)


@_acting_for(_cover_request_workspace)
def remind_cover_request(request_id: int) -> None:
    """Nudge the team in the card's thread while a cover request is still open, until shortly before it starts."""
    ctx = _ctx()
    now = ctx.clock()
    request = ctx.rotations.get_cover_request(request_id)
    if request is None or request.status != "open" or request.start - COVER_REMINDER_LAST <= now or not (request.channel and request.message_ts):
        return
    text = (f"Still looking for cover: <@{request.requester}> on *{request.team.name}* from "
            f"{slack_date(request.start, request.team.tz)} to {slack_date(request.end, request.team.tz)}. Press *Take* on the card above.")
    enqueue_call(dedupe_key=f"cover-remind:{request_id}:{now:%Y%m%dT%H%M}", method="chat.postMessage",
                 payload={"channel": request.channel, "thread_ts": request.message_ts, "text": text})
    schedule_cover_reminder(request_id, start=request.start)


# --- crisis paging and escalation: bot/flows/paging.py decides and acts; these are its job entry points --------

# Step deadlines live in crisis_escalation_steps; the date jobs are the fast path and this sweep the safety net
# (a job lost with its process, or a deadline moved by "Escalate now" in another process).
CRISIS_SWEEP_EVERY_S = 15


def _crises(ctx: JobContext) -> Crises:
    return ctx.crisis_records


def _paging(ctx: JobContext) -> Paging:
    return Paging(
        clock=ctx.clock, store=_crises(ctx), audit=ctx.audit, messenger=ctx.slack, outbox=JobPorts(), workspaces=ctx.installs,
        later=SchedulerLater(ctx.scheduler), ledger=ctx.ledger, admins=ctx.admins, rotations=ctx.rotations,
        member_settings=ctx.member_settings, team_knobs=ctx.detector_settings, people=ctx.people,
        on_paged=lambda team_id, user_id, at: _plan_sleep_guard(ctx, team_id, user_id, at),
        refresh_homes=lambda team_id: _refresh_homes_after_crisis(ctx, team_id),
        display_name=lambda user_id: _slack_name(ctx.slack, user_id),
    )


def start_crisis_chain(crisis_id: int) -> None:
    """Run the steps already due (the first page) now and give every later step its date job `escalate:{crisis_id}:{step}`."""
    _paging(_ctx()).start_chain(crisis_id)


def run_escalation_step(crisis_id: int, step: int) -> None:
    """Run one escalation step once, at or after its stored deadline; skipped once the crisis is acknowledged or closed."""
    _paging(_ctx()).run_step(crisis_id, step)


def deliver_held_page(crisis_id: int, user_id: str, step: int) -> None:
    """Deliver a page held for quiet hours, once, unless the crisis was acknowledged or closed meanwhile."""
    _paging(_ctx()).deliver_held_page(crisis_id, user_id, step)


def page_person(crisis_id: int, user_id: str, actor: str) -> bool:
    """Deliver a page asked for by hand (`/crisis page @who`); return whether it arrived."""
    return _paging(_ctx()).page_person(crisis_id, user_id)


def refresh_crisis_card(crisis_id: int) -> None:
    """Update the card in place and add any new timeline lines to its thread."""
    _paging(_ctx()).refresh_card(crisis_id)


def after_crisis_change(crisis_id: int) -> None:
    """Refresh the card, and plan the "still on it?" check of a freshly acknowledged crisis."""
    _paging(_ctx()).after_change(crisis_id)


def check_still_on_it(crisis_id: int) -> None:
    """Ask an acknowledger with no update "still on it?"; if the question goes unanswered too, page again."""
    _paging(_ctx()).check_still_on_it(crisis_id)


def sweep_crises() -> None:
    """Run every escalation step past its deadline that no date job ran (after a restart, or moved elsewhere)."""
    _paging(_ctx()).sweep()


def _roster_zone(rotation: TeamRotation | None, user_id: str) -> str | None:
    if rotation is None:
        return None
    return next((m.tz for m in rotation.spec.members if m.user_id == user_id), None)


# --- spike detection (issue 6) -----------------------------------------------------------------------

DETECT_EVERY_S = 60


_detect_lock = threading.Lock()  # the minute job and webhook-triggered passes must not open one spike twice


def detect_spikes() -> None:
    """Feed every watched topic's new whole minutes into its persisted detector; open or escalate crises."""
    ctx = _ctx()
    with _detect_lock:
        _detect(ctx, ctx.detection, ctx.crisis_records, ctx.mention_counts)


_detect_again = threading.Event()


def detect_after_batch() -> None:
    """Run a detection pass because a webhook batch was stored; passes asked for while one runs collapse into one more."""
    if _context is None:
        return  # ingest-only tools never bind the jobs
    _detect_again.set()
    if not _detect_lock.acquire(blocking=False):
        return  # the running pass sees the flag and goes round again (the minute job covers the narrow miss)
    try:
        while _detect_again.is_set():
            _detect_again.clear()
            ctx = _ctx()
            _detect(ctx, ctx.detection, ctx.crisis_records, ctx.mention_counts)
    finally:
        _detect_lock.release()


@timed_detection_pass
def _detect(ctx: JobContext, detection: Detection, store: Crises, counts: Mentions) -> None:
    """One pass of bot.flows.detection with this runtime's stores."""
    detection_flow.run_pass(topics=detection, counts=counts, crises=store, knobs=ctx.detector_settings,
                            actions=_spike_responder(ctx), audit=ctx.audit, now=ctx.clock())


def _spike_responder(ctx: JobContext) -> detection_flow.SpikeResponder:
    return detection_flow.SpikeResponder(crises=_crises(ctx), counts=ctx.mention_counts, sources=ctx.detection, rotations=ctx.rotations,
                                         campaigns=ctx.detector_settings, audit=ctx.audit, follow_ups=JobPorts(), clock=ctx.clock,
                                         workspaces=ctx.installs)


def open_spike_crisis(*, topic_id: int, team_id: int, topic: str, severity: Severity, expected_per_minute: float,
                      buckets: list[Bucket]) -> crisis_use.Crisis | None:
    """Open a detected crisis with the card's numbers and start paging (console `/simulate spike`); None when it has one."""
    return _spike_responder(_ctx()).open_spike_crisis(topic_id=topic_id, team_id=team_id, topic=topic, severity=severity,
                                                      expected_per_minute=expected_per_minute, buckets=buckets)


@_acting_for(_crisis_workspace)
def upload_crisis_chart(crisis_id: int) -> None:
    """Upload the last 24 h of the crisis topic's mentions as a PNG to the crisis channel, once."""
    ctx = _ctx()
    crisis = _crises(ctx).get_crisis(crisis_id)
    key = f"crisis-chart:{crisis_id}"
    if crisis is None or crisis.topic_id is None or crisis.channel is None or ctx.mention_counts is None or ctx.ledger.has_run(key):
        return
    until = ctx.clock()
    buckets = ctx.mention_counts.buckets(topic_id=crisis.topic_id, since=until - CHART_SPAN, until=until)
    png = render_chart(buckets, topic=crisis.topic, until=until)
    try:
        ctx.slack.upload_file(channel=crisis.channel, filename=f"crisis-{crisis_id}-{crisis.topic}.png", content=png,
                              title=f"{crisis.topic}: last 24 h", initial_comment=f"Crisis #{crisis_id}: mentions of {crisis.topic} over the last 24 h.")
    except SlackCallFailed as failure:
        log.warning("crisis %s: chart not uploaded: %s", crisis_id, failure.code)  # the card carries the text sparkline anyway
        return
    ctx.ledger.claim(key, at=until)


# --- burnout guard and App Home refresh (issue 7) ------------------------------------------------------

# A primary stretch longer than this (many weeks of overrides in a row) has its older sleep pages ignored.
SLEEP_GUARD_LOOKBACK_SHIFTS = 4


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _plan_sleep_guard(ctx: JobContext, team_id: int, user_id: str, at: datetime) -> None:
    """Check the burnout guard in a job of its own, so paging never waits for it or fails because of it."""
    _schedule_once(ctx.scheduler, "bot.jobs:guard_sleep_pages", f"burnout-page:{team_id}:{user_id}:{_stamp(at)}", ctx.clock(),
                   [team_id, user_id, at.isoformat()])


def _person_zone(ctx: JobContext, rotation: TeamRotation, user_id: str) -> str:
    """Return the person's zone by bot.people.zone_of, asking Slack (and remembering its answer) when nothing is stored."""
    workspace_id = rotation.team.workspace_id
    facts = ctx.people.tz_facts(workspace_id, user_id)
    known = facts.known
    if not facts.chosen and not known:
        try:
            known = ctx.slack.user_info(user_id).get("tz")
        except SlackCallFailed as failure:
            if not failure.transient and failure.code != "user_not_found":
                raise
            known = None  # Slack cannot say now: the roster's zone is the best guess
        if known:
            ctx.people.remember_zone(workspace_id=workspace_id, user_id=user_id, tz=known, now=ctx.clock())
    return zone_of(chosen=facts.chosen, known=known, roster=_roster_zone(rotation, user_id), team=rotation.team.tz).key


@_acting_for(_team_workspace)
def guard_sleep_pages(team_id: int, user_id: str, at: str) -> None:
    """After a page to `user_id` at `at`: past the sleep-page limit this shift, offer the backup the rest of it (once per shift)."""
    ctx = _ctx()
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    if rotation is None:
        return
    paged_at = datetime.fromisoformat(at)
    limits = ctx.burnout.limits(team_id)
    pages = ctx.burnout.pages(team_id=team_id, since=paged_at - rotation.spec.length * SLEEP_GUARD_LOOKBACK_SHIFTS, until=paged_at)
    offer = burnout.sleep_offer_due(rotation.spec, rotation.layers, rotation.team, limits, pages, user_id=user_id,
                                    tz=_person_zone(ctx, rotation, user_id), now=paged_at)
    if offer is None:
        return
    stored = burnout.make_offer(ctx.burnout, ctx.audit, offer, now=ctx.clock(), via=Via.scheduler)
    if stored is None:
        return  # this shift had its offer already
    text, blocks = build_offer_to_backup(stored)
    enqueue_call(dedupe_key=f"burnout-offer:{stored.id}:backup", method="dm", payload={"user": stored.backup, "text": text, "blocks": blocks})
    text, blocks = build_offer_to_primary(stored)
    enqueue_call(dedupe_key=f"burnout-offer:{stored.id}:primary", method="dm", payload={"user": stored.primary, "text": text, "blocks": blocks})


def _rebalance_proposal(ctx: JobContext, rotation: TeamRotation, handoff: datetime, now: datetime) -> burnout.RebalanceProposal | None:
    """Return the stored rebalancing proposal for this handoff's announcement, or None when nobody is overloaded."""
    limits = ctx.burnout.limits(rotation.team.id)
    since = handoff - burnout.LOOKBACK - rotation.spec.length * (limits.consecutive_weeks + 1)
    pages = ctx.burnout.pages(team_id=rotation.team.id, since=since, until=handoff)
    zones = {u: _person_zone(ctx, rotation, u) for u in burnout.active_roster(rotation.spec)}
    proposal = burnout.propose_rebalance(rotation.spec, rotation.layers, rotation.team, limits, pages, zones, handoff=handoff)
    return None if proposal is None else ctx.burnout.save_proposal(proposal, now=now)


@_acting_for(_team_workspace)
def refresh_team_homes(team_id: int, key: str | None = None) -> None:
    """Republish the App Home of everyone the team schedules (a handoff or a crisis changed what it shows).

    With a key (one per change of who is on call), once per key across restarts and processes; jobs persisted
    by earlier versions carry no key and simply run.
    """
    ctx = _ctx()
    if key is not None and not ctx.ledger.claim(key, at=ctx.clock()):
        return
    ctx.refresh_homes(team_id)


def _plan_home_refreshes(ctx: JobContext, index: ScheduleIndex, team_id: int, now: datetime) -> None:
    """Give every change of primary/backup/shadow in the planner's look-ahead a Home refresh at that instant, and
    catch up the latest change of the last day if its refresh never ran (the bot was down past the look-ahead)."""
    shifts = index.final_schedule(now - PLAN_LOOKBACK, now + PLAN_LOOKAHEAD)
    changes = [after.start for before, after in zip(shifts, shifts[1:]) if Holders.of(before) != Holders.of(after)]
    keys = {at: f"homes:{team_id}:{_stamp(at)}" for at in changes}
    latest_past = [at for at in changes if at <= now][-1:]  # only the latest matters: a Home shows who is on call now
    done = ctx.message_state.ran_keys(keys[at] for at in latest_past)
    for at in changes:
        if at > now or (at in latest_past and keys[at] not in done):
            _schedule_once(ctx.scheduler, "bot.jobs:refresh_team_homes", keys[at], max(at, now), [team_id, keys[at]])


def _refresh_homes_after_crisis(ctx: JobContext, team_id: int) -> None:
    """Refresh the team's Homes after a crisis opens or changes (off the scheduler's threads, which page people)."""
    ctx.refresh_homes(team_id)


# --- weekly reports and end-of-shift check-ins (issue 7) ---------------------------------------------------

REPORT_PLAN_EVERY_S = 300
REPORT_DELAY = timedelta(minutes=5)  # the report follows the handoff announcement rather than racing it
REPORT_LATE_LIMIT = timedelta(hours=24)  # a report this late (a long outage) is skipped; /oncall report still answers


def _report_store(ctx: JobContext) -> Reports:
    return ctx.reports


def report_job_key(kind: str, team_id: int, handoff: datetime) -> str:
    """Return 'checkin:7:20261130T080000Z' or 'report:7:…': job ID, ledger run key and outbox dedupe key at once."""
    return f"{kind}:{team_id}:{handoff.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _report_key_parts(key: str) -> tuple[int, datetime]:
    _, team_id, stamp = key.split(":")
    return int(team_id), datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def plan_report_events() -> None:
    """Give each recent or coming handoff its check-in job and, weekly, its report job (missed ones run now, once)."""
    ctx = _ctx()
    now = ctx.clock()
    for team in ctx.rotations.all_teams():
        rotation = ctx.rotations.load_rotation_by_id(team.id)
        if rotation is None:
            continue
        index = ScheduleIndex(rotation.spec, rotation.layers)
        planned: list[tuple[str, str, datetime]] = []
        for handoff in index.handoffs(now - PLAN_LOOKBACK, now + PLAN_LOOKAHEAD):
            if handoff <= rotation.spec.epoch:
                continue  # nobody's shift ends at the very first handoff
            if now - handoff < CHECKIN_LATE_LIMIT:
                planned.append(("bot.jobs:run_shift_checkin", report_job_key("checkin", team.id, handoff), handoff))
            if weekly_report_due(index, handoff) and now - handoff - REPORT_DELAY < REPORT_LATE_LIMIT:
                planned.append(("bot.jobs:run_weekly_report", report_job_key("report", team.id, handoff), handoff + REPORT_DELAY))
        done = ctx.message_state.ran_keys(key for _, key, _ in planned)
        for func, key, at in planned:
            if key not in done:
                _schedule_once(ctx.scheduler, func, key, max(at, now), [key])


@_acting_for(_report_key_workspace)
def run_shift_checkin(key: str) -> None:
    """DM the primary whose shift ended at the handoff "How heavy was this shift?" (1-5); once per team handoff."""
    ctx = _ctx()
    store = _report_store(ctx)
    now = ctx.clock()
    if ctx.ledger.has_run(key):
        return
    team_id, handoff = _report_key_parts(key)
    if now < handoff:
        _schedule_once(ctx.scheduler, "bot.jobs:run_shift_checkin", key, handoff, [key])
        return
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    if rotation is None or now - handoff >= CHECKIN_LATE_LIMIT:
        return
    ending = ending_shift(ScheduleIndex(rotation.spec, rotation.layers), handoff)
    if ending is not None:
        # The row is unique per team handoff, so a run repeated after a crash asks about the same check-in.
        checkin = store.create_checkin(team_id=team_id, user_id=ending.user_id, shift_start=ending.start, shift_end=handoff, now=now)
        text, blocks = build_checkin_question(checkin)
        enqueue_call(dedupe_key=key, method="dm", payload={"user": checkin.user_id, "text": text, "blocks": blocks})
    ctx.ledger.claim(key, at=now)


@_acting_for(_report_key_workspace)
def run_weekly_report(key: str) -> None:
    """Post the team's report for the weeks up to the handoff, with its charts, where the team's setting says; once."""
    ctx = _ctx()
    store = _report_store(ctx)
    now = ctx.clock()
    if ctx.ledger.has_run(key):
        return
    team_id, handoff = _report_key_parts(key)
    if now < handoff + REPORT_DELAY:
        _schedule_once(ctx.scheduler, "bot.jobs:run_weekly_report", key, handoff + REPORT_DELAY, [key])
        return
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    if rotation is None or now - handoff - REPORT_DELAY >= REPORT_LATE_LIMIT:
        return
    delivery = store.report_delivery(team_id)
    if delivery is not ReportDelivery.off:
        post_weekly_report(rotation, handoff, delivery=delivery, key=key)
    ctx.ledger.claim(key, at=now)


def post_weekly_report(rotation: TeamRotation, handoff: datetime, *, delivery: ReportDelivery, key: str) -> None:
    """Post the report for the weeks up to `handoff` and its charts; `key` makes each message and upload go out once."""
    ctx = _ctx()
    store = _report_store(ctx)
    if delivery is ReportDelivery.off:
        return
    index = ScheduleIndex(rotation.spec, rotation.layers)
    period = report_period(handoff, tz=rotation.team.tz, weeks=weekly_report_weeks(index))
    report = build_report(store.report_inputs(rotation, period), period)
    text, blocks = build_report_blocks(report)
    channel = rotation.team.announce_channel if delivery is ReportDelivery.channel else None
    targets = [("channel", channel)] if channel else [(admin, None) for admin in ctx.admins.admin_ids()]
    charts = _named_report_charts(ctx.slack, report) if targets else []  # rendered once for every destination
    for name, target in targets:
        item_key = f"{key}:{name}"
        if target is not None:
            item = enqueue_call(dedupe_key=item_key, method="chat.postMessage", payload={"channel": target, "text": text, "blocks": blocks})
        else:
            item = enqueue_call(dedupe_key=item_key, method="dm", payload={"user": name, "text": text, "blocks": blocks})
        deliver_outbox_item(item)  # now, so the charts land under the report (the outbox still retries on failure)
        # Each chart has its own key: a rerun after a crash, or a retry after an outage, uploads only the missing ones.
        upload_charts(charts, key=f"{item_key}:charts", channel=target, user=None if target else name,
                      workspace_id=rotation.team.workspace_id)


def upload_report_charts(slack: SlackGateway, report: TeamReport, *, key: str, channel: str | None = None, user: str | None = None,
                         workspace_id: str | None = None) -> bool:
    """Render the report's three PNG charts and upload each once to `channel` or `user`'s DM; False if one must wait for a retry."""
    return upload_charts(_named_report_charts(slack, report), key=key, channel=channel, user=user, workspace_id=workspace_id)


def _slack_name(slack: SlackGateway, user_id: str) -> str:
    """Return the person's Slack display name (the ID when Slack cannot say): for text that must not notify them."""
    try:
        info = slack.user_info(user_id)
    except SlackCallFailed:
        return user_id  # a line or chart labelled with the ID still says who
    profile = info.get("profile") or {}
    return profile.get("display_name") or info.get("real_name") or info.get("name") or user_id


def _named_report_charts(slack: SlackGateway, report: TeamReport) -> list[Chart]:
    """Render the report's charts, people labelled by their Slack names."""
    return report_charts(report, lambda user_id: _slack_name(slack, user_id))


def upload_charts(charts: Sequence[Chart], *, key: str, channel: str | None = None, user: str | None = None,
                  workspace_id: str | None = None) -> bool:
    """Upload each chart once (its own ledger key under `key`) to `channel` or `user`'s DM; False if one must wait for a retry."""
    return upload_files([FileUpload(key=f"{key}:{chart.filename}", filename=chart.filename, content=chart.png, title=chart.title,
                                    channel=channel, user=user, workspace_id=workspace_id) for chart in charts])


# --- file uploads that survive a Slack outage (report charts, exports) ------------------------------------


def upload_files(uploads: list[FileUpload]) -> bool:
    """Upload each file not uploaded yet; return whether all are up (the others retry later or were given up and audited)."""
    ctx = _ctx()
    return all([_upload_once(ctx, upload, attempt=1) for upload in uploads])


def retry_file_upload(upload: dict[str, Any], attempt: int) -> None:
    """Try an upload again after a transient failure (a date job with backoff; see _upload_once)."""
    _upload_once(_ctx(), FileUpload(**upload), attempt=attempt)


def _upload_once(ctx: JobContext, upload: FileUpload, *, attempt: int) -> bool:
    """Upload the file unless its key has run; a 429/5xx/dropped connection retries with the outbox's backoff and attempt
    limit, anything else (or the last attempt) is given up and recorded in the audit table, never silently dropped."""
    if ctx.ledger.has_run(upload.key):
        return True
    try:
        with acting_for(upload.workspace_id):
            channel = upload.channel or ctx.slack.open_dm(upload.user or "")
            ctx.slack.upload_file(channel=channel, filename=upload.filename, content=upload.content, title=upload.title)
    except SlackCallFailed as failure:
        if failure.transient and not should_give_up(failure.code, attempt):
            due = next_attempt_at(attempt, ctx.clock(), failure.retry_after)
            _schedule_once(ctx.scheduler, "bot.jobs:retry_file_upload", f"upload:{upload.key}", due, [upload.as_job_args(), attempt + 1])
            log.warning("upload %s: %s, retrying at %s", upload.key, failure.code, due.isoformat())
        else:
            ctx.audit.record(AuditRecord(at=ctx.clock(), actor=SYSTEM_ACTOR, action="upload_failed", via=Via.scheduler, target=upload.key,
                                         team_id=upload.workspace_id, after={"filename": upload.filename, "error": failure.code,
                                                                             "attempts": attempt}))
            log.error("upload %s gave up after %s attempt(s): %s", upload.key, attempt, failure.code)
            if upload.user:
                enqueue_call(dedupe_key=f"upload-failed:{upload.key}", method="dm",
                             payload={"user": upload.user, "text": f"I could not upload {upload.filename} ({failure.code}). Please ask again."})
        return False
    ctx.ledger.claim(upload.key, at=ctx.clock())
    return True


# --- the ports handlers act through (bot/flows/ports.py), so no handler imports this module ---------------


class JobPorts:
    """Adapter of bot.flows.ports onto the job functions above (bound to the runtime by bind())."""

    def send(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None,
             kind: str | None = None, subject: dict[str, Any] | None = None) -> int:
        return enqueue_call(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due_at, kind=kind, subject=subject)

    def after_change(self, crisis_id: int) -> None:
        after_crisis_change(crisis_id)

    def start_chain(self, crisis_id: int) -> None:
        start_crisis_chain(crisis_id)

    def refresh_card(self, crisis_id: int) -> None:
        refresh_crisis_card(crisis_id)

    def page_person(self, crisis_id: int, user_id: str, actor: str) -> bool:
        return page_person(crisis_id, user_id, actor)

    def schedule_first(self, request_id: int, *, start: datetime) -> None:
        schedule_cover_reminder(request_id, start=start)

    def upload_files(self, uploads: list[FileUpload]) -> bool:
        return upload_files(uploads)

    def upload_report_charts(self, report: TeamReport, *, key: str, user: str | None = None, workspace_id: str | None = None) -> bool:
        return upload_report_charts(_ctx().slack, report, key=key, user=user, workspace_id=workspace_id)
