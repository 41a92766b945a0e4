"""Offboarding: when someone leaves, take them out of every rotation and list the access to revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.audit import AuditRecord
from bot.errors import Conflict, NotFound


@dataclass(frozen=True)
class OffboardingTaskInfo:
    id: int
    workspace_id: str
    user_id: str
    team_name: str
    item: str
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class OffboardResult:
    user_id: str
    teams: list[str]
    cancelled_swaps: int
    cancelled_covers: int
    removed_overrides: int
    tasks: list[OffboardingTaskInfo]


class OffboardingStore(Protocol):
    def remove_member_everywhere(self, *, workspace_id: str, user_id: str) -> list[tuple[int, str]]: ...
    def cancel_requests_of(self, *, user_id: str, team_ids: list[int]) -> tuple[int, int]: ...
    def delete_future_overrides_of(self, *, user_id: str, team_ids: list[int], now: datetime) -> int: ...
    def create_offboarding_tasks(self, *, workspace_id: str, user_id: str, team_ids: list[int], now: datetime) -> list[OffboardingTaskInfo]: ...
    def get_offboarding_task(self, task_id: int) -> OffboardingTaskInfo | None: ...
    def confirm_offboarding_task(self, *, task_id: int, user_id: str, now: datetime) -> bool: ...
    def offboarding_tasks_of(self, *, workspace_id: str, user_id: str) -> list[OffboardingTaskInfo]: ...


class Audit(Protocol):
    def record(self, entry: AuditRecord) -> None: ...


def offboard(store: OffboardingStore, audit: Audit, *, actor: str, workspace_id: str, user_id: str, now: datetime, via: str) -> OffboardResult:
    """Remove `user_id` from every roster (their future shifts re-flow), cancel their requests, list what to revoke."""
    teams = store.remove_member_everywhere(workspace_id=workspace_id, user_id=user_id)
    if not teams:
        raise NotFound(f"<@{user_id}> is in no on-call team; nothing to offboard.")
    team_ids = [team_id for team_id, _ in teams]
    swaps, covers = store.cancel_requests_of(user_id=user_id, team_ids=team_ids)
    overrides = store.delete_future_overrides_of(user_id=user_id, team_ids=team_ids, now=now)
    tasks = store.create_offboarding_tasks(workspace_id=workspace_id, user_id=user_id, team_ids=team_ids, now=now)
    result = OffboardResult(user_id=user_id, teams=[name for _, name in teams], cancelled_swaps=swaps, cancelled_covers=covers,
                            removed_overrides=overrides, tasks=tasks)
    audit.record(AuditRecord(at=now, actor=actor, action="offboarded", via=via, target=f"user:{user_id}", team_id=workspace_id,
                             before={"teams": result.teams},
                             after={"teams": [], "cancelled_swaps": swaps, "cancelled_covers": covers, "removed_overrides": overrides,
                                    "checklist": [task.item for task in tasks]}))
    return result


def confirm_task(store: OffboardingStore, audit: Audit, *, workspace_id: str, task_id: int, user_id: str, now: datetime,
                 via: str) -> OffboardingTaskInfo:
    """Record that `user_id` revoked one item's access (admins only; the caller checks)."""
    task = store.get_offboarding_task(task_id)
    # A button value is only an id: one naming another workspace's checklist is treated as unknown.
    if task is None or task.workspace_id != workspace_id:
        raise NotFound("That checklist item no longer exists.")
    if task.confirmed_by is not None or not store.confirm_offboarding_task(task_id=task_id, user_id=user_id, now=now):
        latest = store.get_offboarding_task(task_id)
        raise Conflict(f"Already confirmed by <@{latest.confirmed_by if latest else task.confirmed_by}>.")
    audit.record(AuditRecord(at=now, actor=user_id, action="offboarding_confirmed", via=via, target=f"offboarding:{task_id}",
                             team_id=task.workspace_id, before={"confirmed": False}, after={"confirmed": True, "item": task.item, "person": task.user_id}))
    confirmed = store.get_offboarding_task(task_id)
    assert confirmed is not None
    return confirmed
