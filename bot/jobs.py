"""Scheduler entry points: module-level functions referenced as text, taking IDs only.

Each job reloads its state and is idempotent, so APScheduler's catch-up after a restart (coalesced,
within the misfire grace) runs a due job once and a finished job never again. `bind()` hands the
jobs their collaborators; the composition root calls it before starting the scheduler.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from bot.access import AdminDirectory
from bot.audit import AuditSink
from bot import crisis as crisis_use
from bot.crisis_chart import CHART_SPAN, render_chart
from bot.spikes import Bucket, Severity
from bot.flows import detection as detection_flow
from bot.metrics import Metrics, timed_detection_pass
from bot.blocks.announcement import build_announcement, build_reminder
from bot.mentions import TOMBSTONE_HORIZON, MentionPurge
from bot.oncall import TeamRotation
from bot.retention import RetentionCutoffs, RetentionPolicy
from bot.people import ZoneFacts
from bot.flows.burnout_guard import BurnoutGuard
from bot.flows.home_refresh import HomeRefresh
from bot.flows.outbox import OutboxFlow
from bot.flows.paging import STILL_ON_IT_DELIVERED, Paging
from bot.flows.reports import REPORT_DELAY, REPORT_LATE_LIMIT, WeeklyReports, report_job_key, report_key_parts
from bot.flows.rotation_messages import RotationUpkeep
from bot.flows.uploads import FileUpload, Uploader
from bot.rotation import Role, ScheduleIndex
from bot.flows import handover as handover_flow
from bot.blocks.handover import parse_handover_value
from bot.flows import reach as reach_flow
from bot.flows import stakeholders as stakeholder_flow
from bot.flows.reach import PageLedger, PageSender, ReachLookup
from bot.reach import StepKind
from bot.playbook import PlaybookStore
from bot.stakeholders import CADENCE_SEVERITIES, StakeholderStore
from bot.handover import ASK_LEAD as HANDOVER_ASK_LEAD, HandoverNote, HandoverStore, with_note
from bot.rotation_messages import (
    RotationEventKind,
    OpenCoverRequests,
    AnnouncedCrises,
    compose_announcement,
    compose_reminder,
    find_event,
    parse_event_key,
    people_at,
    planned_events,
    usergroup_update,
)
from bot.slack_gateway import SlackCallFailed, SlackGateway
from bot.installs import WorkspaceStates, run_for_workspace
from bot.reports import ReportDelivery, TeamReport, weekly_report_due
from bot.shift_checkin import CHECKIN_LATE_LIMIT
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
    handover_notes: HandoverStore  # the outgoing primaries' handover notes (issue 17)
    playbooks: PlaybookStore  # crisis playbooks: the stakeholder-update interval is read from them (issue 17)
    stakeholder_channels: StakeholderStore  # where each team's stakeholder updates go (issue 17)
    provider_pages: PageLedger  # pages through Twilio, PagerDuty, Opsgenie: sent once each (issue 17)
    person_reach: ReachLookup  # each person's verified phone, extra step kinds and quiet-hours rule
    page_senders: Mapping[str, PageSender]  # step kind -> provider (bot/flows/reach.py); only configured providers
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
    unscoped, and the job itself then finds nothing to do. Paging, outbox and detection scope their own entry points.
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
    return _team_workspace(ctx, report_key_parts(key)[0])


def _handover_ask_workspace(ctx: JobContext, key: str) -> str | None:
    return _team_workspace(ctx, parse_handover_value(key.removeprefix(handover_flow.ASK_PREFIX))[0])


def _provider_page_workspace(ctx: JobContext, page_id: int) -> str | None:
    page = ctx.provider_pages.get(page_id) if ctx.provider_pages is not None else None
    return None if page is None else _crisis_workspace(ctx, page.crisis_id)


def _outbox(ctx: JobContext) -> OutboxFlow:
    return OutboxFlow(clock=ctx.clock, queue=ctx.outbox, slack=ctx.slack, audit=ctx.audit, later=SchedulerLater(ctx.scheduler),
                      workspaces=ctx.installs,
                      on_delivered={STILL_ON_IT_DELIVERED: _paging(ctx).still_on_it_delivered})


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
    scheduler.add_job("bot.jobs:sweep_provider_pages", "interval", seconds=PROVIDER_SWEEP_EVERY_S, id="provider:sweep", replace_existing=True)
    scheduler.add_job("bot.jobs:sweep_stakeholder_reminders", "interval", seconds=STAKEHOLDER_SWEEP_EVERY_S, id="stakeholder:sweep",
                      replace_existing=True)


# --- automatic rotation messages (issue 4) ---------------------------------------------------------

PLAN_EVERY_S = 300
# The planner looks back so a restart catches up what it missed (events past their expiry are dropped),
# and ahead a little further than its own period so every event has its date job before it is due.
PLAN_LOOKBACK = timedelta(hours=24)
PLAN_LOOKAHEAD = timedelta(hours=3)
HEALTH_CHECK_HOUR_UTC = 7


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
        _home_refresh(ctx).plan(index, team.id, now, lookback=PLAN_LOOKBACK, lookahead=PLAN_LOOKAHEAD)
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
            rebalance=_burnout_guard(ctx).rebalance_proposal(rotation, event.change_at, now),
        )
        text, blocks = build_announcement(announcement)
        blocks = with_note(blocks, _handover_note(ctx, team.id, event.change_at))
        enqueue_call(dedupe_key=key, method="chat.postMessage", payload={"channel": team.announce_channel, "text": text, "blocks": blocks})
    else:
        text, blocks = build_reminder(compose_reminder(index, team, event, now=now))
        if event.kind is RotationEventKind.ON_CALL_NOW and event.role is Role.PRIMARY:
            blocks = with_note(blocks, _handover_note(ctx, team.id, event.change_at))
        enqueue_call(dedupe_key=key, method="dm", payload={"user": event.user_id, "text": text, "blocks": blocks})
    # Claimed after queueing: a crash in between re-queues under the same dedupe key (one message), where
    # claiming first could lose the message.
    ctx.ledger.claim(key, at=now)


def _upkeep(ctx: JobContext) -> RotationUpkeep:
    return RotationUpkeep(clock=ctx.clock, rotations=ctx.rotations, syncs=ctx.message_state, ledger=ctx.ledger, admins=ctx.admins,
                          slack=ctx.slack, outbox=JobPorts(), later=SchedulerLater(ctx.scheduler), workspaces=ctx.installs)


@_acting_for(_team_workspace)
def sync_usergroup(team_id: int) -> None:
    """Make the team's user group exactly its current primary and backup, when that changed since the last sync."""
    _upkeep(_ctx()).sync_usergroup(team_id)


