"""In-memory stand-ins for the small ports the pure use cases take (one of each for the whole suite)."""

from __future__ import annotations

from bot.audit import AuditRecord


class MemoryAudit:
    """An AuditSink that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)

    def actions(self) -> list[str]:
        return [r.action for r in self.records]
