"""Help message builder shared by every slash command (built once per grammar: it never changes)."""

from functools import cache
from typing import Any

from bot.blocks.limits import fit_message
from bot.command_grammar import Grammar


@cache
def build_help(grammar: Grammar) -> tuple[str, list[dict[str, Any]]]:
    """Return (fallback text, blocks) listing every subcommand of `grammar`."""
    lines = grammar.help_lines()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{grammar.command} help"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": grammar.summary}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    if grammar.footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": grammar.footer}]})
    return fit_message(f"{grammar.command} help: " + "; ".join(lines), blocks)


def build_usage(message: str, usage: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) for a refused command: what went wrong and the right form."""
    text = f"{message}\n{usage}".strip()
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
