"""Composition root: builds the database, Slack client, Bolt app, handlers and scheduler, and wires them.

Nothing runs at import time; `create_runtime(settings)` builds, `Runtime.start()` starts the scheduler.
"""

from __future__ import annotations

import enum
import gc
import logging
from concurrent.futures import Executor
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot import jobs, logs
from bot.logs import ContextCarryingPool as WorkPool
from bot.config import Settings, default_data_dir
from bot.leadership import Role, SchedulerLeadership
from bot.metrics import Metrics, TimeSlackRequests
from bot.blocks.crisis import CrisisActions
from bot.home import CrisesOnHome
from bot import installs
from bot.audit import Via
from bot.install_flow import StoredBotAuthorize, oauth_settings
from bot.flows.outbox import schedule_delivery
from bot.workspace_scope import acting_for, carry_scope
from bot.slack_gateway import SlackGateway, build_web_client
from handlers import (
    app_home, burnout_actions, crisis_actions, crisis_command, crisis_forms, events, mention_events, oncall_actions, oncall_command, oncall_setup, replies,
)
from handlers import handover_forms, reports, stakeholder_forms
from handlers.deps import Deps
from storage import migrate
from storage.admins import AdminDirectory
from storage.audit import AuditLog
from storage.events import ProcessedEvents
from storage.installations import Installations, SingleTokenSource, WorkspaceStatesStore
from storage.job_runs import JobLedger
from storage.job_store import SharedJobStore
from storage.leadership import leader_lock_for
from storage.mentions import Mentions
from storage.outbox import Outbox
from storage.rotation_messages import RotationMessageState
from storage.calendar_tokens import CalendarTokens
from storage.crises import Crises, Detection
from storage.handover import HandoverNotes
from storage.stakeholders import StakeholderChannels
from storage.reach import PersonReachStore, ProviderPages
from bot.provider_clients import code_texter, page_senders
from storage.member_settings import MemberSettingsStore
from storage.detector_settings import DetectorSettingsStore
from storage.people import People
from storage.burnout import Burnout
from storage.playbooks import Playbooks
from storage.reports import Reports
from storage.retention import RetentionStore
from storage.rotations import Rotations
from storage.session import Database, sqlite_url

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# A job due while the bot was down still runs once on start-up if it is less than this late.
MISFIRE_GRACE_S = 6 * 3600
# The leader wakes at least this often, so a job another instance wrote to the shared store runs on time.
JOB_STORE_POLL_S = 2.0
SQLITE_STANDBY_NOTE = " (SQLite runs one scheduler per database file; this process serves requests only — use PostgreSQL for several instances)"


def utc_now() -> datetime:
    return datetime.now(UTC)


def database_url(settings: Settings) -> str:
    """Return DATABASE_URL, or the embedded SQLite file's URL when it is unset."""
    return settings.database_url or sqlite_url(default_data_dir() / "socialops.db")


