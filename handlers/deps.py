"""What the handlers get from the composition root: use-case collaborators, never raw sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.access import AdminRoster, EventLedger
from bot.audit import AuditSink
from bot.burnout import BurnoutStore
from bot.campaigns import CampaignStore
from bot.crisis import CrisisStore
from bot.detector_tuning import TuningStore
from bot.escalation import Policy
from bot.handover import HandoverStore
from bot.stakeholders import StakeholderStore
from bot.flows.reach import PageLedger
from bot.reach import CodeTexter, ProvidersConfigured, ReachStore
from bot.flows.ports import CoverReminders, CrisisFollowUps, HandoverFollowUps, MentionsStored, OutboxSender, Uploads
from bot.home import OpenCrises, SettingsStore
from bot.installs import Workspaces
from bot.mentions import IngestTally, MentionRepository, Uncounted
from bot.offboarding import OffboardingStore
from bot.people import ZoneFacts
from bot.oncall import RotationWriter
from bot.playbook import PlaybookStore
from bot.reports import ReportRepository
from bot.slack_gateway import SlackGateway
from bot.team_setup import TeamSetupStore


class RotationRepository(RotationWriter, OffboardingStore, TeamSetupStore, Protocol):
    """Everything /oncall needs from storage (storage/rotations.py implements it)."""

    def forget_cached(self) -> None: ...


class CrisisRepository(CrisisStore, Protocol):
    """Everything /crisis and the crisis buttons need from storage (storage/crises.py implements it)."""

    def team_for_topic(self, topic_id: int) -> int | None: ...
    def watch_topic(self, *, topic_id: int, team_id: int, now: datetime) -> None: ...
    def save_policy(self, *, team_id: int, policy: Policy, user_id: str, now: datetime) -> None: ...
    def claim_playbook_post(self, *, crisis_id: int) -> bool: ...
    def set_playbook_post(self, *, crisis_id: int, ts: str | None) -> None: ...


class PersonReachRepository(ReachStore, Protocol):
    """Each person's reach beyond Slack (storage/reach.py implements it)."""


class DetectorSettingsRepository(TuningStore, CampaignStore, Protocol):
    """Per-team detector tuning and campaign windows (storage/detector_settings.py implements it)."""


class PeopleDirectory(Protocol):
    def tz_facts(self, workspace_id: str, user_id: str) -> ZoneFacts: ...
    def remember(self, *, workspace_id: str, user_id: str, tz: str | None, deleted: bool, now: datetime) -> None: ...


class CalendarTokenStore(Protocol):
    def token_for(self, *, workspace_id: str, user_id: str, now: datetime) -> str: ...
    def owner(self, token: str) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class Deps:
    clock: Callable[[], datetime]
    audit: AuditSink
    admins: AdminRoster
    events: EventLedger
    slack: SlackGateway
    rotations: RotationRepository
    people: PeopleDirectory
    calendar_tokens: CalendarTokenStore
    run_later: Callable[[Callable[[], None]], object]
    public_url: str
    mentions: MentionRepository
    crises: CrisisRepository
    member_settings: SettingsStore
    home_crises: OpenCrises  # open crises visible to a member, for the App Home
    playbooks: PlaybookStore  # crisis playbooks and their ticks (storage/playbooks.py)
    reports: ReportRepository  # report facts, report settings, check-ins and exports (storage/reports.py)
    burnout: BurnoutStore  # burnout limits, sleep-hour offers, rebalancing proposals (storage/burnout.py)
    detector_settings: DetectorSettingsRepository  # `/crisis tuning` and `/crisis campaign` (storage/detector_settings.py)
    # After-the-ack ports (bot/flows/ports.py): the only way a handler causes later work.
    outbox: OutboxSender
    crisis_flow: CrisisFollowUps
    cover_reminders: CoverReminders
    uploads: Uploads
    mentions_stored: MentionsStored  # a write stored new mentions: run a detection pass now
    workspaces: Workspaces  # uninstall / reinstall: stop and resume sending (bot/installs.py)
    handover_notes: HandoverStore  # the outgoing primaries' handover notes (storage/handover.py)
    handover_flow: HandoverFollowUps
    stakeholder_channels: StakeholderStore  # where each team's stakeholder updates go (storage/stakeholders.py)
    provider_pages: PageLedger  # pages through Twilio, PagerDuty, Opsgenie (storage/reach.py)
    person_reach: PersonReachRepository  # each person's phone, step kinds and quiet-hours rule (storage/reach.py)
    providers_configured: ProvidersConfigured  # which providers have credentials: only their step kinds are offered
    code_texter: CodeTexter | None  # texts phone verification codes (Twilio); None without Twilio credentials
    mention_tally: IngestTally = field(default_factory=Uncounted)  # mentions ingested and refused, for /metrics
