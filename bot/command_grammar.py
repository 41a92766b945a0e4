"""Slash-command grammar declared once: it parses the text and also produces help and usage."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.errors import UsageError


@dataclass(frozen=True)
class Subcommand:
    name: str
    summary: str
    arguments: str = ""  # e.g. "<from> <to> [note]"
    min_args: int = 0
    max_args: int | None = 0  # None: any number (free text)
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse_user(word: str, usage: str) -> str:
    """Return the user ID of a Slack mention as Slack escapes it in command text (`<@U123|name>`)."""
    match = _USER_MENTION.match(word)
    if match is None:
        raise UsageError(f"{word!r} is not a person: mention them with @.", usage=usage)
    return match.group(1)


def parse_number(word: str, *, what: str, usage: str) -> int:
    """Return the number in "12" or "#12"; a UsageError naming `what` otherwise."""
    digits = word.removeprefix("#")
    if not digits.isdigit():
        raise UsageError(f"“{word}” is not a {what}.", usage=usage)
    return int(digits)


def team_and_weeks(args: Sequence[str], *, default: int, usage: str) -> tuple[str | None, int]:
    """Split `[team] [weeks]` (`/oncall schedule`, `/oncall report`): a trailing number is the weeks, one word before it the team."""
    words = list(args)
    weeks = default
    if words and words[-1].isdigit():
        weeks = int(words.pop())
    elif len(words) == 2:
        raise UsageError(f"“{words[-1]}” is not a number of weeks.", usage=usage)
    if len(words) > 1:
        raise UsageError("Too many words.", usage=usage)
    return (words[0] if words else None), weeks


def team_from_and_weeks(args: Sequence[str], *, default: int, usage: str) -> tuple[str | None, list[str], int]:
    """Split `[team] [from <date>] [weeks]` (`/oncall schedule`); the date words are returned unread."""
    words = list(args)
    lowered = [w.lower() for w in words]
    if "from" not in lowered:
        team, weeks = team_and_weeks(words, default=default, usage=usage)
        return team, [], weeks
    at = lowered.index("from")
    before, after = words[:at], words[at + 1:]
    weeks = default
    if len(after) > 1 and after[-1].isdigit():
        weeks = int(after.pop())
    elif before and before[-1].isdigit():
        weeks = int(before.pop())
    if not after:
        raise UsageError("Say from when, e.g. `from 2027-03-20`.", usage=usage)
    if len(before) > 1:
        raise UsageError("Too many words before `from`.", usage=usage)
    return (before[0] if before else None), after, weeks


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: tuple[str, ...]
    raw: str


@dataclass(frozen=True)
class Grammar:
    command: str  # "/oncall"
    summary: str
    subcommands: tuple[Subcommand, ...]
    default: str = "help"  # what an empty text means
    footer: str = ""
    _index: dict[str, Subcommand] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for sub in self.subcommands:
            for key in (sub.name, *sub.aliases):
                self._index[key] = sub

    def usage(self, name: str) -> str:
        """Return the one-line usage of a subcommand."""
        sub = self._index[name]
        return f"`{self.command} {sub.name}{' ' + sub.arguments if sub.arguments else ''}` — {sub.summary}"

    def help_lines(self) -> list[str]:
        return [self.usage(sub.name) for sub in self.subcommands]

    def parse(self, text: str) -> ParsedCommand:
        """Split the command text; raise UsageError (with usage) for unknown or malformed input."""
        text = text or ""
        if '"' not in text and "'" not in text:
            words = text.split()  # the common case; shlex is slow and only needed for quotes
        else:
            try:
                words = shlex.split(text)
            except ValueError:
                # An unbalanced quote is a typo, not a crash: fall back to plain whitespace split.
                words = text.split()
        if not words:
            return ParsedCommand(self.default, (), text or "")
        name, args = words[0].lower(), tuple(words[1:])
        sub = self._index.get(name)
        if sub is None:
            raise UsageError(
                f"I don't know `{self.command} {words[0]}`.",
                usage="\n".join([f"Try one of these ({self.command} help for more):", *self.help_lines()]),
            )
        if len(args) < sub.min_args or (sub.max_args is not None and len(args) > sub.max_args):
            raise UsageError(f"`{self.command} {sub.name}` needs different arguments.", usage="Usage: " + self.usage(sub.name))
        return ParsedCommand(sub.name, args, text)
