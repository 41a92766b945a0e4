"""Command routing: every subcommand name mapped to its method, with the permission it needs declared beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.access import AdminDirectory, require_admin
from bot.command_grammar import Grammar, ParsedCommand

Answer = tuple[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Route:
    """One subcommand's method; `admin_only` names the action a non-admin is refused (None: anyone may ask)."""

    handler: Callable[[ParsedCommand, dict[str, Any]], Answer]
    admin_only: str | None = None


def dispatch(routes: Mapping[str, Route], query: ParsedCommand, command: dict[str, Any], admins: AdminDirectory) -> Answer:
    """Check the route's permission, then answer with its method (a NotAllowed is answered by handlers.replies)."""
    route = routes[query.name]
    if route.admin_only is not None:
        require_admin(admins, command["user_id"], action=route.admin_only)
    return route.handler(query, command)


def unrouted(grammar: Grammar, routes: Mapping[str, Route]) -> set[str]:
    """Return the grammar's subcommands no route answers (a test keeps this empty)."""
    return {sub.name for sub in grammar.subcommands} - set(routes)
