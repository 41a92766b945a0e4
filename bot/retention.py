"""How long each kind of stored row is kept, and the cut-offs that follow for a purge at `now`.

The audit trail is kept longest (who changed what is asked about long after the fact); per-minute counters feed the
detector's history and the reports; sent outbox rows and the job ledger only guard against doing something twice,
which matters for hours, not months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# A job ledger key must outlive every window in which its job can be planned again (rotation planning looks back
# 24 h, a report may be a day late): a week is the floor.
LEDGER_FLOOR_DAYS = 7


@dataclass(frozen=True)
class RetentionPolicy:
    counter_days: int = 400
    outbox_days: int = 90
    ledger_days: int = 90
    audit_days: int = 730

    def __post_init__(self) -> None:
        for name in ("counter_days", "outbox_days", "ledger_days", "audit_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.ledger_days < LEDGER_FLOOR_DAYS:
            raise ValueError(f"ledger_days must be at least {LEDGER_FLOOR_DAYS}")

    def cutoffs(self, now: datetime) -> RetentionCutoffs:
        """Rows older than these instants may go."""
        if now.tzinfo is None:
            raise ValueError("cutoffs need an aware datetime")
        return RetentionCutoffs(
            counters_before=now - timedelta(days=self.counter_days),
            outbox_before=now - timedelta(days=self.outbox_days),
            ledger_before=now - timedelta(days=self.ledger_days),
            audit_before=now - timedelta(days=self.audit_days),
        )


@dataclass(frozen=True)
class RetentionCutoffs:
    counters_before: datetime
    outbox_before: datetime
    ledger_before: datetime
    audit_before: datetime
