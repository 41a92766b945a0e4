"""What an audit record says; storage/audit.py keeps them. Pure: no Slack, no database."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

SYSTEM_ACTOR = "system"


class Via(enum.StrEnum):
    """The path through which a change arrived."""

    slash_command = "slash_command"
    button = "button"
    modal = "modal"
    scheduler = "scheduler"
    api = "api"
    event = "event"
    cli = "cli"


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    via: str
    target: str = ""
    team_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("audit records need an aware timestamp")


class AuditSink(Protocol):
    def record(self, entry: AuditRecord) -> None: ...
