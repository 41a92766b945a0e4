"""The `socialops` command: picks the run mode, loads `.env`, and turns configuration errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from bot.config import RunMode, Settings, choose_mode, load_settings, require_for
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
    return parser


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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


def _run_socket(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_runtime

    runtime = create_runtime(settings)
    runtime.start()
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
    serve(create_runtime(settings))
    return 0


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "backtest":
        from bot.backtest import main as backtest_main

        return backtest_main(list(args.rest))
    settings = load_settings()
    if args.command == "db":
        return _run_db(settings, args.action)
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
    load_dotenv()
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        print(f"socialops: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
