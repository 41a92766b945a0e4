"""SQLModel tables: audit trail, admins, event dedupe, outbox, job ledger, teams and their rotation layers.

Alembic migrations in storage/migrations mirror these; change both together.
"""

from datetime import datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.columns import UtcDateTime


class AuditEntry(SQLModel, table=True):
    """Who did what, when, through which path, with before/after where something changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_target", "target"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    actor: str = Field(max_length=64)  # a Slack user ID, or "system"
    action: str = Field(max_length=64)
    via: str = Field(max_length=32)  # slash_command, button, modal, scheduler, api, event, console, cli
    target: str = Field(default="", max_length=255)
    team_id: str | None = Field(default=None, max_length=32)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Admin(SQLModel, table=True):
    """A Slack user allowed to change teams, rosters and policies of one workspace."""

    __tablename__ = "admins"

    workspace_id: str = Field(primary_key=True, max_length=32)  # migration 0016
    user_id: str = Field(primary_key=True, max_length=32)
    added_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    added_by: str = Field(max_length=64)


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled; Slack retries carry the same event_id."""

    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)


class OutboxMessage(SQLModel, table=True):
    """A Web API call the bot owes Slack; kept until Slack accepts it, so an outage loses nothing."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "due_at"), Index("ix_outbox_finished", "status", "created_at"))

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    workspace_id: str = Field(default="", max_length=32)  # whose token sends it (migration 0016)
    method: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    # pending, sending (leased), sent, failed (gave up; admins told), held (its workspace uninstalled the app)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=255)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    kind: str | None = Field(default=None, max_length=32)  # the on-delivered step its flow declared (bot/flows/outbox.py)
    subject: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # what that step needs


class JobRun(SQLModel, table=True):
    """Ledger of scheduled runs that completed; a run key is claimed once, so a restart never repeats it."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_ran_at", "ran_at"),)

    run_key: str = Field(primary_key=True, max_length=255)
    ran_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Team(SQLModel, table=True):
    """A rotation: one per brand or region, with its zone, handoff rule and channels."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_teams_workspace_name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=32)
    name: str = Field(max_length=80)
    tz: str = Field(max_length=64)
    handoff_weekday: int = 0
    handoff_at: str = Field(default="09:00", max_length=5)  # wall-clock HH:MM in the team zone
    length_days: int = 7
    epoch: datetime = Field(sa_type=UtcDateTime, nullable=False)
    announce_channel: str | None = Field(default=None, max_length=32)
    crisis_channel: str | None = Field(default=None, max_length=32)
    usergroup_id: str | None = Field(default=None, max_length=32)
    observe_holidays: bool = False
    holiday_country: str | None = Field(default=None, max_length=8)  # default calendar for members without their own
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class TeamMember(SQLModel, table=True):
    """A person in a team's ordered roster (or a shadow, who is notified but never paged alone)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    position: int
    tz: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=8)
    paused: bool = False
    shadow: bool = False


class OverrideRow(SQLModel, table=True):
    """Someone covers a role for a time range; the newest override wins where they overlap."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_team_end", "team_id", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    role: str = Field(default="primary", max_length=16)
    start_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    replaces: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(max_length=64)


class TimeOffRow(SQLModel, table=True):
    """A person is away (all their teams skip them) for a time range."""

    __tablename__ = "time_off"
    __table_args__ = (Index("ix_time_off_user_end", "user_id", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(default="", max_length=32)  # migration 0016
    user_id: str = Field(max_length=32)
    start_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(max_length=64)


class TeamWindow(SQLModel, table=True):
    """A follow-the-sun regional window of a team: a local time range with its own roster."""

    __tablename__ = "team_windows"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    name: str = Field(max_length=40)
    tz: str = Field(max_length=64)
    start: str = Field(max_length=5)  # HH:MM wall clock in tz
    end: str = Field(max_length=5)
    roster: list[str] = Field(sa_column=Column(JSON, nullable=False))
    position: int = 0


class SwapRequest(SQLModel, table=True):
    """One member asks another to exchange shifts; it becomes part of the schedule once accepted."""

    __tablename__ = "swap_requests"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    requester: str = Field(max_length=32)
    requester_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # an instant inside the requester's shift
    other: str = Field(max_length=32)
    other_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    status: str = Field(default="pending", max_length=16)  # pending, accepted, declined, cancelled
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class CoverRequest(SQLModel, table=True):
    """A member asks the team to cover a time range; the first to press Take gets an override."""

    __tablename__ = "cover_requests"
    __table_args__ = (Index("ix_cover_requests_team_status", "team_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    requester: str = Field(max_length=32)
    start_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    note: str = Field(default="", max_length=500)
    status: str = Field(default="open", max_length=16)  # open, taken, cancelled
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    taken_by: str | None = Field(default=None, max_length=32)
    taken_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    override_id: int | None = None
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)


class CalendarToken(SQLModel, table=True):
    """The secret in a member's personal iCal subscription URL."""

    __tablename__ = "calendar_tokens"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_calendar_tokens_user"),)

    token: str = Field(primary_key=True, max_length=64)
    workspace_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class TeamAccount(SQLModel, table=True):
    """A brand social account or tool whose access must be revoked when someone leaves the team."""

    __tablename__ = "team_accounts"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    name: str = Field(max_length=120)


