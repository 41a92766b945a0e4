"""The `/oncall` grammar: every subcommand the bot answers, with its usage and help line."""

from bot.command_grammar import Grammar, Subcommand

ONCALL = Grammar(
    command="/oncall",
    summary="On-call rotation for the social-media team: who is on call, schedules, swaps and cover.",
    subcommands=(
        Subcommand("who", "who is primary, backup and shadow now, until when, and who is next", "[team]", max_args=1, aliases=("now",)),
        Subcommand("schedule", "the final schedule for the coming weeks (read-only), or from a date", "[team] [from <date>] [weeks]", max_args=5),
        Subcommand("me", "your next shifts", max_args=0, aliases=("mine",)),
        Subcommand("cover", "ask the team to cover your on-call time; the first to press Take gets it", "<from> <to> [note]", min_args=2, max_args=None),
        Subcommand("swap", "offer @other your next primary shift for theirs at <date> (a date alone: their shift that day); they accept or decline", "@other <date>", min_args=2, max_args=3),
        Subcommand("away", "time off: every team skips you over the range; `away list` shows yours, `away cancel <id>` cancels one",
                   "<from> <to> | list | cancel <id>", min_args=1, max_args=4),
        Subcommand("back", "end the time off you are on now", max_args=0),
        Subcommand("pause", "keep a member in the roster but skip them (admins for others)", "[@who]", max_args=1),
        Subcommand("resume", "end a pause", "[@who]", max_args=1),
        Subcommand("override", "admins: make @who primary over a range", "@who <from> <to> [team]", min_args=3, max_args=6),
        Subcommand("setup", "admins: create or change a team (opens a form)", "[team]", max_args=1),
        Subcommand("calendar", "your personal iCal subscription URL", "[team]", max_args=1, aliases=("ical",)),
        Subcommand("offboard", "admins: remove someone from every rotation and list the accounts to revoke", "@who", min_args=1, max_args=1),
        Subcommand("limits", "burnout limits: show them, or (admins) change them", "[team] [sleep-pages=N] [weeks=N] [weekends=N]", max_args=4),
        Subcommand("report", "crises, response times and load per person for the last weeks (charts by DM); "
                   "admins: `report settings channel|admins|off [team]` sets where the weekly report goes",
                   "[team] [weeks]", max_args=3),
        Subcommand("export", "admins: CSV files of crises, pages, acknowledgements and the audit trail, sent to your DM (default: last 30 days)",
                   "[from] [to]", max_args=4),
        Subcommand("admins", "who the admins are; admins add or remove one (audited; the last admin cannot remove themselves)",
                   "[add|remove @who]", max_args=2),
        Subcommand("help", "show this help", aliases=("?", "h")),
    ),
    default="who",
    footer="Dates are read in your own time zone: 2026-12-24 08:00, friday 17:00, today, tomorrow, next week, +3d. "
    "Nothing here pages anyone; `/crisis` does that.",
)
