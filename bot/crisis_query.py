"""The `/crisis` grammar: manual crisis commands, with their usage and help line; `/crisis sources` arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.command_grammar import Grammar, Subcommand
from bot.errors import UsageError

SOURCES_USAGE = (
    "`/crisis sources` lists sources, topics (last-hour counts) and listening channels; then:\n"
    "`/crisis sources add NAME [generic|brandwatch|talkwalker|mention|meltwater] [TOPIC]` — new webhook source (token shown once)\n"
    "`/crisis sources rotate NAME` · `/crisis sources remove NAME`\n"
    "`/crisis sources topic NAME acme, #acmefail, acme phone` — create or change a topic's keywords and hashtags\n"
    "`/crisis sources channel #channel [TOPIC]` — read a listening tool's posts there · `/crisis sources unlisten #channel`"
)

CRISIS = Grammar(
    command="/crisis",
    summary="Crisis alerts: negative-mention spikes page the on-call person; these commands handle them by hand.",
    subcommands=(
        Subcommand("help", "show this help", aliases=("?", "h")),
        Subcommand("sources", "listening sources, topics and the listening channel (admins)",
                   arguments="[add|rotate|remove|topic|channel|unlisten …]", max_args=None),
    ),
    footer="Crisis cards in the crisis channel carry Acknowledge / I'm responding / Resolve buttons.",
)

_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
VENDOR_NAMES = ("generic", "brandwatch", "talkwalker", "mention", "meltwater")


@dataclass(frozen=True)
class SourcesQuery:
    action: str  # list, add, rotate, remove, topic, channel, unlisten
    name: str = ""
    vendor: str = "generic"
    topic: str | None = None
    terms: str = ""
    channel_id: str = ""


def parse_sources(args: tuple[str, ...]) -> SourcesQuery:
    """Parse the words after `/crisis sources`; raise UsageError with the usage when they do not fit."""
    if not args or args[0].lower() == "list":
        return SourcesQuery("list")
    action, rest = args[0].lower(), args[1:]
    if action == "add" and 1 <= len(rest) <= 3:
        vendor = rest[1].lower() if len(rest) > 1 else "generic"
        if vendor not in VENDOR_NAMES:
            raise UsageError(f"{rest[1]!r} is not a vendor I map.", usage=SOURCES_USAGE)
        return SourcesQuery("add", name=rest[0], vendor=vendor, topic=rest[2] if len(rest) > 2 else None)
    if action in ("rotate", "remove") and len(rest) == 1:
        return SourcesQuery(action, name=rest[0])
    if action == "topic" and len(rest) >= 2:
        return SourcesQuery("topic", name=rest[0], terms=" ".join(rest[1:]))
    if action in ("channel", "unlisten") and len(rest) in ((1, 2) if action == "channel" else (1,)):
        match = _CHANNEL.match(rest[0])
        if match is None:
            raise UsageError(f"{rest[0]!r} is not a channel: pick it with #.", usage=SOURCES_USAGE)
        return SourcesQuery(action, channel_id=match.group(1), topic=rest[1] if len(rest) > 1 else None)
    raise UsageError(f"I don't know `/crisis sources {' '.join(args)}`.", usage=SOURCES_USAGE)
