"""App Home view builder."""

from typing import Any

from bot.command_grammar import Grammar


def build_home(*, user_id: str, is_admin: bool, grammars: tuple[Grammar, ...]) -> dict[str, Any]:
    """Return the Home tab view for `user_id`."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "socialops"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Hi <@{user_id}>. socialops keeps your social team's on-call rotation and pages the right person when negative mentions spike."}},
        {"type": "divider"},
    ]
    for grammar in grammars:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{grammar.command}* — {grammar.summary}\n" + "\n".join(grammar.help_lines())}})
    role = "You are an *admin*: you can change teams, rosters and policies." if is_admin else "Admins change teams, rosters and policies; everyone can read."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": role}]})
    return {"type": "home", "blocks": blocks}