class OffboardingTask(SQLModel, table=True):
    """One revoke-access item of an offboarding checklist, with who confirmed it and when."""

    __tablename__ = "offboarding_tasks"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)  # the person who left
    team_id: int | None = Field(default=None)
    item: str = Field(max_length=120)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    confirmed_by: str | None = Field(default=None, max_length=32)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class Person(SQLModel, table=True):
    """What the bot knows of a Slack user: their zone (for reading dates) and whether they left."""

    __tablename__ = "people"

    workspace_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    tz: str | None = Field(default=None, max_length=64)
    deleted: bool = False
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class TopicRow(SQLModel, table=True):
    """A brand, product or campaign a workspace watches, with the keywords and hashtags that find its mentions."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_topics_workspace_name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=32)
    name: str = Field(max_length=80)
    keywords: list[str] = Field(sa_column=Column(JSON, nullable=False))
    hashtags: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class ListeningSource(SQLModel, table=True):
    """A listening tool allowed to post mentions; only the SHA-256 of its bearer token is kept."""

    __tablename__ = "listening_sources"
    # Names are unique per workspace (migration 0016): two workspaces may each have a "brandwatch".
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_listening_sources_workspace_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    vendor: str = Field(max_length=16)  # generic, brandwatch, talkwalker, mention, meltwater
    workspace_id: str = Field(max_length=32)
    token_hash: str = Field(max_length=64)
    default_topic_id: int | None = Field(default=None, foreign_key="topics.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class ListeningChannelRow(SQLModel, table=True):
    """A Slack channel where a listening tool already posts; its messages become mentions."""

    __tablename__ = "listening_channels"

    channel_id: str = Field(primary_key=True, max_length=32)
    workspace_id: str = Field(max_length=32)
    topic_id: int | None = Field(default=None, foreign_key="topics.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class MentionRow(SQLModel, table=True):
    """One raw mention, unique per (source, source_id); its counts stay after the retention purge.

    The purge blanks the content (the columns that may be None) and stamps purged_at, keeping the key as a tombstone so
    a vendor re-delivering the mention later is still a duplicate; tombstones go after bot.mentions.TOMBSTONE_HORIZON.
    topic_id has no foreign key (a per-row check on the hot insert): ingestion files mentions only under topics it
    has just read, topics are never deleted, and mention_counts, written in the same transaction, keeps its key.
    """

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_mentions_source_id"),
        Index("ix_mentions_received_at", "received_at"),
        # Only rows the retention purge has not yet blanked (migration 0014).
        Index("ix_mentions_live_received", "received_at", postgresql_where=text("purged_at IS NULL"),
              sqlite_where=text("purged_at IS NULL")),
        Index("ix_mentions_topic_created", "topic_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)  # bot.mentions.Source.mention_key: the source's name and workspace (0016)
    source_id: str = Field(max_length=255)
    topic_id: int
    text: str | None = None
    author: str | None = Field(default=None, max_length=255)
    reach: int | None = Field(default=None, sa_type=BigInteger)
    url: str | None = None
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    sentiment_label: str | None = Field(default=None, max_length=8)
    sentiment_score: float | None = None
    sentiment_confidence: float | None = None
    analyser: str | None = Field(default=None, max_length=64)
    purged_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class MentionCount(SQLModel, table=True):
    """Per-topic, per-minute counters, updated in the transaction that stores the mentions."""

    __tablename__ = "mention_counts"
    __table_args__ = (Index("ix_mention_counts_minute", "minute"),)

    topic_id: int = Field(primary_key=True, foreign_key="topics.id", ondelete="CASCADE")
    minute: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    total: int = 0
    negative: int = 0
    reach_negative: float = 0.0


class UsergroupSync(SQLModel, table=True):
    """A team's on-call user group as the bot last set it, or why syncing it stopped (told to admins once)."""

    __tablename__ = "usergroup_sync"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    usergroup_id: str = Field(max_length=32)
    synced_users: str | None = Field(default=None, max_length=512)  # comma list, primary first
    synced_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    disabled_error: str | None = Field(default=None, max_length=64)  # e.g. plan_upgrade_required
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class CrisisRow(SQLModel, table=True):
    """A crisis: detected or declared, then acknowledged, resolved or called a false alarm (issue 6).

    `acked_by` and `status` change only through conditional UPDATEs, so of many presses exactly one acknowledges.
    """

    __tablename__ = "crises"
    __table_args__ = (
        Index("ix_crises_team_status", "team_id", "status"),
        # At most one open crisis per team and topic, whatever the race (two declares, a declare and a spike).
        Index("ux_crises_open_topic", "team_id", "topic_key", unique=True,
              sqlite_where=text("status IN ('open', 'acknowledged')"), postgresql_where=text("status IN ('open', 'acknowledged')")),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    workspace_id: str = Field(max_length=32)
    topic: str = Field(max_length=80)
    topic_key: str = Field(default="", max_length=80)  # lower(topic): the open-crisis unique index compares it
    topic_id: int | None = Field(default=None)
    severity: int  # bot.spikes.Severity value: 3 = SEV1
    summary: str = Field(default="", max_length=500)
    origin: str = Field(max_length=16)  # detected, declared
    declared_by: str | None = Field(default=None, max_length=32)
    status: str = Field(default="open", max_length=16)  # open, acknowledged, resolved, false_alarm
    opened_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    acked_by: str | None = Field(default=None, max_length=32)
    acked_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    acked_via: str | None = Field(default=None, max_length=32)
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    resolution_note: str | None = Field(default=None, max_length=2000)
    real: bool | None = Field(default=None)  # the resolver's answer to "was it a real crisis?"
    false_alarm: bool = False
    last_activity_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # for "still on it?"
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    thread_lines: int = 0  # superseded by crisis_events.in_thread (0008); kept so 0006's schema stays as it was
    stats: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    playbook_ts: str | None = Field(default=None, max_length=32)  # the playbook message in the card's thread ("" while posting)


class CrisisEventRow(SQLModel, table=True):
    """One line of a crisis timeline: declared, page (to whom, how, delivered), ack, escalation, note, resolution."""

    __tablename__ = "crisis_events"
    __table_args__ = (Index("ix_crisis_events_crisis", "crisis_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    crisis_id: int = Field(foreign_key="crises.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    kind: str = Field(max_length=24)
    actor: str = Field(max_length=64)  # a Slack user ID or "system"
    via: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=64)  # who was paged, or the channel
    method: str | None = Field(default=None, max_length=16)  # dm, channel, usergroup, here
    delivered: bool | None = Field(default=None)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    in_thread: bool = False  # queued for the card's thread (claimed per row: concurrent writers never shift or repeat a line)


class CrisisResponder(SQLModel, table=True):
    """Someone pressed "I'm responding" on a crisis (once per person)."""

    __tablename__ = "crisis_responders"

    crisis_id: int = Field(primary_key=True, foreign_key="crises.id", ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=32)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class CrisisEscalationStep(SQLModel, table=True):
    """A step of a crisis' escalation chain with its deadline; `ran_at` is its claim (a conditional UPDATE), renewed only
    when a runner's lease ran out while the outcome still said "running"."""

    __tablename__ = "crisis_escalation_steps"
    __table_args__ = (Index("ix_crisis_steps_due", "ran_at", "due_at"),)

    crisis_id: int = Field(primary_key=True, foreign_key="crises.id", ondelete="CASCADE")
    step: int = Field(primary_key=True)
    target: str = Field(max_length=16)  # bot.escalation.Target
    due_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    ran_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    outcome: str | None = Field(default=None, max_length=16)  # running (leased), then paged, skipped or closed
    kind: str = Field(default="slack", max_length=16, sa_column_kwargs={"server_default": "slack"})  # bot.reach.StepKind


class EscalationPolicyRow(SQLModel, table=True):
    """A team's escalation policy; teams without a row use bot.escalation.DEFAULT_POLICY."""

    __tablename__ = "escalation_policies"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    steps: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [{"target": "primary", "wait_s": 300}]
    repeat: int = 2
    still_on_it_s: int = 1800
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: str = Field(max_length=64)


class CrisisAway(SQLModel, table=True):
    """The primary stepped away ("in another crisis for …"): new pages go to the backup until `until`."""

    __tablename__ = "crisis_away"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=32)
    until: datetime = Field(sa_type=UtcDateTime, nullable=False)


class PlaybookStepRow(SQLModel, table=True):
    """One step of a team's crisis checklist; `holding_statement` marks text meant to be copied and published."""

    __tablename__ = "playbook_steps"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    position: int = 0
    text: str = Field(max_length=2000)
    holding_statement: bool = False


class PlaybookCheck(SQLModel, table=True):
    """A playbook step ticked during one crisis: who and when."""

    __tablename__ = "playbook_checks"

    crisis_id: int = Field(primary_key=True, foreign_key="crises.id", ondelete="CASCADE")
    step_id: int = Field(primary_key=True, foreign_key="playbook_steps.id", ondelete="CASCADE")
    checked_by: str = Field(max_length=32)
    checked_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class TopicWatch(SQLModel, table=True):
    """Which team a topic pages, and that topic's persisted spike detector and how far it has read the counters."""

    __tablename__ = "topic_watches"

    topic_id: int = Field(primary_key=True, foreign_key="topics.id", ondelete="CASCADE")
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    detector: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    read_until: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class MemberSettingRow(SQLModel, table=True):
    """A member's own App Home settings: time zone, quiet hours (wall-clock "HH:MM" in that zone), how pages reach them."""

    __tablename__ = "member_settings"

    workspace_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    tz: str | None = Field(default=None, max_length=64)  # None: use the zone Slack reports
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    page_via: str = Field(default="dm", max_length=16)  # dm | channel
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    holiday_country: str | None = Field(default=None, max_length=8)  # public-holiday calendar; None: the team's default


# --- reports and end-of-shift check-ins (issue 7) --------------------------------------------------------


class ReportSetting(SQLModel, table=True):
    """Where a team's weekly report goes after the handoff: its announcements channel, the admins' DMs, or nowhere."""

    __tablename__ = "report_settings"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    delivery: str = Field(default="channel", max_length=16)  # bot.reports.ReportDelivery
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: str = Field(max_length=64)


class ShiftCheckin(SQLModel, table=True):
    """The end-of-shift question to the outgoing primary, one per team handoff, and their 1-5 answer once given."""

    __tablename__ = "shift_checkins"
    # The unique key is also the index the report's range query uses.
    __table_args__ = (UniqueConstraint("team_id", "shift_end", name="uq_shift_checkins_team_end"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    shift_start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    shift_end: datetime = Field(sa_type=UtcDateTime, nullable=False)  # the handoff
    asked_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    score: int | None = Field(default=None)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


# --- crisis records (issue 6, migration 0008) -----------------------------------------------------------


class CrisisCardCopy(SQLModel, table=True):
    """A DM copy of a crisis card sent by paging; `state` is the card state it last showed, so each change updates it once."""

    __tablename__ = "crisis_card_copies"

    crisis_id: int = Field(primary_key=True, foreign_key="crises.id", ondelete="CASCADE")
    channel: str = Field(primary_key=True, max_length=32)
    ts: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(max_length=32)
    state: str = Field(max_length=64)
    posted_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


# --- burnout guard (issue 7) -----------------------------------------------------------------------


class BurnoutLimitsRow(SQLModel, table=True):
    """A team's burnout limits; no row means the defaults in bot.burnout.Limits."""

    __tablename__ = "burnout_limits"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    sleep_pages: int
    consecutive_weeks: int
    weekends_per_month: int
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: str = Field(max_length=64)


class BurnoutOffer(SQLModel, table=True):
    """The offer "backup takes the rest of this shift", made once per primary shift (the unique key is the ledger)."""

    __tablename__ = "burnout_offers"
    __table_args__ = (UniqueConstraint("team_id", "primary_user", "shift_start", name="uq_burnout_offer_shift"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    primary_user: str = Field(max_length=32)
    backup_user: str = Field(max_length=32)
    shift_start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    shift_end: datetime = Field(sa_type=UtcDateTime, nullable=False)
    sleep_pages: int
    sleep_limit: int
    status: str = Field(default="offered", max_length=16)  # offered | accepted
    offered_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    accepted_by: str | None = Field(default=None, max_length=32)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    override_id: int | None = Field(default=None)


class RebalanceProposalRow(SQLModel, table=True):
    """A rebalancing proposed in one handoff announcement (one per team and handoff); applied once by an admin."""

    __tablename__ = "rebalance_proposals"
    __table_args__ = (UniqueConstraint("team_id", "handoff", name="uq_rebalance_team_handoff"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    handoff: datetime = Field(sa_type=UtcDateTime, nullable=False)
    findings: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    moves: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="proposed", max_length=16)  # proposed | applied
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    applied_by: str | None = Field(default=None, max_length=32)
    applied_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


# --- detector tuning and campaign windows (issue 6, migration 0010) ------------------------------------


class DetectorSettingRow(SQLModel, table=True):
    """A team's detector knobs (`/crisis tuning`); a team without a row uses bot.detector_tuning.DetectorSettings()."""

    __tablename__ = "detector_settings"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    sensitivity: str = Field(default="normal", max_length=16)  # low | normal | high | a threshold such as "1.2"
    min_count: int = 10
    quiet_hours: str = Field(default="page", max_length=16)  # bot.detector_tuning.QuietHours
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: str = Field(max_length=64)


class TopicSensitivityRow(SQLModel, table=True):
    """What labels taught one topic's detector (bot.detector_tuning.TopicAdjustment); no row means no change."""

    __tablename__ = "topic_sensitivity"

    topic_id: int = Field(primary_key=True, foreign_key="topics.id", ondelete="CASCADE")
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    log_factor: float = 0.0  # log of the threshold factor as of adjusted_at (TopicAdjustment.offset); decays towards 0
    adjusted_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    false_alarms: int = 0
    missed: int = 0
    last_crisis_id: int = 0  # the crisis that taught it last: each crisis teaches once
    updated_by: str = Field(max_length=64)


class CampaignWindowRow(SQLModel, table=True):
    """A campaign window (`/crisis campaign`): a topic (or all of a team's, when topic is NULL) watched more closely."""

    __tablename__ = "campaign_windows"
    __table_args__ = (Index("ix_campaign_windows_team_end", "team_id", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    name: str = Field(max_length=80)
    topic: str | None = Field(default=None, max_length=80)
    starts_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    cancelled_by: str | None = Field(default=None, max_length=32)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


# --- reach and handover (issue 17, migration 0017) -------------------------------------------------------


class HandoverNoteRow(SQLModel, table=True):
    """The outgoing primary's "anything the next person should know?" for one team handoff; editable until the next."""

    __tablename__ = "handover_notes"
    __table_args__ = (UniqueConstraint("team_id", "handoff", name="uq_handover_notes_team_handoff"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    handoff: datetime = Field(sa_type=UtcDateTime, nullable=False)
    author: str = Field(max_length=32)
    text: str = Field(max_length=3000)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class StakeholderChannelRow(SQLModel, table=True):
    """Where a team's stakeholder updates go during a SEV1/SEV2 crisis (`/crisis stakeholders`)."""

    __tablename__ = "stakeholder_channels"

    team_id: int = Field(primary_key=True, foreign_key="teams.id", ondelete="CASCADE")
    channel: str = Field(max_length=32)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: str = Field(max_length=32)


class PersonReachRow(SQLModel, table=True):
    """A person's phone (verified once by a code) and their quiet-hours rule per severity (Slack only or phone)."""

    __tablename__ = "person_reach"

    workspace_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    phone_verified_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    code_hash: str | None = Field(default=None, max_length=128)
    code_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    code_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    quiet_rule: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class ProviderPage(SQLModel, table=True):
    """One page through a provider (call, SMS, PagerDuty, Opsgenie) for a crisis step and person: sent once, retried, acked."""

    __tablename__ = "provider_pages"
    __table_args__ = (
        UniqueConstraint("crisis_id", "step", "user_id", "kind", name="uq_provider_pages_once"),
        Index("ix_provider_pages_status_due", "status", "due_at"),
        Index("ix_provider_pages_external", "kind", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    crisis_id: int = Field(foreign_key="crises.id", ondelete="CASCADE")
    step: int
    user_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # call, sms, pagerduty, opsgenie
    status: str = Field(max_length=16)  # pending, sending, sent, acked, resolved, failed, handed_on
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    external_id: str | None = Field(default=None, max_length=128)  # call SID, message SID, dedup key, alias
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    acked_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


# --- Slack installations (issue 16, migration 0016) ---------------------------------------------------
# slack_sdk's SQLAlchemy installation and OAuth state stores own these tables; declaring them here with the library's
# own builders keeps them in the schema check (tests/storage/test_migrations.py) without copying their columns.

class WorkspaceState(SQLModel, table=True):
    """A workspace that uninstalled the app or revoked its token: nothing is sent there until it installs again."""

    __tablename__ = "workspace_states"

    workspace_id: str = Field(primary_key=True, max_length=32)
    sending: bool = True
    reason: str | None = Field(default=None, max_length=32)  # app_uninstalled, tokens_revoked
    changed_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"

SQLAlchemyInstallationStore.build_installations_table(SQLModel.metadata, INSTALLATIONS_TABLE)
SQLAlchemyInstallationStore.build_bots_table(SQLModel.metadata, BOTS_TABLE)
SQLAlchemyOAuthStateStore.build_oauth_states_table(SQLModel.metadata, OAUTH_STATES_TABLE)
