"""Which Slack workspace the current unit of work acts for: one request, one job, one outbox item.

The edges set it (the Bolt App's dispatch from the request's team, each job from the row it loads, the outbox from
the row's key); storage reads it to key admins, time off and outbox rows, and the Slack gateway to pick the token.
A context variable, so concurrent requests and job threads never see each other's workspace; work handed to a
pool carries it along only through `carry_scope` (contextvars are per thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import ParamSpec, TypeVar

# Unset means the unscoped default: single-workspace deployments and tools that never name one.
UNSCOPED = ""

_current: ContextVar[str] = ContextVar("socialops_workspace", default=UNSCOPED)

P = ParamSpec("P")
R = TypeVar("R")


def current_workspace() -> str:
    """Return the workspace (team) ID the running unit of work acts for, or UNSCOPED."""
    return _current.get()


@contextmanager
def acting_for(workspace_id: str | None) -> Iterator[str]:
    """Run the block on behalf of `workspace_id` (None or "" keeps the current one)."""
    if not workspace_id:
        yield _current.get()
        return
    token = _current.set(workspace_id)
    try:
        yield workspace_id
    finally:
        _current.reset(token)


def carry_scope(work: Callable[P, R]) -> Callable[P, R]:
    """Return `work` bound to the caller's context, so a pool thread acts for the same workspace."""
    context = copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(work, *args, **kwargs)

    return run
