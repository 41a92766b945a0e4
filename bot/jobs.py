"""Scheduler entry points: module-level functions referenced as text, taking IDs only.

Each job reloads its state and is idempotent, so APScheduler's catch-up after a restart (coalesced,
within the misfire grace) runs a due job once and a finished job never again. `bind()` hands the
jobs their collaborators; the composition root calls it before starting the scheduler.
"""

from __future__ import annotations

import copy
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
from bot.blocks.crisis import build_channel_page, build_crisis_card, build_dm_failed, build_page, timeline_line
from bot.escalation import OnCall, PlannedStep, plan_chain, recipients, still_on_it_due
from bot.spikes import Action, Bucket, Decision, Severity, SpikeDetector
from bot.campaigns import Campaign, active_campaign, running_campaign
from bot.detector_tuning import DetectorSettings, QuietHours
from bot.home import PageVia
from bot.page_delivery import Delivery, plan_delivery
from bot.blocks.announcement import build_announcement, build_health_report, build_reminder, build_usergroup_disabled
from bot import burnout
from bot.mentions import TOMBSTONE_HORIZON, MentionPurge
from bot.blocks.burnout import build_offer_to_backup, build_offer_to_primary
from bot.oncall import TeamInfo, TeamRotation
from bot.outbox import next_attempt_at, should_give_up
from bot.retention import RetentionCutoffs, RetentionPolicy
from bot.sentiment import detect_language
from bot.people import ZoneFacts, zone_of
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
from bot.slack_gateway import NOT_INSTALLED, SlackCallFailed, SlackGateway
from bot.installs import WorkspaceStates
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

SEND_LEASE = timedelta(minutes=5)
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
    mentions: MentionPurger | None = None
    mention_retention: timedelta = timedelta(days=30)
    retention: RetentionPolicy = RetentionPolicy()
    retention_store: ExpiredRows | None = None  # counters, finished outbox rows, job ledger, audit past their retention
    crisis_records: Crises | None = None  # the crisis store (issue 6); None in runtimes built before it
    detection: Detection | None = None  # topic watches and their detectors (issue 6)
    mention_counts: Mentions | None = None  # per-minute counters the detector reads
    detector_settings: DetectorSettingsStore | None = None  # per-team tuning and campaign windows (issue 6)
    member_settings: MemberSettingsStore | None = None  # each person's page_via and quiet hours (App Home)
    burnout: Burnout | None = None  # limits, offers and proposals of the burnout guard (issue 7)
    refresh_homes: Callable[[int], None] | None = None  # republish a team's App Homes, in the background (handlers/app_home.py)
    reports: Reports | None = None  # report facts, settings and check-ins (issue 7)
    installs: WorkspaceStates | None = None  # which workspaces still have the app (an uninstalled one gets nothing sent)


_context: JobContext | None = None


def bind(context: JobContext | None) -> None:
    """Give the job functions their collaborators (None unbinds at shutdown)."""
    global _context
    _context = context


def _ctx() -> JobContext:
    if _context is None:
        raise RuntimeError("bot.jobs used before bind(): the composition root must bind the jobs first")
    return _context


# Slack's answers meaning the workspace took the token away: the item waits (held) for a reinstall instead of failing.
WORKSPACE_GONE = frozenset({NOT_INSTALLED, "token_revoked", "account_inactive"})


