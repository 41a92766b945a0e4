"""Burnout guard repository: team limits, sleep-hour offers, rebalancing proposals, and the pages they read.

Accepting an offer and applying a proposal are one conditional UPDATE plus the overrides, in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.burnout import (
    Finding, Limits, Move, OfferStatus, PageRecord, ProposalStatus, RebalanceProposal, SleepOffer,
)
from bot.crisis import EventKind, reached_pages
from storage.rotations import Rotations, _info
from storage.session import Database
from storage.tables import (
    BurnoutLimitsRow, BurnoutOffer, CrisisEventRow, CrisisRow, OverrideRow, RebalanceProposalRow, Team,
)


class Burnout:
    """Implements bot.burnout.LimitStore, OfferStore and ProposalStore."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ----- limits ---------------------------------------------------------------------------------

    def limits(self, team_id: int) -> Limits:
        with self._db.session_scope() as session:
            row = session.get(BurnoutLimitsRow, team_id)
            if row is None:
                return Limits()
            return Limits(sleep_pages=row.sleep_pages, consecutive_weeks=row.consecutive_weeks, weekends_per_month=row.weekends_per_month)

    def save_limits(self, *, team_id: int, limits: Limits, user_id: str, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get(BurnoutLimitsRow, team_id)
            if row is None:
                row = BurnoutLimitsRow(team_id=team_id, sleep_pages=0, consecutive_weeks=0, weekends_per_month=0, updated_at=now, updated_by=user_id)
                session.add(row)
            row.sleep_pages, row.consecutive_weeks, row.weekends_per_month = limits.sleep_pages, limits.consecutive_weeks, limits.weekends_per_month
            row.updated_at, row.updated_by = now, user_id

    # ----- what the guard reads ------------------------------------------------------------------------

    def pages(self, *, team_id: int, since: datetime, until: datetime) -> list[PageRecord]:
        """Return the team's pages that reached a person in [since, until], oldest first (each page once: see reached_pages)."""
        with self._db.session_scope() as session:
            rows = session.exec(select(CrisisEventRow.crisis_id, CrisisEventRow.target, CrisisEventRow.at, CrisisEventRow.method,
                                       CrisisEventRow.delivered)
                                .join(CrisisRow, CrisisRow.id == CrisisEventRow.crisis_id)
                                .where(CrisisRow.team_id == team_id, CrisisEventRow.kind == EventKind.PAGE.value,
                                       CrisisEventRow.at >= since, CrisisEventRow.at <= until)
                                .order_by(CrisisEventRow.at, CrisisEventRow.id)).all()
            return [PageRecord(target, at) for target, at in reached_pages([tuple(row) for row in rows])]

    # ----- sleep-hour offers -------------------------------------------------------------------------

    def record_offer(self, offer: SleepOffer, *, now: datetime) -> SleepOffer | None:
        """Insert the offer; None when this primary shift already has one (the unique key decides across processes)."""
        row = BurnoutOffer(team_id=offer.team.id, primary_user=offer.primary, backup_user=offer.backup, shift_start=offer.shift_start,
                           shift_end=offer.shift_end, sleep_pages=offer.sleep_pages, sleep_limit=offer.limit, offered_at=now)
        if not self._db.insert_once(row):
            return None
        assert row.id is not None
        return self.get_offer(row.id)

    def get_offer(self, offer_id: int) -> SleepOffer | None:
        with self._db.session_scope() as session:
            row = session.get(BurnoutOffer, offer_id)
            if row is None:
                return None
            return SleepOffer(team=_info(session.get_one(Team, row.team_id)), primary=row.primary_user, backup=row.backup_user,
                              shift_start=row.shift_start, shift_end=row.shift_end, sleep_pages=row.sleep_pages, limit=row.sleep_limit,
                              id=row.id, status=row.status, accepted_by=row.accepted_by, accepted_at=row.accepted_at, override_id=row.override_id)

    def accept_offer(self, *, offer_id: int, user_id: str, start: datetime, now: datetime) -> int | None:
        """Mark the offer accepted and make `user_id` primary from `start` to the shift's end; None if already accepted."""
        try:
            with self._db.session_scope() as session:
                claimed = session.exec(update(BurnoutOffer).where(BurnoutOffer.id == offer_id, BurnoutOffer.status == OfferStatus.offered)
                                       .values(status=OfferStatus.accepted, accepted_by=user_id, accepted_at=now))
                if claimed.rowcount != 1:
                    return None
                offer = session.get_one(BurnoutOffer, offer_id)
                override = OverrideRow(team_id=offer.team_id, user_id=user_id, role="primary", start_at=start, end_at=offer.shift_end,
                                       replaces=offer.primary_user, created_at=now, created_by=user_id)
                session.add(override)
                session.flush()
                offer.override_id = override.id
                return override.id
        finally:
            Rotations(self._db).forget_cached()

    # ----- rebalancing proposals ------------------------------------------------------------------------

    def save_proposal(self, proposal: RebalanceProposal, *, now: datetime) -> RebalanceProposal:
        """Store the proposal of this team and handoff once; a rerun (restart, retry) gets the stored one back."""
        row = RebalanceProposalRow(
            team_id=proposal.team.id, handoff=proposal.handoff, created_at=now,
            findings=[{"user": f.user_id, "reason": f.reason} for f in proposal.findings],
            moves=[{"from": m.from_user, "to": m.to_user, "start": m.start.isoformat(), "end": m.end.isoformat()} for m in proposal.moves],
        )
        self._db.insert_once(row)  # False when an earlier run of the same announcement stored it: that one is returned
        with self._db.session_scope() as session:
            stored = session.exec(select(RebalanceProposalRow).where(RebalanceProposalRow.team_id == proposal.team.id,
                                                                     RebalanceProposalRow.handoff == proposal.handoff)).scalar_one()
            return self._proposal(session, stored)

    def get_proposal(self, proposal_id: int) -> RebalanceProposal | None:
        with self._db.session_scope() as session:
            row = session.get(RebalanceProposalRow, proposal_id)
            return None if row is None else self._proposal(session, row)

    def apply_proposal(self, *, proposal_id: int, user_id: str, now: datetime) -> list[int] | None:
        """Mark the proposal applied and add one override per move still ahead; None if it was applied already."""
        try:
            with self._db.session_scope() as session:
                claimed = session.exec(update(RebalanceProposalRow)
                                       .where(RebalanceProposalRow.id == proposal_id, RebalanceProposalRow.status == ProposalStatus.proposed)
                                       .values(status=ProposalStatus.applied, applied_by=user_id, applied_at=now))
                if claimed.rowcount != 1:
                    return None
                row = session.get_one(RebalanceProposalRow, proposal_id)
                overrides = []
                for move in _moves(row.moves):
                    if move.end <= now:
                        continue
                    override = OverrideRow(team_id=row.team_id, user_id=move.to_user, role="primary", start_at=max(move.start, now),
                                           end_at=move.end, replaces=move.from_user, created_at=now, created_by=user_id)
                    session.add(override)
                    overrides.append(override)
                session.flush()
                return [o.id for o in overrides if o.id is not None]
        finally:
            Rotations(self._db).forget_cached()

    @staticmethod
    def _proposal(session, row: RebalanceProposalRow) -> RebalanceProposal:  # noqa: ANN001 - a sqlmodel Session
        return RebalanceProposal(
            team=_info(session.get_one(Team, row.team_id)), handoff=row.handoff,
            findings=tuple(Finding(f["user"], f["reason"]) for f in row.findings), moves=tuple(_moves(row.moves)),
            id=row.id, status=row.status, applied_by=row.applied_by, applied_at=row.applied_at,
        )


def _moves(stored: list[dict]) -> list[Move]:
    return [Move(datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"]), m["from"], m["to"]) for m in stored]