def run_health_check() -> None:
    """DM the admins, once a day, the next 14 days' gaps and members who left, are deactivated or cannot get DMs."""
    _upkeep(_ctx()).health_check()


def schedule_cover_reminder(request_id: int, *, start: datetime) -> None:
    """Plan the first reminder for a freshly posted cover request."""
    _upkeep(_ctx()).schedule_cover_reminder(request_id, start=start)


@_acting_for(_cover_request_workspace)
def remind_cover_request(request_id: int) -> None:
    """Nudge the team in the card's thread while a cover request is still open, until shortly before it starts."""
    _upkeep(_ctx()).remind_cover_request(request_id)


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
        on_paged=_burnout_guard(ctx).after_page, refresh_homes=_home_refresh(ctx).after_crisis,
        senders=_steps_beyond_slack(ctx),
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
    remind_stakeholder_update(crisis_id)  # plans the cadence of an acknowledged SEV1/SEV2 crisis (a no-op otherwise)
    resolve_provider_handoffs(crisis_id)  # a closed crisis' PagerDuty incident / Opsgenie alert (a no-op otherwise)


def check_still_on_it(crisis_id: int) -> None:
    """Ask an acknowledger with no update "still on it?"; if the question goes unanswered too, page again."""
    _paging(_ctx()).check_still_on_it(crisis_id)


def sweep_crises() -> None:
    """Run every escalation step past its deadline that no date job ran (after a restart, or moved elsewhere)."""
    _paging(_ctx()).sweep()


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


# --- burnout guard (bot/flows/burnout_guard.py) and App Home refreshes (bot/flows/home_refresh.py) -------------


def _burnout_guard(ctx: JobContext) -> BurnoutGuard:
    return BurnoutGuard(clock=ctx.clock, store=ctx.burnout, audit=ctx.audit, rotations=ctx.rotations, people=ctx.people,
                        slack=ctx.slack, outbox=JobPorts(), later=SchedulerLater(ctx.scheduler))


def _home_refresh(ctx: JobContext) -> HomeRefresh:
    return HomeRefresh(clock=ctx.clock, ledger=ctx.ledger, ran=ctx.message_state, later=SchedulerLater(ctx.scheduler),
                       publish=ctx.refresh_homes)


@_acting_for(_team_workspace)
def guard_sleep_pages(team_id: int, user_id: str, at: str) -> None:
    """After a page to `user_id` at `at`: past the sleep-page limit this shift, offer the backup the rest of it (once per shift)."""
    _burnout_guard(_ctx()).guard_sleep_pages(team_id, user_id, datetime.fromisoformat(at))


@_acting_for(_team_workspace)
def refresh_team_homes(team_id: int, key: str | None = None) -> None:
    """Republish the App Home of everyone the team schedules (a handoff or a crisis changed what it shows), once per key."""
    _home_refresh(_ctx()).refresh(team_id, key)


