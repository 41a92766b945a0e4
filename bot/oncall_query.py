"""The `/oncall` grammar: every subcommand the bot answers, with its usage and help line."""

from bot.command_grammar import Grammar, Subcommand

ONCALL = Grammar(
    command="/oncall",
    summary="On-call rotation for the social-media team: who is on call, schedules, swaps and cover.",
    subcommands=(
        Subcommand("help", "show this help", aliases=("?", "h")),
    ),
    footer="Dates are read in your own time zone. Nothing here pages anyone; `/crisis` does that.",
)