@dataclass
class Runtime:
    settings: Settings
    database: Database
    clock: Clock
    gateway: SlackGateway
    app: App
    scheduler: _StoppableScheduler
    deps: Deps
    outbox: Outbox
    leadership: SchedulerLeadership
    metrics: Metrics
    workspace_states: WorkspaceStatesStore  # which workspaces uninstalled the app (nothing is sent there)
    work_pool: Executor | None = None  # owned here (shut down on stop) unless the caller passed its own
    installations: Installations | None = None  # many-workspace mode only: slack_sdk's installation and OAuth state stores

    def bind_jobs(self) -> None:
        """Give the scheduler's job functions this runtime's collaborators."""
        jobs.bind(jobs.JobContext(
            clock=self.clock, outbox=self.outbox, slack=self.gateway, audit=self.metrics.counting_pages(self.deps.audit),
            events=self.deps.events, scheduler=self.scheduler,
            rotations=Rotations(self.database), admins=self.deps.admins, ledger=JobLedger(self.database),
            message_state=RotationMessageState(self.database),
            # Announcements carry the team's open crises over; cover requests come from the rotation store.
            crises=Crises(self.database), cover_requests=Rotations(self.database), crisis_records=Crises(self.database),
            people=People(self.database),
            burnout=Burnout(self.database), refresh_homes=lambda team_id: app_home.refresh_team_homes(self.deps, team_id),
            detection=Detection(self.database), mention_counts=Mentions(self.database),
            detector_settings=DetectorSettingsStore(self.database), member_settings=MemberSettingsStore(self.database),
            mentions=Mentions(self.database), mention_retention=timedelta(days=self.settings.mention_retention_days),
            reports=Reports(self.database), handover_notes=HandoverNotes(self.database),
            playbooks=Playbooks(self.database), stakeholder_channels=StakeholderChannels(self.database),
            provider_pages=ProviderPages(self.database), person_reach=PersonReachStore(self.database),
            page_senders=page_senders(self.settings.providers, public_url=self.settings.public_url),
            retention=self.settings.retention, retention_store=RetentionStore(self.database),
            metrics=self.metrics,
            installs=self.workspace_states,
        ))

    def start(self, *, on_scheduler_death: Callable[[], None] | None = None) -> None:
        """Bind the jobs and start the scheduler: it runs here if this instance wins the leader lock (missed jobs run once now).

        `on_scheduler_death` runs in the dying scheduler thread; the long-running modes use it to stop the process.
        """
        self.bind_jobs()
        self.scheduler.on_death = on_scheduler_death
        self.leadership.start()

    @property
    def scheduler_role(self) -> Role:
        """leader (runs the jobs), standby (another instance does) or stopped."""
        return self.leadership.role

    @property
    def scheduler_state(self) -> SchedulerState:
        return self.scheduler.health

    def freeze_startup_heap(self) -> None:
        """Move everything built so far out of the garbage collector's sight (a long-running server calls this once).

        The runtime's start-up heap (Bolt, SQLAlchemy, the sentiment lexicon, matplotlib) never becomes garbage,
        yet every full collection would scan it again, pausing all requests in flight.
        """
        gc.freeze()

    def stop(self) -> None:
        if self.work_pool is not None:
            # After-the-ack work still needs the jobs and the database: let it finish first.
            self.work_pool.shutdown(wait=True)
        # Stop competing for the lead before the scheduler goes; give the lock back only once it has.
        self.leadership.stop_watching()
        if self.scheduler.running:
            # APScheduler 3 can hand a due job to an executor it is shutting down ("cannot schedule new
            # futures after shutdown"): pause first, then wait out any pass already holding the store lock.
            self.scheduler.pause()
            with self.scheduler._jobstores_lock:  # noqa: SLF001 - no public way to wait for that pass
                pass
            # shutdown() waits for running jobs while holding the store lock, and a job that schedules another
            # (an escalation step queueing a timeline line) needs that lock: let running jobs finish first.
            for executor in self.scheduler._executors.values():  # noqa: SLF001 - same reason
                executor.shutdown(wait=True)
            self.scheduler.shutdown(wait=True)
        self.leadership.release()
        jobs.bind(None)
        self.database.dispose()


class SchedulerState(enum.StrEnum):
    """What /healthz reports as "scheduler" (a leader/standby split would add values here)."""

    running = "running"
    stopped = "stopped"  # not started, or shut down
    dead = "dead"  # started, but its thread ended: no job runs until the process restarts


class _StoppableScheduler(BackgroundScheduler):
    """BackgroundScheduler whose pass re-checks its state under the store lock, and that says when its thread died.

    APScheduler 3 checks "paused" before taking the lock, so a pass that started just before stop()
    could still hand a job to an executor being shut down ("cannot schedule new futures after shutdown").
    An exception escaping a pass (a job store that fails outside APScheduler's own retry) ends the thread
    silently in APScheduler 3; here it is logged once and `on_death` is called, so the process can exit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_death: Callable[[], None] | None = None
        self.died = False

    def _process_jobs(self):  # noqa: ANN202 - APScheduler's signature
        with self._jobstores_lock:
            if self.state != STATE_RUNNING:
                return None
            wait_seconds = super()._process_jobs()
        return JOB_STORE_POLL_S if wait_seconds is None else min(wait_seconds, JOB_STORE_POLL_S)

    def _main_loop(self) -> None:
        try:
            super()._main_loop()
        except BaseException:
            self.died = True
            log.critical("the scheduler thread died; no scheduled job runs until socialops restarts", exc_info=True)
            if self.on_death is not None:
                self.on_death()

    @property
    def health(self) -> SchedulerState:
        if self.died:
            return SchedulerState.dead
        if not self.running:
            return SchedulerState.stopped
        thread = getattr(self, "_thread", None)  # BackgroundScheduler's own; gone after shutdown
        return SchedulerState.running if thread is not None and thread.is_alive() else SchedulerState.dead


class _JobRunPool(ThreadPoolExecutor):
    """The scheduler's threads: each job run logs under its job id and a run id (bot/logs.py)."""

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - concurrent.futures' signature
        job = args[0]  # APScheduler 3 submits run_job(job, jobstore_alias, run_times, logger_name)
        return super().submit(logs.run_as_job, job.id, fn, *args, **kwargs)


