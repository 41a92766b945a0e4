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
        Subcommand("declare", "open a crisis by hand and page the on-call person", arguments="<topic> [sev1|sev2|sev3] [summary]",
                   min_args=1, max_args=None, examples=("/crisis declare acme sev2 influencer video about the recall",)),
        Subcommand("list", "the open crises"),
        Subcommand("status", "a crisis' card and timeline", arguments="[id]", max_args=1),
        Subcommand("ack", "acknowledge a crisis (stops its escalation)", arguments="<id>", min_args=1, max_args=1),
        Subcommand("resolve", "resolve a crisis with a note", arguments="<id> [note]", min_args=1, max_args=None),
        Subcommand("page", "page someone for a crisis", arguments="@who [id]", min_args=1, max_args=2),
        Subcommand("sev", "change a crisis' severity (acknowledger, declarer, responders, on-call, admins)", arguments="<id> sev1|sev2|sev3",
                   min_args=2, max_args=2, examples=("/crisis sev 12 sev1",)),
        Subcommand("assign", "name a crisis' commander (acknowledger, declarer, responders, on-call, admins)", arguments="<id> @who",
                   min_args=2, max_args=2, examples=("/crisis assign 12 @giulia",)),
        Subcommand("stakeholders", "where a team's stakeholder updates go during SEV1/SEV2 crises (admins set it)",
                   arguments="[#channel] [team]", max_args=2, examples=("/crisis stakeholders #exec-updates",)),
        Subcommand("reach", "how you are reached beyond Slack: your phone (verified by a code), call/SMS, quiet-hours rule",
                   arguments="[phone +…|verify CODE|kinds call sms|quiet sev1=phone …]", max_args=None,
                   examples=("/crisis reach phone +39 333 123 4567", "/crisis reach quiet sev1=phone sev2=phone sev3=slack")),
        Subcommand("away", "primary only: new pages go to the backup for a while", arguments="<minutes> (0 = back)", min_args=1, max_args=1),
        Subcommand("watch", "make a listening topic's spikes page a team (admins)", arguments="<topic> [team]", min_args=1, max_args=2),
        Subcommand("note", "add a note to a crisis record (its thread and status show it)", arguments="<id> <text>", min_args=2,
                   max_args=None, examples=("/crisis note 12 statement approved by legal, publishing at 03:40",)),
        Subcommand("playbook", "a team's crisis checklist and holding statements (admins edit them in a form)", arguments="[team]",
                   max_args=1),
        Subcommand("policy", "the team's escalation policy: a form for admins, read-only for others; or set it in one line (admins)",
                   arguments="[primary 5, backup 10, group 15, managers 15]", max_args=None),
        Subcommand("tuning", "a team's detector sensitivity, minimum count, quiet-hours rule and what labels taught each topic; "
                   "admins change them or reset a topic",
                   arguments="[team] [sensitivity=low|normal|high] [min-count=10] [quiet-hours=page|hold-sev3] | [team] reset <topic>",
                   max_args=4, examples=("/crisis tuning social sensitivity=high quiet-hours=hold-sev3", "/crisis tuning reset acme")),
        Subcommand("campaign", "campaign windows: more sensitive detection, first page to primary and backup (admins add/cancel)",
                   arguments="<name> <from> <to> [topic] | list | cancel <id>", max_args=None,
                   examples=("/crisis campaign summer-launch 2026-06-01 09:00 2026-06-03 18:00 acme",)),
        Subcommand("sources", "listening sources, topics and the listening channel (admins)",
                   arguments="[add|rotate|remove|topic|channel|unlisten …]", max_args=None),
    ),
    footer="Crisis cards in the crisis channel carry Acknowledge / I'm responding / Escalate now / Resolve / False alarm buttons.",
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


def parse_channel(word: str, usage: str) -> str:
    """Return the channel id of a `#channel` as Slack escapes it in command text (`<#C123|name>`)."""
    match = _CHANNEL.match(word)
    if match is None:
        raise UsageError(f"{word!r} is not a channel: pick it with #.", usage=usage)
    return match.group(1)


def parse_crisis_id(word: str, usage: str) -> int:
    """Return the crisis number in "12" or "#12"."""
    digits = word.removeprefix("#")
    if not digits.isdigit():
        raise UsageError(f"{word!r} is not a crisis number.", usage=usage)
    return int(digits)


@dataclass(frozen=True)
class DeclareQuery:
    topic: str
    severity_word: str | None
    summary: str


def parse_declare(args: tuple[str, ...]) -> DeclareQuery:
    """Split `<topic> [sev] [summary]`: the second word is a severity when it looks like one."""
    topic, rest = args[0], list(args[1:])
    if rest and re.fullmatch(r"(?i)sev(-?\d+\S*)?", rest[0]) and not re.fullmatch(r"(?i)sev[123]", rest[0]):
        # "sev9 …" would otherwise open a SEV2 whose summary starts with "sev9".
        raise UsageError(f"{rest[0]!r} is not a severity: use sev1, sev2 or sev3.", usage="Usage: " + CRISIS.usage("declare"))
    severity = rest.pop(0) if rest and re.fullmatch(r"(?i)(sev)?[123]", rest[0]) else None
    return DeclareQuery(topic=topic, severity_word=severity, summary=" ".join(rest))