def _acting_for(workspace_of: Callable[..., str | None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a job for the workspace its arguments belong to (its token, its admins); skip it while that workspace is uninstalled.

    `workspace_of(ctx, *args, **kwargs)` finds the workspace from the job's IDs; None (the row is gone) runs the job
    unscoped, and the job itself then finds nothing to do.
    """
    def decorate(job: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            ctx = _ctx()
            workspace = workspace_of(ctx, *args, **kwargs)
            if workspace and ctx.installs is not None and not ctx.installs.is_sending(workspace):
                log.info("%s%r skipped: workspace %s uninstalled the app", job.__name__, args, workspace)
                return None
            with acting_for(workspace):
                return job(*args, **kwargs)
        return run
    return decorate


def _team_workspace(ctx: JobContext, team_id: int, *_: Any, **__: Any) -> str | None:
    return ctx.rotations.team_workspace(team_id)


def _crisis_workspace(ctx: JobContext, crisis_id: int, *_: Any, **__: Any) -> str | None:
    crisis = ctx.crisis_records.get_crisis(crisis_id) if ctx.crisis_records is not None else None
    return None if crisis is None else crisis.workspace_id


def _event_key_workspace(ctx: JobContext, key: str) -> str | None:
    return _team_workspace(ctx, parse_event_key(key).team_id)


def _cover_request_workspace(ctx: JobContext, request_id: int) -> str | None:
    request = ctx.rotations.get_cover_request(request_id)
    return None if request is None else request.team.workspace_id


def _report_key_workspace(ctx: JobContext, key: str) -> str | None:
    return _team_workspace(ctx, _report_key_parts(key)[0])


def enqueue_call(*, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None) -> int:
    """Queue a Web API call for delivery at `due_at` (now by default); the same key is queued once."""
    ctx = _ctx()
    now = ctx.clock()
    due = due_at or now
    item_id = ctx.outbox.enqueue(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due, now=now)
    schedule_delivery(ctx.scheduler, item_id, due)
    return item_id


def schedule_delivery(scheduler: BaseScheduler, item_id: int, when: datetime) -> None:
    scheduler.add_job(
        "bot.jobs:deliver_outbox_item", trigger=DateTrigger(run_date=when), args=[item_id],
        id=f"outbox:{item_id}", replace_existing=True,
    )


def deliver_outbox_item(item_id: int) -> None:
    """Send one queued call; on a transient failure try again later, on a permanent one give up loudly."""
    ctx = _ctx()
    now = ctx.clock()
    item = ctx.outbox.claim(item_id, now=now, lease=SEND_LEASE)
    if item is None:
        return  # already sent, failed for good, not yet due, or another runner holds it
    if ctx.installs is not None and not ctx.installs.is_sending(item.workspace_id):
        ctx.outbox.hold(item_id, error="app_uninstalled")  # kept for a reinstall, never retried meanwhile
        return
    try:
        with acting_for(item.workspace_id):
            result = _send(ctx.slack, item.method, item.payload)
    except SlackCallFailed as failure:
        if failure.code in WORKSPACE_GONE:
            ctx.outbox.hold(item_id, error=failure.code)
            log.warning("outbox item %s held: workspace %s has no usable token (%s)", item_id, item.workspace_id or "-", failure.code)
            return
        attempts = item.attempts + 1
        if failure.transient and not should_give_up(failure.code, attempts):
            due = next_attempt_at(attempts, ctx.clock(), failure.retry_after)
            ctx.outbox.mark_retry(item_id, error=failure.code, due_at=due)
            schedule_delivery(ctx.scheduler, item_id, due)
            log.warning("outbox item %s: %s, retrying at %s", item_id, failure.code, due.isoformat())
            return
        ctx.outbox.mark_failed(item_id, error=failure.code)
        ctx.audit.record(AuditRecord(
            at=ctx.clock(), actor=SYSTEM_ACTOR, action="delivery_failed", via=Via.scheduler,
            target=item.dedupe_key, team_id=item.workspace_id or None, after={"method": item.method, "error": failure.code},
        ))
        log.error("outbox item %s (%s) gave up: %s", item_id, item.method, failure.code)
        return
    ctx.outbox.mark_sent(item_id, at=ctx.clock(), result={k: result[k] for k in ("channel", "ts") if k in result})
    if item.dedupe_key.startswith(QUEUED_STILL_ON_IT) and "channel" in result and "ts" in result:
        _track_queued_still_on_it(ctx, item.dedupe_key, user_id=item.payload["user"], channel=result["channel"], ts=result["ts"])


def _send(slack: SlackGateway, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    if method == "chat.postMessage":
        return slack.post_message(**payload)
    if method == "chat.update":
        return slack.update_message(**payload)
    if method == "chat.postEphemeral":
        return slack.post_ephemeral(**payload)
    if method == "dm":
        channel = slack.open_dm(payload["user"])
        return slack.post_message(channel=channel, text=payload["text"], blocks=payload.get("blocks"))
    return slack.call(method, **payload)


def sweep_outbox() -> None:
    """Deliver anything due that no date job is waiting for (e.g. a lease that expired in a crash)."""
    ctx = _ctx()
    now = ctx.clock()
    ctx.outbox.release_expired_leases(now)
    for item in ctx.outbox.due(now):
        deliver_outbox_item(item.id)


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
    if ctx.mentions is None:
        return
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
    if ctx.retention_store is None:
        return
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
        if ctx.installs is not None and not ctx.installs.is_sending(workspace):
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


@_acting_for(lambda ctx, request_id: _cover_request_workspace(ctx, request_id))
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


# --- crisis paging and escalation (issue 6) -------------------------------------------------------

# Step deadlines live in crisis_escalation_steps; the date jobs are the fast path and this sweep the safety net
# (a job lost with its process, or a deadline moved by "Escalate now" in another process).
CRISIS_SWEEP_EVERY_S = 15


def _crises(ctx: JobContext) -> Crises:
    if ctx.crisis_records is None:
        raise RuntimeError("crisis jobs need JobContext.crisis_records")
    return ctx.crisis_records


@_acting_for(_crisis_workspace)
def start_crisis_chain(crisis_id: int) -> None:
    """Run the steps already due (the first page) now and give every later step its date job `escalate:{crisis_id}:{step}`."""
    ctx = _ctx()
    now = ctx.clock()
    crisis = _crises(ctx).get_crisis(crisis_id)
    if crisis is not None:
        _refresh_homes_after_crisis(ctx, crisis.team_id)
    for step in _crises(ctx).pending_steps(crisis_id):
        if step.due_at <= now:
            run_escalation_step(crisis_id, step.index)
        else:
            _schedule_once(ctx.scheduler, "bot.jobs:run_escalation_step", f"escalate:{crisis_id}:{step.index}", step.due_at,
                           [crisis_id, step.index])


@_acting_for(_crisis_workspace)
def run_escalation_step(crisis_id: int, step: int) -> None:
    """Run one escalation step once, at or after its stored deadline; skipped once the crisis is acknowledged or closed."""
    ctx = _ctx()
    store = _crises(ctx)
    now = ctx.clock()
    planned = next((s for s in store.pending_steps(crisis_id) if s.index == step), None)
    if planned is None:
        return  # ran already (here, in another process, or via the sweep)
    if planned.due_at > now:
        _schedule_once(ctx.scheduler, "bot.jobs:run_escalation_step", f"escalate:{crisis_id}:{step}", planned.due_at, [crisis_id, step])
        return
    crisis = store.get_crisis(crisis_id)
    if crisis is None:
        return
    applies = crisis_use.step_applies(crisis, planned)
    if not store.claim_step(crisis_id=crisis_id, step=step, at=now, outcome="paged" if applies else "skipped"):
        return  # a concurrent runner won the claim
    if applies:
        _page_step(ctx, store, crisis, planned, now)
    elif crisis.channel and crisis.message_ts is None and not crisis.status.closed:
        _post_card(ctx, store, crisis, paging=())  # acknowledged before the first page went out: the card still belongs in the channel


def _on_call(ctx: JobContext, store: Crises, team_id: int, now: datetime) -> tuple[OnCall, TeamInfo | None]:
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    if rotation is None:
        return OnCall(None, None), None
    shift = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(now)
    return OnCall(shift.primary, shift.backup, shift.shadow, store.away(team_id=team_id, now=now)), rotation.team


def _page_step(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, planned: PlannedStep, now: datetime) -> None:
    on_call, team = _on_call(ctx, store, crisis.team_id, now)
    reach = recipients(planned.target, on_call, managers=ctx.admins.admin_ids(), usergroup_id=team.usergroup_id if team else None)
    # Each person's App Home choice (DM or a channel mention) and the team's quiet-hours rule decide how, and when.
    deliveries = {user_id: _plan_page(ctx, crisis, user_id, now) for user_id in (*reach.dm, *reach.cc)}
    if crisis.channel and crisis.message_ts is None:
        crisis = _post_card(ctx, store, crisis, paging=tuple(u for u in reach.dm if deliveries[u].hold_until is None))
    by_channel: list[str] = []
    for user_id, delivery in deliveries.items():
        if delivery.hold_until is not None:
            _hold_page(ctx, store, crisis, user_id, step=planned.index, until=delivery.hold_until, now=now)
        elif delivery.via is PageVia.channel:
            by_channel.append(user_id)
        else:
            _page_by_dm(ctx, store, crisis, user_id, step=planned.index, now=now)
    # The shadow is mentioned only if they asked for channel pages; a held person is not mentioned (that would notify them).
    mentioned = tuple(dict.fromkeys([*(u for u in reach.dm if deliveries[u].hold_until is None), *by_channel]))
    if crisis.channel and (mentioned or reach.channel_mention):
        text = build_channel_page(crisis, people=mentioned, mention=reach.channel_mention)
        try:
            ctx.slack.post_message(channel=crisis.channel, text=text, thread_ts=crisis.message_ts)
            delivered = True
        except SlackCallFailed as failure:
            log.warning("crisis %s: channel page failed: %s", crisis.id, failure.code)
            delivered = False
        for who in (*by_channel, *([reach.channel_mention] if reach.channel_mention else [])):
            crisis_use.record_page(store, ctx.audit, crisis_id=crisis.id, who=who, method="channel", delivered=delivered,
                                   step=planned.index, actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)
        for user_id in by_channel:
            _plan_sleep_guard(ctx, crisis.team_id, user_id, now)
    refresh_crisis_card(crisis.id)


def _plan_page(ctx: JobContext, crisis: crisis_use.Crisis, user_id: str, now: datetime) -> Delivery:
    """Return how and when to page `user_id`: their page_via and quiet hours, under the team's quiet-hours rule."""
    settings = ctx.member_settings.settings_of(crisis.workspace_id, user_id) if ctx.member_settings else None
    quiet = ctx.detector_settings.detector_settings(crisis.team_id).quiet_hours if ctx.detector_settings else QuietHours.page
    rotation = ctx.rotations.load_rotation_by_id(crisis.team_id)
    facts = ctx.people.tz_facts(crisis.workspace_id, user_id)
    zone = zone_of(chosen=facts.chosen, known=facts.known, roster=_roster_zone(rotation, user_id),
                   team=rotation.team.tz if rotation is not None else None)
    return plan_delivery(settings, zone=zone.key, severity=crisis.severity, quiet_hours=quiet, has_channel=bool(crisis.channel), at=now)


def _roster_zone(rotation: TeamRotation | None, user_id: str) -> str | None:
    if rotation is None:
        return None
    return next((m.tz for m in rotation.spec.members if m.user_id == user_id), None)


def _team_zone(ctx: JobContext, team_id: int) -> str:
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    return rotation.team.tz if rotation is not None else "UTC"


def _hold_page(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, user_id: str, *, step: int, until: datetime, now: datetime) -> None:
    """Note a SEV3 page held for the person's quiet hours and schedule it for when they end (the chain goes on meanwhile)."""
    store.record_event(crisis_id=crisis.id, event=crisis_use.CrisisEvent(
        at=now, kind=crisis_use.EventKind.NOTE, actor=SYSTEM_ACTOR, via=Via.scheduler, target=user_id,
        detail={"note": f"Page to <@{user_id}> held until {slack_date(until, _team_zone(ctx, crisis.team_id))} "
                        "(their quiet hours; this team holds SEV3 pages until they end)."}))
    ctx.audit.record(AuditRecord(at=now, actor=SYSTEM_ACTOR, action="crisis_page_held", via=Via.scheduler, target=f"crisis:{crisis.id}",
                                 team_id=crisis.workspace_id, after={"who": user_id, "until": until.isoformat(), "step": step}))
    _schedule_once(ctx.scheduler, "bot.jobs:deliver_held_page", f"held-page:{crisis.id}:{step}:{user_id}", until, [crisis.id, user_id, step])


@_acting_for(_crisis_workspace)
def deliver_held_page(crisis_id: int, user_id: str, step: int) -> None:
    """Deliver a page held for quiet hours, once, unless the crisis was acknowledged or closed meanwhile."""
    ctx = _ctx()
    store = _crises(ctx)
    crisis = store.get_crisis(crisis_id)
    if crisis is None or crisis.status is not crisis_use.Status.OPEN:
        return
    if not ctx.ledger.claim(f"held-page:{crisis_id}:{step}:{user_id}", at=ctx.clock()):
        return  # delivered already (another instance, or a catch-up run)
    _page_member(ctx, store, crisis, user_id, step=step, now=ctx.clock())
    refresh_crisis_card(crisis_id)


def _page_member(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool:
    """Page one person now the way they chose on their App Home (a channel mention or a DM); return whether it arrived."""
    if _plan_page(ctx, crisis, user_id, now).via is not PageVia.channel or not crisis.channel:
        return _page_by_dm(ctx, store, crisis, user_id, step=step, now=now)
    try:
        ctx.slack.post_message(channel=crisis.channel, text=build_channel_page(crisis, people=(user_id,), mention=None),
                               thread_ts=crisis.message_ts)
        delivered = True
    except SlackCallFailed as failure:
        log.warning("crisis %s: channel page for %s failed: %s", crisis.id, user_id, failure.code)
        delivered = False
    crisis_use.record_page(store, ctx.audit, crisis_id=crisis.id, who=user_id, method="channel", delivered=delivered, step=step,
                           actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)
    _plan_sleep_guard(ctx, crisis.team_id, user_id, now)
    return delivered


def _post_card(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, *, paging: tuple[str, ...]) -> crisis_use.Crisis:
    """Post the card in the crisis channel and remember where, so later changes update it in place."""
    assert crisis.channel is not None
    text, blocks = build_crisis_card(crisis, paging=paging)
    try:
        posted = ctx.slack.post_message(channel=crisis.channel, text=text, blocks=blocks)
    except SlackCallFailed as failure:
        # The client already waited out 429s; a channel we cannot post in is the admins' to fix.
        log.error("crisis %s: card not posted in %s: %s", crisis.id, crisis.channel, failure.code)
        _tell_admins(ctx, crisis, f"I could not post crisis #{crisis.id} ({crisis.topic}) in <#{crisis.channel}>: {failure.code}.",
                     key=f"crisis-card-failed:{crisis.id}")
        return crisis
    store.set_card(crisis_id=crisis.id, channel=posted["channel"], ts=posted["ts"])
    if crisis.topic_id is not None:
        # Rendering and uploading take a second or two: a job of its own, so the pages go out first.
        _schedule_once(ctx.scheduler, "bot.jobs:upload_crisis_chart", f"crisis-chart:{crisis.id}", ctx.clock(), [crisis.id])
    return store.get_crisis(crisis.id) or crisis


def _page_by_dm(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool:
    """DM one person the card; when that fails, mention them in the channel and tell the admins."""
    text, blocks = build_page(crisis, channel=crisis.channel)
    try:
        posted = ctx.slack.post_message(channel=ctx.slack.open_dm(user_id), text=text, blocks=blocks)
    except SlackCallFailed as failure:
        crisis_use.record_page(store, ctx.audit, crisis_id=crisis.id, who=user_id, method="dm", delivered=False, step=step,
                               actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)
        note = build_dm_failed(crisis, user_id=user_id, error=failure.code)
        if crisis.channel:
            enqueue_call(dedupe_key=f"crisis-dm-fallback:{crisis.id}:{step}:{user_id}", method="chat.postMessage",
                         payload={"channel": crisis.channel, "text": note})
            # The same page as the failed DM above: recorded apart so reports and the burnout guard count it once.
            crisis_use.record_page(store, ctx.audit, crisis_id=crisis.id, who=user_id, method=crisis_use.PAGE_DM_FALLBACK, delivered=True,
                                   step=step, actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)
        _tell_admins(ctx, crisis, f"Page for crisis #{crisis.id} could not reach <@{user_id}> by DM ({failure.code}); I posted in the channel instead.",
                     key=f"crisis-dm-failed:{crisis.id}:{step}:{user_id}")
        _plan_sleep_guard(ctx, crisis.team_id, user_id, now)
        return False
    # Remembered so every later change of the card (ack, responding, resolve) updates this copy in place too.
    store.add_card_copy(crisis_id=crisis.id, user_id=user_id, channel=posted["channel"], ts=posted["ts"],
                        state=crisis_use.card_state(crisis), at=now)
    crisis_use.record_page(store, ctx.audit, crisis_id=crisis.id, who=user_id, method="dm", delivered=True, step=step,
                           actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)
    _plan_sleep_guard(ctx, crisis.team_id, user_id, now)
    return True


def _tell_admins(ctx: JobContext, crisis: crisis_use.Crisis, text: str, *, key: str) -> None:
    for admin in ctx.admins.admin_ids():
        enqueue_call(dedupe_key=f"{key}:{admin}", method="dm", payload={"user": admin, "text": text})


@_acting_for(_crisis_workspace)
def page_person(crisis_id: int, user_id: str, actor: str) -> bool:
    """Deliver a page asked for by hand (`/crisis page @who`); return whether the DM arrived."""
    ctx = _ctx()
    store = _crises(ctx)
    crisis = store.get_crisis(crisis_id)
    if crisis is None:
        return False
    delivered = _page_member(ctx, store, crisis, user_id, step=None, now=ctx.clock())
    refresh_crisis_card(crisis_id)
    return delivered


@_acting_for(_crisis_workspace)
def refresh_crisis_card(crisis_id: int) -> None:
    """Update the card in place and add any new timeline lines to its thread."""
    ctx = _ctx()
    store = _crises(ctx)
    crisis = store.get_crisis(crisis_id)
    if crisis is not None:
        _refresh_card(ctx, store, crisis)


def _refresh_card(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis) -> None:
    """refresh_crisis_card for a crisis the caller has loaded already."""
    crisis_id = crisis.id
    _refresh_card_copies(ctx, store, crisis)  # DM copies exist even when the team has no crisis channel
    if crisis.channel is None or crisis.message_ts is None:
        return
    text, blocks = build_crisis_card(crisis)
    try:
        ctx.slack.update_message(channel=crisis.channel, ts=crisis.message_ts, text=text, blocks=blocks)
    except SlackCallFailed as failure:
        if not failure.transient:
            raise
        enqueue_call(dedupe_key=f"crisis-card:{crisis_id}:{crisis.status.value}:{len(crisis.responders)}:{crisis.last_activity_at:%H%M%S}",
                     method="chat.update", payload={"channel": crisis.channel, "ts": crisis.message_ts, "text": text, "blocks": blocks})
    for event_id, event in store.claim_thread_lines(crisis_id=crisis_id):
        # Claimed rows and the dedupe key make each line go out once however often, and wherever, the card is refreshed.
        enqueue_call(dedupe_key=f"crisis-line:{crisis_id}:e{event_id}", method="chat.postMessage",
                     payload={"channel": crisis.channel, "thread_ts": crisis.message_ts, "text": timeline_line(crisis, event)})


def _refresh_card_copies(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis) -> None:
    """Update each DM copy of the card whose state is behind, once per change (claimed in the database)."""
    state = crisis_use.card_state(crisis)
    text, blocks = build_page(crisis, channel=crisis.channel)
    for channel, ts in store.claim_card_copies(crisis_id=crisis.id, state=state):
        try:
            ctx.slack.update_message(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackCallFailed as failure:
            if failure.transient:
                # The outbox retries after Retry-After; the key makes one update per copy and state.
                enqueue_call(dedupe_key=f"crisis-dm-card:{crisis.id}:{channel}:{ts}:{state}", method="chat.update",
                             payload={"channel": channel, "ts": ts, "text": text, "blocks": blocks})
            else:
                # A copy the person deleted, or a DM Slack closed: that copy stays as it was; the channel card is current.
                ctx.audit.record(AuditRecord(at=ctx.clock(), actor=SYSTEM_ACTOR, action="crisis_dm_copy_not_updated", via=Via.scheduler,
                                             target=f"crisis:{crisis.id}", team_id=crisis.workspace_id,
                                             after={"channel": channel, "ts": ts, "error": failure.code}))


@_acting_for(_crisis_workspace)
def after_crisis_change(crisis_id: int) -> None:
    """Refresh the card, and plan the "still on it?" check of a freshly acknowledged crisis."""
    ctx = _ctx()
    store = _crises(ctx)
    crisis = store.get_crisis(crisis_id)
    if crisis is None:
        return
    _refresh_card(ctx, store, crisis)
    _refresh_homes_after_crisis(ctx, crisis.team_id)
    if crisis.status is crisis_use.Status.ACKNOWLEDGED:
        due = still_on_it_due(acked_at=crisis.acked_at, last_activity_at=crisis.last_activity_at, policy=store.policy(crisis.team_id))
        if due is not None:
            _schedule_once(ctx.scheduler, "bot.jobs:check_still_on_it", f"still-on-it:{crisis_id}", due, [crisis_id])


def _ask_still_on_it(ctx: JobContext, store: Crises, crisis: crisis_use.Crisis, *, key: str, now: datetime) -> None:
    """DM the acknowledger the card with "Still on it?", kept as a card copy so its buttons follow later changes in place."""
    assert crisis.acked_by is not None
    text, blocks = build_page(crisis, channel=crisis.channel)
    text = "Still on it? Press I'm responding or Resolve. " + text
    if not ctx.ledger.claim(key, at=now):
        return  # asked already (a repeated run)
    state = crisis_use.card_state(crisis)
    try:
        posted = ctx.slack.post_message(channel=ctx.slack.open_dm(crisis.acked_by), text=text, blocks=blocks)
    except SlackCallFailed as failure:
        # The outbox retries (or audits) it; once delivered it becomes a card copy too (_track_queued_still_on_it).
        log.warning("crisis %s: still-on-it DM not sent now: %s", crisis.id, failure.code)
        enqueue_call(dedupe_key=f"{QUEUED_STILL_ON_IT}{crisis.id}|{state}|{key}", method="dm",
                     payload={"user": crisis.acked_by, "text": text, "blocks": blocks})
        return
    store.add_card_copy(crisis_id=crisis.id, user_id=crisis.acked_by, channel=posted["channel"], ts=posted["ts"], state=state, at=now)


# Outbox key of a "still on it?" DM that waits for Slack: prefix, then crisis id | card state it shows | ledger key.
QUEUED_STILL_ON_IT = "queued-still-on-it:"


def _track_queued_still_on_it(ctx: JobContext, dedupe_key: str, *, user_id: str, channel: str, ts: str) -> None:
    """Keep a "still on it?" DM the outbox delivered late as a card copy, and bring it up to date if the crisis moved on."""
    crisis_id, shown, _ = dedupe_key.removeprefix(QUEUED_STILL_ON_IT).split("|", 2)
    store = _crises(ctx)
    crisis = store.get_crisis(int(crisis_id))
    if crisis is None:
        return
    store.add_card_copy(crisis_id=crisis.id, user_id=user_id, channel=channel, ts=ts, state=shown, at=ctx.clock())
    _refresh_card_copies(ctx, store, crisis)


@_acting_for(_crisis_workspace)
def check_still_on_it(crisis_id: int) -> None:
    """Ask an acknowledger with no update "still on it?"; if the question goes unanswered too, page again."""
    ctx = _ctx()
    store = _crises(ctx)
    now = ctx.clock()
    crisis = store.get_crisis(crisis_id)
    if crisis is None or crisis.status is not crisis_use.Status.ACKNOWLEDGED or crisis.acked_by is None:
        return
    policy = store.policy(crisis.team_id)
    due = still_on_it_due(acked_at=crisis.acked_at, last_activity_at=crisis.last_activity_at, policy=policy)
    assert due is not None
    if now < due:
        _schedule_once(ctx.scheduler, "bot.jobs:check_still_on_it", f"still-on-it:{crisis_id}", due, [crisis_id])
        return
    asked = [e for e in store.timeline(crisis_id) if e.kind is crisis_use.EventKind.STILL_ON_IT and e.at >= crisis.last_activity_at]
    if not asked:
        crisis_use.still_on_it(store, ctx.audit, crisis_id=crisis_id, now=now)
        _ask_still_on_it(ctx, store, crisis, key=f"still-on-it:{crisis_id}:{now:%Y%m%dT%H%M%S}", now=now)
        _schedule_once(ctx.scheduler, "bot.jobs:check_still_on_it", f"still-on-it:{crisis_id}", now + policy.still_on_it_after, [crisis_id])
        return
    if now < asked[-1].at + policy.still_on_it_after:
        _schedule_once(ctx.scheduler, "bot.jobs:check_still_on_it", f"still-on-it:{crisis_id}", asked[-1].at + policy.still_on_it_after, [crisis_id])
        return
    # Unanswered: page the acknowledger and the backup again, then start the wait over.
    on_call, _ = _on_call(ctx, store, crisis.team_id, now)
    for user_id in dict.fromkeys(u for u in (crisis.acked_by, on_call.backup) if u):
        _page_member(ctx, store, crisis, user_id, step=None, now=now)
    store.touch(crisis_id=crisis_id, at=now)
    after_crisis_change(crisis_id)


def sweep_crises() -> None:
    """Run every escalation step past its deadline that no date job ran (after a restart, or moved elsewhere)."""
    ctx = _ctx()
    if ctx.crisis_records is None:
        return
    for crisis_id, step in ctx.crisis_records.due_steps(ctx.clock()):
        run_escalation_step(crisis_id, step)


# --- spike detection (issue 6) -----------------------------------------------------------------------

DETECT_EVERY_S = 60
# Decisions about minutes older than this (a backfill, or catching up after an outage) teach the detector
# but do not page: a crisis opened for last Tuesday's spike would be noise.
PAGE_HORIZON = timedelta(minutes=15)
CARD_SERIES = timedelta(hours=1)  # minutes read for the card's sparkline (spike_stats sums the last 15 of them)


_detect_lock = threading.Lock()  # the minute job and webhook-triggered passes must not open one spike twice


def detect_spikes() -> None:
    """Feed every watched topic's new whole minutes into its persisted detector; open or escalate crises."""
    ctx = _ctx()
    if ctx.detection is None or ctx.crisis_records is None or ctx.mention_counts is None:
        return
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
            if ctx.detection is None or ctx.crisis_records is None or ctx.mention_counts is None:
                return
            _detect(ctx, ctx.detection, ctx.crisis_records, ctx.mention_counts)
    finally:
        _detect_lock.release()


def _detect(ctx: JobContext, detection: Detection, store: Crises, counts: Mentions) -> None:
    now = ctx.clock()
    watches = detection.watches()
    # One read per kind for the whole pass (10,000 topics fit in a few seconds): counters, open crises, team knobs.
    windows = {topic_id: crisis_use.detection_window(read_until=read_until, now=now) for topic_id, _, _, _, read_until in watches}
    counters: dict[int, list[Bucket]] = {}
    for since in {since for since, _ in windows.values()}:
        ids = [topic_id for topic_id, (start, _) in windows.items() if start == since]
        until = next(end for start, end in windows.values() if start == since)
        counters.update(counts.buckets_of_topics(ids, since=since, until=until + crisis_use.MINUTE))  # + the minute still filling
    open_now = store.open_by_topic()
    team_knobs: dict[int, tuple[DetectorSettings, list[Campaign]]] = {}
    saves: list[tuple[int, dict[str, Any], datetime, datetime | None]] = []
    for topic_id, team_id, topic, state, read_until in watches:
        since, until = windows[topic_id]
        if team_id not in team_knobs:
            team_knobs[team_id] = _team_knobs(ctx, team_id=team_id, now=now)
        # The team's knobs apply from this pass on; the learned baseline in `state` is kept whatever they are.
        settings, campaigns = team_knobs[team_id]
        campaign = active_campaign(campaigns, topic=topic, at=now)
        tuning = settings.tuning(campaign=campaign is not None)
        detector = SpikeDetector.from_dict(state, tuning) if state else SpikeDetector(tuning=tuning, step=crisis_use.MINUTE)
        stored = counters.get(topic_id, [])
        whole = [b for b in stored if b.at < until]
        partial = [b for b in stored if b.at >= until]
        buckets = crisis_use.minutes_between(since, until, whole)
        if detector.last_at is not None:
            buckets = [b for b in buckets if b.at > detector.last_at]
        current = open_now.get((team_id, topic.lower()))
        if current is None and detector.crisis_open:
            detector.close_crisis(since)  # resolved (or never opened) since the last pass: the cooldown starts
        elif current is not None and not detector.crisis_open:
            detector.mark_open(current.severity)  # declared by hand: spikes join it
        last_page: tuple[Bucket, Decision] | None = None
        last_elevated: tuple[Bucket, Decision] | None = None
        for bucket in buckets:
            decision = detector.observe(bucket)
            if decision.pages:
                last_page = (bucket, decision)
            if decision.action is not Action.QUIET and decision.score >= detector.tuning.effective_threshold:
                last_elevated = (bucket, decision)
        if last_page is not None and now - last_page[0].at <= PAGE_HORIZON:
            # The card shows the latest minute the detector still saw elevated (the spike may have grown after paging).
            shown = last_elevated if last_elevated is not None and last_elevated[0].at >= last_page[0].at else last_page
            _act_on_spike(ctx, store, topic_id=topic_id, team_id=team_id, topic=topic, decision=last_page[1], deciding=shown[0],
                          expected=shown[1].expected, current=current)
            if current is not None and last_elevated is not None:
                _follow_spike(ctx, store, counts, current, topic_id=topic_id, elevated=last_elevated)
        elif current is not None and last_elevated is not None and now - last_elevated[0].at <= PAGE_HORIZON:
            _follow_spike(ctx, store, counts, current, topic_id=topic_id, elevated=last_elevated)
        elif last_page is not None and current is None:
            detector.close_crisis(until)  # an old spike seen in the backfill: learn from it, page nobody
        elif current is None and not detector.crisis_open and partial:
            # Peek at the minute still filling on a copy: a spike pages seconds after its batch lands instead of at
            # the next minute boundary. The stored detector sees that minute once, when it is whole.
            peek = copy.deepcopy(detector)
            decision = peek.observe(partial[0])
            if decision.action is Action.OPEN:
                _act_on_spike(ctx, store, topic_id=topic_id, team_id=team_id, topic=topic, decision=decision, deciding=partial[0],
                              expected=decision.expected, current=None)
        saves.append((topic_id, detector.to_dict(), until, read_until))
    # Compare-and-set per topic, in one transaction: of two runners over the same minutes one stores its state;
    # opening is already once per topic.
    detection.save_detectors(saves, now=now)


def _team_knobs(ctx: JobContext, *, team_id: int, now: datetime) -> tuple[DetectorSettings, list[Campaign]]:
    """Return the team's detector settings and its campaign windows still running or to come."""
    if ctx.detector_settings is None:
        return DetectorSettings(), []
    return ctx.detector_settings.detector_settings(team_id), ctx.detector_settings.campaigns(team_id=team_id, ending_after=now)


def _window_ending_at(counts: Mentions, *, topic_id: int, deciding: Bucket, span: timedelta) -> list[Bucket]:
    """Return the minutes the detector had seen when it decided: `span` of stored minutes ending with the deciding bucket.

    The deciding bucket is passed as the detector saw it (a minute still filling may have grown since).
    """
    since = deciding.at - span + crisis_use.MINUTE
    earlier = crisis_use.minutes_between(since, deciding.at, counts.buckets(topic_id=topic_id, since=since, until=deciding.at))
    return [*earlier, deciding]


def _follow_spike(ctx: JobContext, store: Crises, counts: Mentions, current: crisis_use.Crisis, *, topic_id: int,
                  elevated: tuple[Bucket, Decision]) -> None:
    """Keep a detected crisis' card figures on the detector's latest elevated minute when the spike has grown since."""
    if current.origin != "detected" or current.stats is None:
        return
    bucket, decision = elevated
    buckets = _window_ending_at(counts, topic_id=topic_id, deciding=bucket, span=CARD_SERIES)
    stats = crisis_use.spike_stats(buckets, expected_per_minute=decision.expected, mentions=list(current.stats.top_mentions),
                                   negative_languages=_negative_languages(ctx, topic_id=topic_id, now=ctx.clock()))
    if stats.negative > current.stats.negative and store.update_stats(crisis_id=current.id, stats=stats):
        refresh_crisis_card(current.id)


def _act_on_spike(ctx: JobContext, store: Crises, *, topic_id: int, team_id: int, topic: str, decision: Decision,
                  deciding: Bucket, expected: float, current: crisis_use.Crisis | None) -> None:
    severity = decision.severity or Severity.SEV3
    if current is not None:
        if store.raise_severity(crisis_id=current.id, severity=severity):
            store.record_event(crisis_id=current.id, event=crisis_use.CrisisEvent(
                at=ctx.clock(), kind=crisis_use.EventKind.NOTE, actor=SYSTEM_ACTOR, via=Via.scheduler,
                detail={"note": f"Spike grew: now {severity.label}."}))
            refresh_crisis_card(current.id)
        return
    # The card's figures are those of the minute that paged, with the minutes before it as the detector saw them.
    buckets = _window_ending_at(ctx.mention_counts, topic_id=topic_id, deciding=deciding, span=CARD_SERIES)
    open_spike_crisis(topic_id=topic_id, team_id=team_id, topic=topic, severity=severity, expected_per_minute=expected, buckets=buckets)


def _negative_languages(ctx: JobContext, *, topic_id: int, now: datetime) -> list[str | None]:
    """Languages of the topic's recent negative mentions: the vendor's where it sent one, else the one the text reads as."""
    recent = ctx.detection.negative_texts(topic_id=topic_id, since=now - PAGE_HORIZON) if ctx.detection else []
    return [declared or detect_language(text) for text, declared in recent]


@_acting_for(lambda ctx, **kw: _team_workspace(ctx, kw["team_id"]))
def open_spike_crisis(*, topic_id: int, team_id: int, topic: str, severity: Severity, expected_per_minute: float,
                      buckets: list[Bucket]) -> crisis_use.Crisis | None:
    """Open a detected crisis with the card's numbers and start paging; None when the topic already has one."""
    ctx = _ctx()
    store = _crises(ctx)
    now = ctx.clock()
    rotation = ctx.rotations.load_rotation_by_id(team_id)
    if rotation is None:
        return None
    mentions = ctx.detection.top_negative_mentions(topic_id=topic_id, since=now - PAGE_HORIZON) if ctx.detection else []
    stats = crisis_use.spike_stats(buckets, expected_per_minute=expected_per_minute, mentions=mentions,
                                   negative_languages=_negative_languages(ctx, topic_id=topic_id, now=now))
    campaign = None if ctx.detector_settings is None else running_campaign(ctx.detector_settings, team_id=team_id, topic=topic, at=now)
    # During a campaign window the first page goes to primary and backup together.
    steps = plan_chain(store.policy(team_id), now, campaign=campaign is not None)
    opened = crisis_use.open_detected(store, ctx.audit, team=crisis_use.team_of(rotation, now), topic=topic, topic_id=topic_id,
                                      severity=severity, stats=stats, steps=steps, now=now)
    if opened is not None:
        start_crisis_chain(opened.id)
    return opened


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
    if ctx.burnout is not None:
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
    if ctx.burnout is None or rotation is None:
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
    if ctx.burnout is None:
        return None
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
    if ctx.refresh_homes is None:
        return
    if key is not None and not ctx.ledger.claim(key, at=ctx.clock()):
        return
    ctx.refresh_homes(team_id)


def _plan_home_refreshes(ctx: JobContext, index: ScheduleIndex, team_id: int, now: datetime) -> None:
    """Give every change of primary/backup/shadow in the planner's look-ahead a Home refresh at that instant, and
    catch up the latest change of the last day if its refresh never ran (the bot was down past the look-ahead)."""
    if ctx.refresh_homes is None:
        return
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
    if ctx.refresh_homes is not None:
        ctx.refresh_homes(team_id)


# --- weekly reports and end-of-shift check-ins (issue 7) ---------------------------------------------------

REPORT_PLAN_EVERY_S = 300
REPORT_DELAY = timedelta(minutes=5)  # the report follows the handoff announcement rather than racing it
REPORT_LATE_LIMIT = timedelta(hours=24)  # a report this late (a long outage) is skipped; /oncall report still answers


def _report_store(ctx: JobContext) -> Reports:
    if ctx.reports is None:
        raise RuntimeError("report jobs need JobContext.reports")
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
    if ctx.reports is None:
        return
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


def _named_report_charts(slack: SlackGateway, report: TeamReport) -> list[Chart]:
    """Render the report's charts, people labelled by their Slack names."""
    def name_of(user_id: str) -> str:
        try:
            info = slack.user_info(user_id)
        except SlackCallFailed:
            return user_id  # a chart labelled with the ID is still a chart
        profile = info.get("profile") or {}
        return profile.get("display_name") or info.get("real_name") or info.get("name") or user_id

    return report_charts(report, name_of)


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
    if upload.workspace_id and ctx.installs is not None and not ctx.installs.is_sending(upload.workspace_id):
        log.info("upload %s skipped: workspace %s uninstalled the app", upload.key, upload.workspace_id)
        return False
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

    def send(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None) -> int:
        return enqueue_call(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due_at)

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
