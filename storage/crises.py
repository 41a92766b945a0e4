"""Crisis repository: crises, timeline, responders, escalation steps, policies, stepping away, topic watches.

Acknowledging, closing and running a step are single conditional UPDATEs: under any concurrency one caller wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.crisis import PERSON_PAGE_METHODS, Crisis, CrisisEvent, EventKind, NewCrisis, SpikeStats, Status, counts_as_person_page
from bot.escalation import DEFAULT_POLICY, PlannedStep, Policy, PolicyStep, Target
from bot.spikes import Severity
from storage.session import Database
from storage.tables import (
    CrisisAway, CrisisCardCopy, CrisisEscalationStep, CrisisEventRow, CrisisResponder, CrisisRow, EscalationPolicyRow, MentionRow, Team, TopicRow,
    TopicWatch, WorkspaceState,
)

_OPEN = (Status.OPEN.value, Status.ACKNOWLEDGED.value)

# A claimed step is "running" until its pages are all out. Its lease must outlast a normal run, which is a few Slack
# calls that the client retries up to 3 times after each 429's Retry-After (seconds, rarely tens): 2 minutes. A runner
# killed mid-step leaves the step to the sweep (every 15 s) once the lease ran out; a rerun skips who was paged already.
STEP_LEASE = timedelta(minutes=2)
STEP_RUNNING = "running"


def _runnable(now: datetime | None):  # noqa: ANN202 - a SQL condition
    """Never claimed, or (given `now`) claimed by a runner whose lease ran out before it finished the step."""
    unclaimed = CrisisEscalationStep.ran_at.is_(None)
    if now is None:
        return unclaimed
    return or_(unclaimed, and_(CrisisEscalationStep.outcome == STEP_RUNNING, CrisisEscalationStep.ran_at <= now - STEP_LEASE))


def _open_on_topic(team_id: int, topic: str) -> tuple[Any, ...]:
    """The WHERE of "the team's open crisis on this topic" (the rows ux_crises_open_topic keeps to one)."""
    return CrisisRow.team_id == team_id, CrisisRow.topic_key == topic.lower(), CrisisRow.status.in_(_OPEN)


class Crises:
    """Implements bot.crisis.CrisisStore (and rotation_messages.AnnouncedCrises for the weekly announcement)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ----- crises -----------------------------------------------------------------------------

    def create_crisis(self, new: NewCrisis) -> Crisis | None:
        """Insert the crisis and its escalation steps; None when the team already has an open crisis on the topic.

        The partial unique index ux_crises_open_topic decides, not a read-then-insert in one transaction, which two
        racing declares would both pass (and which, on SQLite, turns the loser's write into "database is locked").
        """
        # A look first, in its own transaction, so the usual repeat declare does not burn a PostgreSQL id (#1, #3).
        with self._db.session_scope() as session:
            if session.exec(select(CrisisRow.id).where(*_open_on_topic(new.team_id, new.topic)).limit(1)).first() is not None:
                return None
        try:
            with self._db.session_scope() as session:
                row = CrisisRow(team_id=new.team_id, workspace_id=new.workspace_id, topic=new.topic, topic_key=new.topic.lower(),
                                topic_id=new.topic_id, severity=int(new.severity), summary=new.summary[:500], origin=new.origin,
                                declared_by=new.declared_by, status=Status.OPEN.value, opened_at=new.opened_at,
                                last_activity_at=new.opened_at, channel=new.channel, stats=new.stats.to_dict() if new.stats else None)
                session.add(row)
                session.flush()
                assert row.id is not None
                for step in new.steps:
                    session.add(CrisisEscalationStep(crisis_id=row.id, step=step.index, target=step.target.value, due_at=step.due_at, kind=step.kind))
                crisis_id = row.id
        except IntegrityError as error:
            # PostgreSQL names the index; SQLite names its columns.
            if not any(mark in str(error.orig) for mark in ("ux_crises_open_topic", "crises.topic_key")):
                raise  # not the open-topic index (a team that no longer exists, say)
            return None
        return self.get_crisis(crisis_id)

    def get_crisis(self, crisis_id: int) -> Crisis | None:
        with self._db.session_scope() as session:
            row = session.get(CrisisRow, crisis_id)
            return None if row is None else self._crisis(session, row)

    def open_crisis_for_topic(self, *, team_id: int, topic: str) -> Crisis | None:
        with self._db.session_scope() as session:
            row = session.exec(select(CrisisRow).where(*_open_on_topic(team_id, topic))).scalars().first()
            return None if row is None else self._crisis(session, row)

    def open_by_topic(self) -> dict[tuple[int, str], Crisis]:
        """Return every open crisis on a topic by (team id, lower-case topic): one read for a whole detection pass."""
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisRow).where(CrisisRow.status.in_(_OPEN), CrisisRow.topic_key != "")).scalars().all()
            return {(row.team_id, row.topic_key): self._crisis(session, row) for row in rows}

    def list_crises(self, *, workspace_id: str, open_only: bool, limit: int = 20) -> list[Crisis]:
        with self._db.session_scope() as session:
            query = select(CrisisRow).where(CrisisRow.workspace_id == workspace_id)
            if open_only:
                query = query.where(CrisisRow.status.in_(_OPEN))
            rows = session.exec(query.order_by(CrisisRow.opened_at.desc(), CrisisRow.id.desc()).limit(limit)).scalars().all()
            return [self._crisis(session, row) for row in rows]

    def open_crises(self, team_id: int) -> list[Crisis]:
        """Return the team's open crises, oldest first (the handoff announcement carries them over)."""
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisRow).where(CrisisRow.team_id == team_id, CrisisRow.status.in_(_OPEN))
                                .order_by(CrisisRow.opened_at)).scalars().all()
            return [self._crisis(session, row) for row in rows]

    def acknowledged_crisis_ids(self, *, severities: Sequence[Severity]) -> list[int]:
        """Return the ids of acknowledged (open) crises at these severities: the stakeholder cadence's sweep reads them."""
        with self._db.session_scope() as session:
            return list(session.exec(select(CrisisRow.id).where(CrisisRow.status == Status.ACKNOWLEDGED.value,
                                                                CrisisRow.severity.in_([int(s) for s in severities]))).scalars())

    def record_ack(self, *, crisis_id: int, user_id: str, at: datetime, via: str) -> bool:
        """Acknowledge an open, unacknowledged crisis; False when someone else got there first."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(
                CrisisRow.id == crisis_id, CrisisRow.status == Status.OPEN.value, CrisisRow.acked_by.is_(None),
            ).values(status=Status.ACKNOWLEDGED.value, acked_by=user_id, acked_at=at, acked_via=via, last_activity_at=at))
            return result.rowcount == 1

    def add_responder(self, *, crisis_id: int, user_id: str, at: datetime) -> bool:
        try:
            with self._db.session_scope() as session:
                session.add(CrisisResponder(crisis_id=crisis_id, user_id=user_id, at=at))
        except IntegrityError:
            return False
        return True

    def close_crisis(self, *, crisis_id: int, user_id: str, at: datetime, status: Status, note: str | None, real: bool | None) -> bool:
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.status.in_(_OPEN)).values(
                status=status.value, resolved_by=user_id, resolved_at=at, resolution_note=note, real=real,
                false_alarm=status is Status.FALSE_ALARM, last_activity_at=at))
            if result.rowcount != 1:
                return False
            # Steps still waiting will never page: close them so the sweeper stops looking at them.
            session.exec(update(CrisisEscalationStep).where(CrisisEscalationStep.crisis_id == crisis_id, CrisisEscalationStep.ran_at.is_(None))
                         .values(ran_at=at, outcome="closed"))
            return True

    def touch(self, *, crisis_id: int, at: datetime) -> None:
        with self._db.session_scope() as session:
            session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.last_activity_at < at).values(last_activity_at=at))

    def raise_severity(self, *, crisis_id: int, severity: Severity) -> bool:
        """Raise an open crisis' severity (never lower it); return whether it changed."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.status.in_(_OPEN),
                                                          CrisisRow.severity < int(severity)).values(severity=int(severity)))
            return result.rowcount == 1

    def set_severity(self, *, crisis_id: int, severity: Severity) -> bool:
        """Set an open crisis' severity, either way; return whether it changed."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.status.in_(_OPEN),
                                                          CrisisRow.severity != int(severity)).values(severity=int(severity)))
            return result.rowcount == 1

    def update_stats(self, *, crisis_id: int, stats: SpikeStats) -> bool:
        """Replace an open crisis' spike figures (the detector saw the spike grow); return whether it was open."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.status.in_(_OPEN))
                                  .values(stats=stats.to_dict()))
            return result.rowcount == 1

    def set_card(self, *, crisis_id: int, channel: str, ts: str) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(CrisisRow, crisis_id)
            row.channel, row.message_ts = channel, ts

    def claim_thread_lines(self, *, crisis_id: int) -> list[tuple[int, CrisisEvent]]:
        """Return (event id, event) of the timeline events this caller should post in the thread; each goes to one caller.

        Claimed per row rather than by position: events recorded concurrently may land before already-posted ones
        in time order, which would shift positions and repeat or skip lines.
        """
        with self._db.session_scope() as session:
            waiting = session.exec(select(CrisisEventRow.id).where(CrisisEventRow.crisis_id == crisis_id, CrisisEventRow.in_thread.is_(False))
                                   .order_by(CrisisEventRow.at, CrisisEventRow.id)).scalars().all()
        claimed: list[int] = []
        for event_id in waiting:
            with self._db.session_scope() as session:
                result = session.exec(update(CrisisEventRow).where(CrisisEventRow.id == event_id, CrisisEventRow.in_thread.is_(False))
                                      .values(in_thread=True))
                if result.rowcount == 1:
                    claimed.append(event_id)
        if not claimed:
            return []
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisEventRow).where(CrisisEventRow.id.in_(claimed))
                                .order_by(CrisisEventRow.at, CrisisEventRow.id)).scalars().all()
            return [(r.id, self._event(r)) for r in rows if r.id is not None]

    # ----- the playbook message and DM copies of the card ---------------------------------------------

    def claim_playbook_post(self, *, crisis_id: int) -> bool:
        """Return True to the one caller who should post the crisis' playbook message (it is marked "" meanwhile)."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id, CrisisRow.playbook_ts.is_(None)).values(playbook_ts=""))
            return result.rowcount == 1

    def set_playbook_post(self, *, crisis_id: int, ts: str | None) -> None:
        """Remember the posted playbook message (None: posting failed, the next press tries again)."""
        with self._db.session_scope() as session:
            session.exec(update(CrisisRow).where(CrisisRow.id == crisis_id).values(playbook_ts=ts))

    def add_card_copy(self, *, crisis_id: int, user_id: str, channel: str, ts: str, state: str, at: datetime) -> None:
        """Remember a DM copy of the card, and the state it shows."""
        with self._db.session_scope() as session:
            session.add(CrisisCardCopy(crisis_id=crisis_id, channel=channel, ts=ts, user_id=user_id, state=state, posted_at=at))

    def claim_card_copies(self, *, crisis_id: int, state: str) -> list[tuple[str, str]]:
        """Return (channel, ts) of the DM copies not yet showing `state`, marking them: each change goes to one caller."""
        with self._db.session_scope() as session:
            stale = session.exec(select(CrisisCardCopy.channel, CrisisCardCopy.ts).where(
                CrisisCardCopy.crisis_id == crisis_id, CrisisCardCopy.state != state).order_by(CrisisCardCopy.posted_at)).all()
        claimed: list[tuple[str, str]] = []
        for channel, ts in stale:
            with self._db.session_scope() as session:
                result = session.exec(update(CrisisCardCopy).where(
                    CrisisCardCopy.crisis_id == crisis_id, CrisisCardCopy.channel == channel, CrisisCardCopy.ts == ts,
                    CrisisCardCopy.state != state).values(state=state))
                if result.rowcount == 1:
                    claimed.append((channel, ts))
        return claimed

    def card_copies(self, crisis_id: int) -> list[tuple[str, str, str]]:
        """Return (user, channel, ts) of every DM copy of the card, oldest first."""
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisCardCopy.user_id, CrisisCardCopy.channel, CrisisCardCopy.ts)
                                .where(CrisisCardCopy.crisis_id == crisis_id).order_by(CrisisCardCopy.posted_at, CrisisCardCopy.ts)).all()
            return [(user, channel, ts) for user, channel, ts in rows]

    # ----- timeline -----------------------------------------------------------------------------

    def record_event(self, *, crisis_id: int, event: CrisisEvent) -> int:
        with self._db.session_scope() as session:
            row = CrisisEventRow(crisis_id=crisis_id, at=event.at, kind=event.kind.value, actor=event.actor, via=event.via,
                                 target=event.target, method=event.method, delivered=event.delivered, detail=event.detail)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def timeline(self, crisis_id: int) -> list[CrisisEvent]:
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisEventRow).where(CrisisEventRow.crisis_id == crisis_id)
                                .order_by(CrisisEventRow.at, CrisisEventRow.id)).scalars()
            return [self._event(r) for r in rows]

    @staticmethod
    def _event(r: CrisisEventRow) -> CrisisEvent:
        return CrisisEvent(at=r.at, kind=EventKind(r.kind), actor=r.actor, via=r.via, target=r.target, method=r.method,
                           delivered=r.delivered, detail=r.detail)

    # ----- escalation steps -------------------------------------------------------------------------

    def steps(self, crisis_id: int) -> list[PlannedStep]:
        return self._steps(crisis_id, pending_only=False)

    def pending_steps(self, crisis_id: int, *, now: datetime | None = None) -> list[PlannedStep]:
        """Steps not claimed yet; given `now`, also those whose runner's lease ran out before their pages were all sent."""
        return self._steps(crisis_id, pending_only=True, now=now)

    def _steps(self, crisis_id: int, *, pending_only: bool, now: datetime | None = None) -> list[PlannedStep]:
        with self._db.session_scope() as session:
            query = select(CrisisEscalationStep).where(CrisisEscalationStep.crisis_id == crisis_id)
            if pending_only:
                query = query.where(_runnable(now))
            rows = session.exec(query.order_by(CrisisEscalationStep.step)).scalars()
            return [PlannedStep(r.step, Target(r.target), r.due_at, r.kind) for r in rows]

    def reschedule_steps(self, *, crisis_id: int, steps: Sequence[PlannedStep]) -> None:
        with self._db.session_scope() as session:
            for step in steps:
                session.exec(update(CrisisEscalationStep).where(
                    CrisisEscalationStep.crisis_id == crisis_id, CrisisEscalationStep.step == step.index,
                    CrisisEscalationStep.ran_at.is_(None)).values(due_at=step.due_at))

    def claim_step(self, *, crisis_id: int, step: int, at: datetime) -> bool:
        """Lease a step to its runner (outcome "running", ran_at = the claim): one caller of any process gets True, and
        gets it again only once the lease ran out unfinished (its runner died), so a step's pages are sent at least once."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisEscalationStep).where(
                CrisisEscalationStep.crisis_id == crisis_id, CrisisEscalationStep.step == step, _runnable(at),
            ).values(ran_at=at, outcome=STEP_RUNNING))
            return result.rowcount == 1

    def finish_step(self, *, crisis_id: int, step: int, claimed_at: datetime, outcome: str) -> bool:
        """Give a step claimed at `claimed_at` its final outcome ("paged", "skipped"); False when the lease was lost meanwhile."""
        with self._db.session_scope() as session:
            result = session.exec(update(CrisisEscalationStep).where(
                CrisisEscalationStep.crisis_id == crisis_id, CrisisEscalationStep.step == step,
                CrisisEscalationStep.outcome == STEP_RUNNING, CrisisEscalationStep.ran_at == claimed_at,
            ).values(outcome=outcome))
            return result.rowcount == 1

    def due_steps(self, now: datetime) -> list[tuple[int, int]]:
        """Return (crisis_id, step) of every step past its deadline that has not run (or whose runner's lease ran out
        unfinished by `now`), oldest deadline first.

        Steps of a workspace that uninstalled the app wait (kept, not run, not overdue) until it installs again.
        """
        stopped = select(WorkspaceState.workspace_id).where(WorkspaceState.sending.is_(False))
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisEscalationStep.crisis_id, CrisisEscalationStep.step)
                                .join(CrisisRow, CrisisRow.id == CrisisEscalationStep.crisis_id).where(
                _runnable(now), CrisisEscalationStep.due_at <= now,
                CrisisRow.workspace_id.not_in(stopped)).order_by(CrisisEscalationStep.due_at))
            return [(crisis_id, step) for crisis_id, step in rows]

    # ----- policies and stepping away -------------------------------------------------------------

    def policy(self, team_id: int) -> Policy:
        with self._db.session_scope() as session:
            row = session.get(EscalationPolicyRow, team_id)
            if row is None:
                return DEFAULT_POLICY
            steps = tuple(PolicyStep(Target(s["target"]), timedelta(seconds=s["wait_s"]), s.get("kind", "slack")) for s in row.steps)
            return Policy(steps=steps, repeat=row.repeat, still_on_it_after=timedelta(seconds=row.still_on_it_s))

    def save_policy(self, *, team_id: int, policy: Policy, user_id: str, now: datetime) -> None:
        steps = [{"target": s.target.value, "wait_s": int(s.wait.total_seconds()), **({"kind": s.kind} if s.kind != "slack" else {})}
                 for s in policy.steps]
        with self._db.session_scope() as session:
            row = session.get(EscalationPolicyRow, team_id)
            if row is None:
                row = EscalationPolicyRow(team_id=team_id, steps=steps, updated_at=now, updated_by=user_id)
                session.add(row)
            row.steps, row.repeat, row.still_on_it_s = steps, policy.repeat, int(policy.still_on_it_after.total_seconds())
            row.updated_at, row.updated_by = now, user_id

    def set_away(self, *, team_id: int, user_id: str, until: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get(CrisisAway, (team_id, user_id))
            if row is None:
                session.add(CrisisAway(team_id=team_id, user_id=user_id, until=until))
            else:
                row.until = until

    def away(self, *, team_id: int, now: datetime) -> frozenset[str]:
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisAway.user_id).where(CrisisAway.team_id == team_id, CrisisAway.until > now))
            return frozenset(user_id for (user_id,) in rows)

    # ----- topic watches ------------------------------------------------------------------------------

    def watch_topic(self, *, topic_id: int, team_id: int, now: datetime) -> None:
        """Make spikes of the topic page the team (the detector state is kept)."""
        with self._db.session_scope() as session:
            row = session.get(TopicWatch, topic_id)
            if row is None:
                session.add(TopicWatch(topic_id=topic_id, team_id=team_id, updated_at=now))
            else:
                row.team_id, row.updated_at = team_id, now

    def team_for_topic(self, topic_id: int) -> int | None:
        with self._db.session_scope() as session:
            row = session.get(TopicWatch, topic_id)
            return None if row is None else row.team_id

    # ----- mapping ------------------------------------------------------------------------------------

    @staticmethod
    def _crisis(session, row: CrisisRow) -> Crisis:  # noqa: ANN001 - a sqlmodel Session
        assert row.id is not None
        team = session.get(Team, row.team_id)
        responders = session.exec(select(CrisisResponder.user_id).where(CrisisResponder.crisis_id == row.id)
                                  .order_by(CrisisResponder.at)).scalars().all()
        paged = [target for target, method in session.exec(select(CrisisEventRow.target, CrisisEventRow.method).where(
            CrisisEventRow.crisis_id == row.id, CrisisEventRow.kind == EventKind.PAGE.value,
            CrisisEventRow.method.in_(PERSON_PAGE_METHODS)).order_by(CrisisEventRow.at, CrisisEventRow.id)).all()
            if counts_as_person_page(method, target)]
        # The latest assignment names the commander: the timeline is the record, so no column repeats it.
        commander = session.exec(select(CrisisEventRow.target).where(
            CrisisEventRow.crisis_id == row.id, CrisisEventRow.kind == EventKind.ASSIGNED.value)
            .order_by(CrisisEventRow.at.desc(), CrisisEventRow.id.desc()).limit(1)).scalars().first()
        return Crisis(
            id=row.id, team_id=row.team_id, team_name=team.name if team else "", workspace_id=row.workspace_id, topic=row.topic,
            severity=Severity(row.severity), summary=row.summary, origin=row.origin, declared_by=row.declared_by,
            status=Status(row.status), opened_at=row.opened_at, last_activity_at=row.last_activity_at, acked_by=row.acked_by,
            acked_at=row.acked_at, acked_via=row.acked_via, responders=tuple(responders), resolved_by=row.resolved_by,
            resolved_at=row.resolved_at, resolution_note=row.resolution_note, real=row.real, channel=row.channel,
            message_ts=row.message_ts, stats=SpikeStats.from_dict(row.stats), paged=tuple(dict.fromkeys(p for p in paged if p)),
            topic_id=row.topic_id, playbook_ts=row.playbook_ts, team_tz=team.tz if team else "UTC", commander=commander,
        )


class Detection:
    """Topic watches with their persisted detectors, and the negative mentions a crisis card quotes."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def watches(self) -> list[tuple[int, int, str, dict[str, Any] | None, datetime | None]]:
        """Return (topic_id, team_id, topic name, detector state, read_until) for every watched topic."""
        with self._db.session_scope() as session:
            rows = session.exec(select(TopicWatch, TopicRow.name).join(TopicRow, TopicRow.id == TopicWatch.topic_id)
                                .order_by(TopicWatch.topic_id)).all()
            return [(w.topic_id, w.team_id, name, w.detector, w.read_until) for w, name in rows]

    def save_detector(self, *, topic_id: int, state: dict[str, Any], read_until: datetime, now: datetime, expected: datetime | None) -> bool:
        """Store the detector state if nobody else advanced it meanwhile (compare-and-set on read_until)."""
        with self._db.session_scope() as session:
            condition = TopicWatch.read_until.is_(None) if expected is None else TopicWatch.read_until == expected
            result = session.exec(update(TopicWatch).where(TopicWatch.topic_id == topic_id, condition)
                                  .values(detector=state, read_until=read_until, updated_at=now))
            return result.rowcount == 1

    def negative_texts(self, *, topic_id: int, since: datetime, limit: int = 500) -> list[tuple[str, str | None]]:
        """Return (text, declared language) of a topic's newest negative mentions since `since`, for the language mix."""
        with self._db.session_scope() as session:
            rows = session.exec(select(MentionRow.text, MentionRow.language).where(
                MentionRow.topic_id == topic_id, MentionRow.created_at >= since, MentionRow.sentiment_label == "negative")
                .order_by(MentionRow.created_at.desc()).limit(limit)).all()
            return [(text or "", language) for text, language in rows]

    def save_detectors(self, saves: Sequence[tuple[int, dict[str, Any], datetime, datetime | None]], *, now: datetime) -> set[int]:
        """`save_detector` for many topics in one transaction: (topic id, state, read_until, expected); return the ids stored.

        One executemany per kind of condition (10,000 single UPDATEs were 10,000 round trips). When its summed row count
        says some rows lost the compare-and-set (another runner stored them first), ours are the rows now carrying this
        pass's read_until and `now`."""
        stored: set[int] = set()
        table = TopicWatch.__table__
        with self._db.session_scope() as session:
            connection = session.connection()
            for first_pass in (True, False):
                group = [save for save in saves if (save[3] is None) is first_pass]
                if not group:
                    continue
                condition = table.c.read_until.is_(None) if first_pass else table.c.read_until == bindparam("b_expected")
                statement = (update(table).where(table.c.topic_id == bindparam("b_topic"), condition)
                             .values(detector=bindparam("b_state"), read_until=bindparam("b_until"), updated_at=bindparam("b_now")))
                result = connection.execute(statement, [
                    {"b_topic": topic_id, "b_state": state, "b_until": read_until, "b_now": now, "b_expected": expected}
                    for topic_id, state, read_until, expected in group])
                if connection.dialect.supports_sane_multi_rowcount and result.rowcount == len(group):
                    stored.update(topic_id for topic_id, _, _, _ in group)
                    continue
                until_of = {topic_id: read_until for topic_id, _, read_until, _ in group}
                for chunk in range(0, len(group), 1000):
                    ids = list(until_of)[chunk:chunk + 1000]
                    rows = session.exec(select(TopicWatch.topic_id, TopicWatch.read_until, TopicWatch.updated_at)
                                        .where(TopicWatch.topic_id.in_(ids))).all()
                    stored.update(topic_id for topic_id, read_until, updated_at in rows
                                  if read_until == until_of[topic_id] and updated_at == now)
        return stored

    def top_negative_mentions(self, *, topic_id: int, since: datetime, limit: int = 25) -> list[dict[str, Any]]:
        """Return the most-reached negative mentions of a topic since `since`: text, author, reach, url, source, posted_at.

        More than the card shows: it keeps one of each repeated text (bot.crisis.distinct_mentions).
        """
        with self._db.session_scope() as session:
            rows = session.exec(select(MentionRow.text, MentionRow.author, MentionRow.reach, MentionRow.url, MentionRow.source,
                                       MentionRow.created_at).where(
                MentionRow.topic_id == topic_id, MentionRow.created_at >= since, MentionRow.sentiment_label == "negative")
                .order_by(func.coalesce(MentionRow.reach, 0).desc(), MentionRow.created_at.desc()).limit(limit)).all()
            # posted_at as ISO text: the stats are stored as JSON with the crisis.
            return [{"text": text, "author": author, "reach": reach, "url": url, "source": source,
                     "posted_at": posted.astimezone(UTC).isoformat()} for text, author, reach, url, source, posted in rows]
