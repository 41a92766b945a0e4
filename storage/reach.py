"""Each person's phone and quiet-hours reach (bot.reach.ReachStore), and the ledger of provider pages (one row per
crisis, step, person and kind: sent once, retried, handed on, acknowledged)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.reach import PendingCode, PersonReach, ProviderPage, QuietRule, StepKind
from storage.session import Database
from storage.tables import PersonReachRow, ProviderPage as ProviderPageRow


class PersonReachStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _row(self, session, workspace_id: str, user_id: str, now: datetime) -> PersonReachRow:  # noqa: ANN001 - a Session
        row = session.get(PersonReachRow, (workspace_id, user_id))
        if row is None:
            row = PersonReachRow(workspace_id=workspace_id, user_id=user_id, updated_at=now)
            session.add(row)
        return row

    def person_reach(self, workspace_id: str, user_id: str) -> PersonReach | None:
        with self._db.session_scope() as session:
            row = session.get(PersonReachRow, (workspace_id, user_id))
            if row is None:
                return None
            # One JSON column holds the quiet-hours rule ("sev1": "phone", …) and the chosen step kinds ("kinds": ["call"]).
            kinds = tuple(StepKind(k) for k in (row.quiet_rule or {}).get("kinds", [StepKind.call.value, StepKind.sms.value]))
            return PersonReach(workspace_id=workspace_id, user_id=user_id, phone=row.phone, phone_verified_at=row.phone_verified_at,
                               quiet=QuietRule.from_dict(row.quiet_rule), kinds=kinds)

    def pending_code(self, workspace_id: str, user_id: str) -> PendingCode | None:
        with self._db.session_scope() as session:
            row = session.get(PersonReachRow, (workspace_id, user_id))
            if row is None or row.code_hash is None or row.phone is None or row.code_expires_at is None:
                return None
            return PendingCode(phone=row.phone, code_hash=row.code_hash, expires_at=row.code_expires_at, attempts=row.code_attempts)

    def start_verification(self, *, workspace_id: str, user_id: str, phone: str, code_hash: str, expires_at: datetime, now: datetime) -> None:
        """A new number is unverified until its code comes back (the old one stops ringing at once)."""
        with self._db.session_scope() as session:
            row = self._row(session, workspace_id, user_id, now)
            row.phone, row.phone_verified_at, row.code_hash, row.code_expires_at, row.code_attempts = phone, None, code_hash, expires_at, 0
            row.updated_at = now

    def count_code_attempt(self, *, workspace_id: str, user_id: str) -> int:
        with self._db.session_scope() as session:
            session.exec(update(PersonReachRow).where(PersonReachRow.workspace_id == workspace_id, PersonReachRow.user_id == user_id)
                         .values(code_attempts=PersonReachRow.code_attempts + 1))
            row = session.get(PersonReachRow, (workspace_id, user_id))
            return row.code_attempts if row else 0

    def mark_verified(self, *, workspace_id: str, user_id: str, phone: str, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = self._row(session, workspace_id, user_id, now)
            row.phone, row.phone_verified_at, row.code_hash, row.code_expires_at, row.updated_at = phone, now, None, None, now

    def save_quiet_rule(self, *, workspace_id: str, user_id: str, rule: QuietRule, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = self._row(session, workspace_id, user_id, now)
            row.quiet_rule, row.updated_at = {**(row.quiet_rule or {}), **rule.to_dict()}, now

    def save_kinds(self, *, workspace_id: str, user_id: str, kinds: tuple[StepKind, ...], now: datetime) -> None:
        with self._db.session_scope() as session:
            row = self._row(session, workspace_id, user_id, now)
            row.quiet_rule, row.updated_at = {**(row.quiet_rule or {}), "kinds": [k.value for k in kinds]}, now


def _page(row: ProviderPageRow) -> ProviderPage:
    assert row.id is not None
    return ProviderPage(id=row.id, crisis_id=row.crisis_id, step=row.step, user_id=row.user_id, kind=row.kind, status=row.status,
                        attempts=row.attempts, external_id=row.external_id, created_at=row.created_at, due_at=row.due_at)


class ProviderPages:
    """The provider page ledger: inserts are once per (crisis, step, person, kind); sending is claimed with a lease."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def plan(self, *, crisis_id: int, step: int, user_id: str, kind: str, now: datetime) -> ProviderPage | None:
        """Insert the page as pending; None when it exists already (a repeated step run plans nothing new)."""
        inserted = self._db.insert_once(ProviderPageRow(crisis_id=crisis_id, step=step, user_id=user_id, kind=kind, status="pending",
                                                        created_at=now, due_at=now))
        if not inserted:
            return None
        with self._db.session_scope() as session:
            row = session.exec(select(ProviderPageRow).where(ProviderPageRow.crisis_id == crisis_id, ProviderPageRow.step == step,
                                                             ProviderPageRow.user_id == user_id, ProviderPageRow.kind == kind)).scalars().one()
            return _page(row)

    def get(self, page_id: int) -> ProviderPage | None:
        with self._db.session_scope() as session:
            row = session.get(ProviderPageRow, page_id)
            return None if row is None else _page(row)

    def claim(self, page_id: int, *, now: datetime, lease: timedelta) -> ProviderPage | None:
        """Take a due pending page for sending (one taker wins); the lease lets the sweep retake it if this process dies."""
        with self._db.session_scope() as session:
            result = session.exec(update(ProviderPageRow).where(ProviderPageRow.id == page_id, ProviderPageRow.status == "pending",
                                                                ProviderPageRow.due_at <= now)
                                  .values(status="sending", due_at=now + lease, attempts=ProviderPageRow.attempts + 1))
            if result.rowcount != 1:
                return None
            return _page(session.get_one(ProviderPageRow, page_id))

    def finish(self, page_id: int, *, status: str, at: datetime, external_id: str | None = None, error: str | None = None) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(ProviderPageRow, page_id)
            row.status, row.error = status, (error or None) and error[:200]
            if external_id is not None:
                row.external_id = external_id
            if status == "sent":
                row.sent_at = at

    def retry_at(self, page_id: int, *, due_at: datetime, error: str) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(ProviderPageRow, page_id)
            row.status, row.due_at, row.error = "pending", due_at, error[:200]

    def due(self, now: datetime) -> list[ProviderPage]:
        """Pending pages past their time and sends whose lease ran out (their process died), oldest first."""
        with self._db.session_scope() as session:
            rows = session.exec(select(ProviderPageRow).where(ProviderPageRow.status.in_(("pending", "sending")), ProviderPageRow.due_at <= now)
                                .order_by(ProviderPageRow.due_at)).scalars().all()
            return [_page(r) for r in rows]

    def release_expired(self, now: datetime) -> None:
        with self._db.session_scope() as session:
            session.exec(update(ProviderPageRow).where(ProviderPageRow.status == "sending", ProviderPageRow.due_at <= now).values(status="pending"))

    def for_crisis(self, crisis_id: int) -> list[ProviderPage]:
        with self._db.session_scope() as session:
            rows = session.exec(select(ProviderPageRow).where(ProviderPageRow.crisis_id == crisis_id).order_by(ProviderPageRow.id)).scalars().all()
            return [_page(r) for r in rows]

    def by_external(self, *, kinds: tuple[str, ...], external_id: str) -> ProviderPage | None:
        with self._db.session_scope() as session:
            row = session.exec(select(ProviderPageRow).where(ProviderPageRow.kind.in_(kinds), ProviderPageRow.external_id == external_id)
                               .order_by(ProviderPageRow.id)).scalars().first()
            return None if row is None else _page(row)

    def mark_acked(self, page_id: int, *, at: datetime) -> bool:
        """Record the provider-side acknowledgement once; False when it was recorded already."""
        with self._db.session_scope() as session:
            result = session.exec(update(ProviderPageRow).where(ProviderPageRow.id == page_id, ProviderPageRow.acked_at.is_(None))
                                  .values(acked_at=at, status="acked"))
            return result.rowcount == 1
