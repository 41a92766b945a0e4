"""The `/oncall` grammar: every subcommand the bot answers, with its usage and help line."""

from bot.command_grammar import Grammar, Subcommand

ONCALL = Grammar(
    command="/oncall",
    summary="On-call rotation for the social-media team: who is on call, schedules, swaps and cover.",
    subcommands=(
        Subcommand("who", "who is primary, backup and shadow now, until when, and who is next", "[team]", max_args=1, aliases=("now",)),
        Subcommand("schedule", "the final schedule for the coming weeks (read-only)", "[team] [weeks]", max_args=2),
        Subcommand("me", "your next shifts", max_args=0, aliases=("mine",)),
        Subcommand("help", "show this help", aliases=("?", "h")),
    ),
    default="who",
    footer="Dates are read in your own time zone. Nothing here pages anyone; `/crisis` does that.",
)
