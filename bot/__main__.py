"""The `socialops` command: picks the run mode, loads `.env`, and turns configuration errors into one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from dotenv import find_dotenv, load_dotenv
from sqlalchemy.exc import OperationalError

from bot.config import RunMode, Settings, choose_mode, load_settings, mask_password, require_for
from bot.errors import ConfigError

log = logging.getLogger("socialops")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socialops",
        description="On-call rotation and crisis alerts for social-media teams, in Slack. "
        "With no sub-command: Socket Mode when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set, console mode otherwise.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    console = sub.add_parser("console", help="try the bot against a built-in demo workspace (no Slack needed)")
    console.add_argument("--reset", action="store_true", help="start the demo afresh (deletes the console database)")
    console.add_argument("--db", metavar="PATH", help="SQLite file for console mode (default: in the user data folder)")
    sub.add_parser("serve", help="HTTP mode: Slack requests at POST /slack/events, GET /healthz, on $PORT")
    sub.add_parser("socket", help="Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"], help="upgrade to the newest schema, go back one step, or show the revision")
    backtest = sub.add_parser("backtest", help="replay historical counts through the spike detector", add_help=False)
    backtest.add_argument("rest", nargs=argparse.REMAINDER)
    importer = sub.add_parser("import", help="import mentions from a CSV or JSON Lines export: import mentions FILE --source NAME", add_help=False)
    importer.add_argument("rest", nargs=argparse.REMAINDER)
    sources = sub.add_parser("sources", help="listening sources that may post mentions (add prints the token once)")
    sources.add_argument("action", choices=["list", "add", "rotate", "remove", "topic"],
                         help="list; add NAME; rotate NAME (new token); remove NAME; topic NAME 'keyword, #hashtag' (create or update a topic)")
    sources.add_argument("name", nargs="?")
    sources.add_argument("terms", nargs="?", help="for topic: comma-separated keywords and #hashtags")
    sources.add_argument("--vendor", default="generic", choices=["generic", "brandwatch", "talkwalker", "mention", "meltwater"])
    sources.add_argument("--workspace", default="", help="Slack workspace (team) ID the source or topic belongs to")
    sources.add_argument("--topic", help="for add: the topic mentions go to when no keyword matches")
    reading = sub.add_parser("sentiment", help="read texts (one a line) on standard input, write negative|neutral|positive|unknown a line")
    reading.add_argument("--json", action="store_true", help="one JSON object a line: label, language, score, confidence, analyser")
    export = sub.add_parser("export", help="write CSV files of crises, pages, acknowledgements and the audit trail for a time range")
    export.add_argument("--from", dest="start", required=True, metavar="WHEN", help="start, ISO date or date-time (UTC unless it has an offset)")
    export.add_argument("--to", dest="end", required=True, metavar="WHEN", help="end (exclusive), ISO date or date-time")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write crises.csv, pages.csv, acknowledgements.csv, audit.csv into")
    export.add_argument("--team", help="only this team's crises, pages and audit records (its name)")
    export.add_argument("--workspace", help="Slack workspace (team) ID, when team names repeat across workspaces")
    return parser


def _instant(text: str) -> datetime:
    """Read an ISO date or date-time; without an offset it is UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _run_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the same four CSV files `/oncall export` uploads."""
    from pathlib import Path

    from bot.app import database_url
    from bot.export import file_rows, write_csvs
    from storage import migrate
    from storage.reports import Reports
    from storage.session import Database

    try:
        start, end = _instant(args.start), _instant(args.end)
    except argparse.ArgumentTypeError as error:
        print(f"socialops export: {error}", file=sys.stderr)
        return 2
    if end <= start:
        print("socialops export: --to must be after --from", file=sys.stderr)
        return 2
    database = Database.from_url(database_url(settings))
    try:
        migrate.upgrade(database.engine)
        store = Reports(database)
        team_id = None
        if args.team:
            team_id = store.find_team_id(args.team, args.workspace)
            if team_id is None:
                print(f"socialops export: no single team called {args.team!r} (add --workspace if the name repeats)", file=sys.stderr)
                return 2
        export = store.export(start=start, end=end, workspace_id=args.workspace, team_id=team_id)
    finally:
        database.dispose()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = {name: len(rows) for name, rows in file_rows(export).items()}
    for name, text in write_csvs(export).items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"{out / name}: {counts[name]} rows")
    return 0


def _setup_logging(settings: Settings) -> None:
    from bot import logs

    # The settings' own secrets, and any other variable named like one (e.g. a client secret or PGPASSWORD).
    secrets = logs.secrets_in(os.environ, extra=(settings.slack_bot_token, settings.slack_app_token,
                                                 settings.slack_signing_secret, settings.metrics_token))
    logs.configure(level=settings.log_level, log_format=settings.log_format, secrets=secrets)


def _run_db(settings: Settings, action: str) -> int:
    from bot.app import database_url
    from storage import migrate
    from storage.session import Database

    database = Database.from_url(database_url(settings))
    try:
        if action == "upgrade":
            migrate.upgrade(database.engine)
        elif action == "downgrade":
            migrate.downgrade(database.engine)
        print(f"database at revision {migrate.current_revision(database.engine) or '(empty)'}; newest is {migrate.head_revision()}")
    finally:
        database.dispose()
    return 0


def _run_sources(settings: Settings, args: argparse.Namespace) -> int:
    """Administer listening sources and topics from the shell; a new token is printed once and stored hashed."""
    from datetime import UTC, datetime

    from bot import mentions
    from bot.app import database_url
    from bot.errors import SocialopsError
    from storage import migrate
    from storage.mentions import Mentions
    from storage.session import Database

    if args.action != "list" and not args.name:
        print(f"socialops sources {args.action}: a NAME is needed", file=sys.stderr)
        return 2
    database = Database.from_url(database_url(settings))
    try:
        migrate.upgrade(database.engine)
        store, now = Mentions(database), datetime.now(UTC)
        if args.action == "list":
            for source in store.sources():
                print(f"{source.name}\t{source.vendor}\tworkspace {source.workspace_id or '-'}")
        elif args.action == "topic":
            keywords, hashtags = mentions.parse_terms(args.terms or args.name)
            topic = store.save_topic(workspace_id=args.workspace, name=args.name, keywords=keywords, hashtags=hashtags, now=now)
            print(f"topic {topic.name}: keywords {', '.join(topic.keywords) or '-'}; hashtags {', '.join('#' + h for h in topic.hashtags) or '-'}")
        elif args.action == "remove":
            store.remove_source(args.name, workspace_id=args.workspace)
            print(f"source {args.name} removed; its token no longer works")
        else:
            token = mentions.new_token()
            if args.action == "add":
                topic_id = store.topic_by_name(workspace_id=args.workspace, name=args.topic).id if args.topic else None
                store.add_source(name=args.name, vendor=args.vendor, workspace_id=args.workspace,
                                 token_hash=mentions.hash_token(token), now=now, default_topic_id=topic_id)
            else:
                store.update_source(name=args.name, workspace_id=args.workspace, token_hash=mentions.hash_token(token))
            print(f"source {args.name}: token {token}\n(shown once; send it as Authorization: Bearer <token> to POST /api/mentions)")
    except SocialopsError as error:
        print(f"socialops sources: {error}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    return 0


def _run_socket(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_runtime

    runtime = create_runtime(settings)
    runtime.start()
    runtime.freeze_startup_heap()
    log.info("socialops in Socket Mode (%s)", ", ".join(f"{k}={v}" for k, v in settings.redacted().items()))
    try:
        SocketModeHandler(runtime.app, settings.slack_app_token).start()
    finally:
        runtime.stop()
    return 0


def _run_http(settings: Settings) -> int:
    from bot.app import create_runtime
    from bot.server import serve

    log.info("socialops in HTTP mode on port %s (%s)", settings.port, ", ".join(f"{k}={v}" for k, v in settings.redacted().items()))
    return serve(create_runtime(settings))


def run(argv: Sequence[str]) -> int:
    # backtest and import have their own parsers; hand them the words directly, since a REMAINDER argument
    # cannot start with an option, so `import --help` would otherwise be "unrecognized arguments".
    if list(argv[:1]) == ["backtest"]:
        from bot.backtest import main as backtest_main

        return backtest_main(list(argv[1:]))
    if list(argv[:1]) == ["import"]:
        from bot.mention_import import main as import_main

        return import_main(list(argv[1:]))
    args = build_parser().parse_args(argv)
    if args.command == "backtest":
        from bot.backtest import main as backtest_main

        return backtest_main(list(args.rest))
    if args.command == "import":
        from bot.mention_import import main as import_main

        return import_main(list(args.rest))
    if args.command == "sentiment":
        from bot.sentiment_cli import read_lines

        return read_lines(sys.stdin, sys.stdout, as_json=args.json)
    settings = load_settings()
    if args.command == "db":
        return _run_db(settings, args.action)
    if args.command == "sources":
        return _run_sources(settings, args)
    if args.command == "export":
        return _run_export(settings, args)
    mode = {"console": RunMode.console, "serve": RunMode.http, "socket": RunMode.socket}.get(args.command) or choose_mode(settings)
    require_for(mode, settings)
    _setup_logging(settings)
    if mode is RunMode.console:
        # Console output is the conversation; keep library chatter out of it.
        logging.getLogger().setLevel(logging.WARNING)
        from bot.console import run_console

        return run_console(settings, reset=getattr(args, "reset", False), db_path=getattr(args, "db", None))
    if mode is RunMode.socket:
        return _run_socket(settings)
    return _run_http(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `socialops` console script."""
    # The .env of the folder socialops is started in (python-dotenv would otherwise search from this package's folder).
    load_dotenv(find_dotenv(usecwd=True))
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        print(f"socialops: configuration error: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        # An unreachable or refusing database: one line naming where (never the password), not a traceback.
        target = mask_password(os.environ.get("DATABASE_URL", "")) or "the embedded SQLite file"
        reason = str(error.orig or error).strip().splitlines()[0]
        print(f"socialops: cannot reach the database ({target}): {reason}; check DATABASE_URL and that the server is running.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head` that closed early: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