class _JobExecutor(BasePoolExecutor):
    def __init__(self, max_workers: int) -> None:
        super().__init__(_JobRunPool(max_workers, thread_name_prefix="socialops-job"))


def build_scheduler(database: Database, scheduler_class: type[_StoppableScheduler] | None = None) -> _StoppableScheduler:
    """One APScheduler with jobs persisted in the app's own database, in UTC (console mode passes its clock-driven class)."""
    return (scheduler_class or _StoppableScheduler)(
        jobstores={"default": SharedJobStore(engine=database.engine, tablename="apscheduler_jobs")},
        executors={"default": _JobExecutor(4)},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_S, "max_instances": 1},
        timezone=UTC,
    )


@dataclass(frozen=True)
class _DetectAfterStoring:
    """The MentionsStored port: a detection pass in the work pool after each write that stored something."""

    run_later: Callable[[Callable[[], None]], object]

    def after_stored(self) -> None:
        self.run_later(jobs.detect_after_batch)


def _logged(work: Callable[[], None]) -> Callable[[], None]:
    """Wrap after-the-ack work so a failure is logged with its traceback instead of vanishing in a Future."""
    def run() -> None:
        try:
            work()
        except Exception:
            log.exception("background work failed")
            raise
    return run


class _ScopeCarryingPool(Executor):
    """The work pool, with each task acting for the workspace of the request or job that submitted it."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - Executor's signature
        return self._inner.submit(carry_scope(fn), *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


class _WorkspaceApp(App):
    """Bolt's App, dispatching each request on behalf of the workspace it came from (bot.workspace_scope).

    A global middleware cannot do this: Bolt runs the listeners after the whole middleware chain has returned.
    """

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with acting_for(req.context.team_id or req.context.enterprise_id or ""):
            return super().dispatch(req)


class ResumeReturningWorkspace(Middleware):
    """Any authorized request other than an uninstall proves the app is installed there: a stopped workspace resumes."""

    def __init__(self, states: WorkspaceStatesStore, resume: Callable[[str], None]) -> None:
        self.states = states
        self.resume = resume

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        workspace = req.context.team_id or req.context.enterprise_id or ""
        event = req.body.get("event")
        event_type = event.get("type") if isinstance(event, dict) else None
        if workspace and event_type not in installs.StopReason.__members__ and not self.states.is_sending(workspace):
            self.resume(workspace)
        return next()


def create_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    database: Database | None = None,
    listener_executor: Executor | None = None,
    scheduler_class: type[_StoppableScheduler] | None = None,
) -> Runtime:
    """Build everything the bot needs; migrations are applied here, so every mode starts on the newest schema."""
    database = database or Database.from_url(database_url(settings))
    migrate.upgrade(database.engine)
    states = WorkspaceStatesStore(database)
    installations = Installations(database, client_id=settings.slack_client_id, states=states) if settings.many_workspaces else None
    # Many workspaces: each one's token from the installation store; else the one SLACK_BOT_TOKEN (None after an uninstall).
    tokens = installations if installations is not None else SingleTokenSource(settings.slack_bot_token, states)
    client = build_web_client(token="" if installations is not None else settings.slack_bot_token, base_url=settings.slack_api_url)
    gateway = SlackGateway(client, tokens=tokens)
    # One pool runs Bolt's lazy listeners and our after-the-ack work (console mode waits on it).
    owned_pool = None if listener_executor is not None else WorkPool(max_workers=8, thread_name_prefix="socialops-work")
    executor = _ScopeCarryingPool(listener_executor or owned_pool)
    ports = jobs.JobPorts()
    outbox = Outbox(database)
    workspaces = installs.Workspaces(states=states, held=outbox, tokens=tokens)
    metrics = Metrics(outbox=outbox, is_leader=lambda: leadership.role is Role.leader)  # leadership: built below
    deps = Deps(
        clock=clock,
        audit=AuditLog(database),
        admins=AdminDirectory(database, settings.admins),
        events=ProcessedEvents(database),
        slack=gateway,
        rotations=Rotations(database),
        mentions=Mentions(database),
        crises=Crises(database),
        member_settings=MemberSettingsStore(database),
        # No crisis store implements OpenCrises yet (storage/crises.py is in progress): the Home lists none until it is wired here.
        home_crises=CrisesOnHome(Crises(database), ack_action=CrisisActions.acknowledge, responding_action=CrisisActions.responding),
        playbooks=Playbooks(database),
        reports=Reports(database),
        burnout=Burnout(database),
        detector_settings=DetectorSettingsStore(database),
        people=People(database),
        calendar_tokens=CalendarTokens(database),
        run_later=lambda work: executor.submit(_logged(work)),
        public_url=settings.public_url,
        outbox=ports, crisis_flow=ports, cover_reminders=ports, uploads=ports,
        mentions_stored=_DetectAfterStoring(lambda work: executor.submit(_logged(work))),
        workspaces=workspaces,
        handover_notes=HandoverNotes(database), handover_flow=ports, stakeholder_channels=StakeholderChannels(database),
        provider_pages=ProviderPages(database), person_reach=PersonReachStore(database),
        providers_configured=settings.providers.configured, code_texter=code_texter(settings.providers),
        mention_tally=metrics,
    )
    def resume(workspace_id: str) -> None:
        released = installs.resume_sending(workspaces, deps.audit, workspace_id=workspace_id, via=Via.event, now=clock())
        later = jobs.SchedulerLater(scheduler)
        for item_id in released or ():
            schedule_delivery(later, item_id, clock())

    install_options: dict[str, Any] = {}
    if installations is not None:
        install_options = {
            "oauth_settings": oauth_settings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                installation_store=installations.installation_store, state_store=installations.state_store,
                redirect_uri=f"{settings.public_url}/slack/oauth_redirect" if settings.public_url else None, on_installed=resume,
            ),
            "authorize": StoredBotAuthorize(installations.installation_store),
        }
    app = _WorkspaceApp(
        client=client,
        **install_options,
        signing_secret=settings.slack_signing_secret,
        # Acks are computed inline (fast reads); slow work goes to lazy listeners or the outbox,
        # so Socket Mode and HTTP ack only after the answer is known, and Bolt's 10 ms ack polling is skipped.
        process_before_response=True,
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        listener_executor=executor,
    )
    scheduler = build_scheduler(database, scheduler_class)
    lock = leader_lock_for(database)
    leadership = SchedulerLeadership(
        scheduler, lock, on_lead=lambda: jobs.install_recurring_jobs(scheduler),
        standby_note=SQLITE_STANDBY_NOTE if lock.kind == "lock file" else "",
    )
    scheduler.add_listener(metrics.on_job_event, Metrics.JOB_EVENTS)
    app.use(TimeSlackRequests(metrics))  # first, so it times every other middleware and listener
    app.use(logs.tag_slack_request)  # Socket Mode and console requests get a request id too (HTTP ones have it already)
    app.use(ResumeReturningWorkspace(states, resume))
    replies.register(app)
    events.register(app, deps)
    # Slash commands first: Bolt tries listeners in registration order, and commands must ack fastest.
    oncall_command.register(app, deps)
    crisis_command.register(app, deps)
    oncall_actions.register(app, deps)
    oncall_setup.register(app, deps)
    crisis_actions.register(app, deps)
    crisis_forms.register(app, deps)
    handover_forms.register(app, deps)
    stakeholder_forms.register(app, deps)
    app_home.register(app, deps)
    reports.register(app, deps)
    burnout_actions.register(app, deps)
    mention_events.register(app, deps)
    events.register_fallbacks(app)  # must stay the last registration
    return Runtime(
        settings=settings, database=database, clock=clock, gateway=gateway, app=app, scheduler=scheduler, deps=deps,
        outbox=outbox, leadership=leadership, metrics=metrics, work_pool=owned_pool,
        installations=installations, workspace_states=states,
    )