# --- weekly reports and end-of-shift check-ins (issue 7) ---------------------------------------------------

REPORT_PLAN_EVERY_S = 300


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
            if now < handoff:  # asked before the handoff, so the note can be in the messages sent at it
                planned.append(("bot.jobs:ask_handover_note", handover_flow.ask_key(team.id, handoff), handoff - HANDOVER_ASK_LEAD))
            if weekly_report_due(index, handoff) and now - handoff - REPORT_DELAY < REPORT_LATE_LIMIT:
                planned.append(("bot.jobs:run_weekly_report", report_job_key("report", team.id, handoff), handoff + REPORT_DELAY))
        done = ctx.message_state.ran_keys(key for _, key, _ in planned)
        for func, key, at in planned:
            if key not in done:
                _schedule_once(ctx.scheduler, func, key, max(at, now), [key])


def _reports(ctx: JobContext) -> WeeklyReports:
    return WeeklyReports(clock=ctx.clock, store=ctx.reports, rotations=ctx.rotations, ledger=ctx.ledger, admins=ctx.admins,
                         outbox=_outbox(ctx), uploader=_uploader(ctx), later=SchedulerLater(ctx.scheduler))


@_acting_for(_report_key_workspace)
def run_shift_checkin(key: str) -> None:
    """DM the primary whose shift ended at the handoff "How heavy was this shift?" (1-5); once per team handoff."""
    _reports(_ctx()).run_checkin(key)


@_acting_for(_report_key_workspace)
def run_weekly_report(key: str) -> None:
    """Post the team's report for the weeks up to the handoff, with its charts, where the team's setting says; once."""
    _reports(_ctx()).run_report(key)


def post_weekly_report(rotation: TeamRotation, handoff: datetime, *, delivery: ReportDelivery, key: str) -> None:
    """Post the report for the weeks up to `handoff` and its charts (console mode's /simulate report)."""
    _reports(_ctx()).post_report(rotation, handoff, delivery=delivery, key=key)


def _slack_name(slack: SlackGateway, user_id: str) -> str:
    """Return the person's Slack display name (the ID when Slack cannot say): for text that must not notify them."""
    try:
        info = slack.user_info(user_id)
    except SlackCallFailed:
        return user_id  # a line or chart labelled with the ID still says who
    profile = info.get("profile") or {}
    return profile.get("display_name") or info.get("real_name") or info.get("name") or user_id


def _uploader(ctx: JobContext) -> Uploader:
    return Uploader(clock=ctx.clock, ledger=ctx.ledger, slack=ctx.slack, audit=ctx.audit, outbox=JobPorts(), later=SchedulerLater(ctx.scheduler),
                    display_name=lambda user_id: _slack_name(ctx.slack, user_id))


def upload_files(uploads: list[FileUpload]) -> bool:
    """Upload each file not uploaded yet; return whether all are up (the others retry later or were given up and audited)."""
    return _uploader(_ctx()).upload_files(uploads)


def retry_file_upload(upload: dict[str, Any], attempt: int) -> None:
    """Try an upload again after a transient failure (a date job with backoff; bot/flows/uploads.py)."""
    _uploader(_ctx()).upload_once(FileUpload(**upload), attempt=attempt)


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

    def handover_note_saved(self, team_id: int, handoff: datetime) -> None:
        handover_note_saved(team_id, handoff)

    def upload_files(self, uploads: list[FileUpload]) -> bool:
        return upload_files(uploads)

    def upload_report_charts(self, report: TeamReport, *, key: str, user: str | None = None, workspace_id: str | None = None) -> bool:
        return _uploader(_ctx()).upload_report_charts(report, key=key, user=user, workspace_id=workspace_id)


# --- issue 17: handover notes, stakeholder cadence, paging beyond Slack (use cases in bot/flows/) -------------


def _handover_note(ctx: JobContext, team_id: int, handoff: datetime) -> HandoverNote | None:
    return ctx.handover_notes.handover_note(team_id=team_id, handoff=handoff)


@_acting_for(_handover_ask_workspace)
def ask_handover_note(key: str) -> None:
    """Ask the outgoing primary for a handover note, once per team handoff (bot/flows/handover.py decides)."""
    ctx = _ctx()
    handover_flow.ask_for_note(key, rotations=ctx.rotations, ledger=ctx.ledger, outbox=JobPorts(), now=ctx.clock())


@_acting_for(_team_workspace)
def handover_note_saved(team_id: int, handoff: datetime) -> None:
    """Bring the handoff messages already sent up to date with the note (bot/flows/handover.py decides)."""
    ctx = _ctx()
    handover_flow.note_saved(team_id, handoff, rotations=ctx.rotations, notes=ctx.handover_notes, sent=ctx.outbox, outbox=JobPorts())


