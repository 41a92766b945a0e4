"""The `/crisis` grammar: manual crisis commands, with their usage and help line."""

from bot.command_grammar import Grammar, Subcommand

CRISIS = Grammar(
    command="/crisis",
    summary="Crisis alerts: negative-mention spikes page the on-call person; these commands handle them by hand.",
    subcommands=(
        Subcommand("help", "show this help", aliases=("?", "h")),
    ),
    footer="Crisis cards in the crisis channel carry Acknowledge / I'm responding / Resolve buttons.",
)
