"""What the handlers get from the composition root: use-case collaborators, never raw sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.access import AdminDirectory, EventLedger
from bot.audit import AuditSink
from bot.oncall import RotationStore
from bot.slack_gateway import SlackGateway


@dataclass(frozen=True)
class Deps:
    clock: Callable[[], datetime]
    audit: AuditSink
    admins: AdminDirectory
    events: EventLedger
    slack: SlackGateway
    rotations: RotationStore