class _StakeholderChecks:
    """CheckLater for bot/flows/stakeholders.py: one date job per crisis, `stakeholder-update:{crisis_id}`."""

    def check_later(self, crisis_id: int, at: datetime) -> None:
        _schedule_once(_ctx().scheduler, "bot.jobs:remind_stakeholder_update", f"stakeholder-update:{crisis_id}", at, [crisis_id])


STAKEHOLDER_SWEEP_EVERY_S = 60  # the safety net for a reminder job lost with its process; the date jobs are the fast path


def sweep_stakeholder_reminders() -> None:
    """Check the cadence of every acknowledged SEV1/SEV2 crisis (each reminder is still sent once: the ledger decides)."""
    ctx = _ctx()
    for crisis_id in ctx.crisis_records.acknowledged_crisis_ids(severities=CADENCE_SEVERITIES):
        remind_stakeholder_update(crisis_id)


@_acting_for(_crisis_workspace)
def remind_stakeholder_update(crisis_id: int) -> None:
    """Remind the acknowledger of a SEV1/SEV2 crisis to update the stakeholders, once per slot (bot/flows/stakeholders.py)."""
    ctx = _ctx()
    stakeholder_flow.remind(crisis_id, crises=_crises(ctx), playbooks=ctx.playbooks, channels=ctx.stakeholder_channels, ledger=ctx.ledger,
                            outbox=JobPorts(), later=_StakeholderChecks(), now=ctx.clock())


# Paging beyond Slack: bot/flows/reach.py decides and sends; a step's kind picks its sender in bot/flows/paging.py.
PROVIDER_SWEEP_EVERY_S = 15


class _ReachFollowers:
    """Followers for bot/flows/reach.py: date jobs `provider-page:{id}`, the next step brought forward, admin DMs."""

    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    def deliver_later(self, page_id: int, at: datetime) -> None:
        _schedule_once(self._ctx.scheduler, "bot.jobs:deliver_provider_page", f"provider-page:{page_id}", at, [page_id])

    def run_due_steps(self, crisis_id: int) -> None:
        if reach_flow.next_step_now(_crises(self._ctx), self._ctx.audit, crisis_id=crisis_id, now=self._ctx.clock()):
            start_crisis_chain(crisis_id)

    def tell_admins(self, text: str, *, key: str) -> None:
        for admin in self._ctx.admins.admin_ids():
            enqueue_call(dedupe_key=f"{key}:{admin}", method="dm", payload={"user": admin, "text": text})


def _steps_beyond_slack(ctx: JobContext) -> dict[str, reach_flow.ProviderStep]:
    """Paging.senders for the step kinds of the configured providers (call, SMS, PagerDuty, Opsgenie)."""
    return {kind: reach_flow.ProviderStep(
        StepKind(kind), ledger=ctx.provider_pages, reach=ctx.person_reach, crises=_crises(ctx), audit=ctx.audit,
        providers=ctx.page_senders, follow=_ReachFollowers(ctx),
        # Read through the paging flow at call time: the person's App Home quiet hours in their zone, the team's primary.
        in_quiet_hours=lambda crisis, user_id, now: _paging(ctx).in_quiet_hours(crisis, user_id, now),
        primary_on_call=lambda crisis, now: _paging(ctx).primary_on_call(crisis, now),
    ) for kind in ctx.page_senders}


@_acting_for(_provider_page_workspace)
def deliver_provider_page(page_id: int) -> None:
    """Send one provider page once (retried for a minute, then handed to the next step): bot/flows/reach.py decides."""
    ctx = _ctx()
    reach_flow.deliver(page_id, ledger=ctx.provider_pages, crises=_crises(ctx), audit=ctx.audit, reach=ctx.person_reach,
                       senders=ctx.page_senders, follow=_ReachFollowers(ctx), now=ctx.clock())


def sweep_provider_pages() -> None:
    """Send provider pages no date job is waiting for (a restart, a lease that ran out with its process)."""
    ctx = _ctx()
    now = ctx.clock()
    ctx.provider_pages.release_expired(now)
    for page in ctx.provider_pages.due(now):
        deliver_provider_page(page.id)


def resolve_provider_handoffs(crisis_id: int) -> None:
    """Resolve a closed crisis' PagerDuty incident and Opsgenie alert (each once)."""
    ctx = _ctx()
    crisis = _crises(ctx).get_crisis(crisis_id) if ctx.page_senders else None
    if crisis is not None and crisis.status.closed:
        reach_flow.resolve_handoffs(crisis_id, ledger=ctx.provider_pages, senders=ctx.page_senders, now=ctx.clock())
