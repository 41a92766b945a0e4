"""Settings read from the environment (and `.env`, loaded by `__main__` only).

Every variable is documented in `.env.example`; a bad value raises ConfigError with one line
that says what is wrong and how to fix it.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.reach import ProvidersConfigured
from bot.retention import RetentionPolicy

SLACK_API_DEFAULT = "https://slack.com/api/"
SQLITE_DEFAULT_NAME = "socialops.db"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class RunMode(enum.StrEnum):
    console = "console"
    socket = "socket"
    http = "http"


def default_data_dir() -> Path:
    """Return where the embedded SQLite file lives when DATABASE_URL is unset."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "socialops"


@dataclass(frozen=True)
class ProviderSettings:
    """Credentials of the paging providers beyond Slack; a provider without them offers no step (README "Phone, SMS, PagerDuty, Opsgenie")."""

    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from_number: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    pagerduty_routing_key: str = field(default="", repr=False)
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_webhook_secret: str = field(default="", repr=False)
    opsgenie_api_key: str = field(default="", repr=False)
    opsgenie_api_url: str = "https://api.opsgenie.com"
    opsgenie_webhook_secret: str = field(default="", repr=False)

    @property
    def configured(self) -> ProvidersConfigured:
        return ProvidersConfigured(twilio=bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number),
                                   pagerduty=bool(self.pagerduty_routing_key), opsgenie=bool(self.opsgenie_api_key))


def _providers(env: Mapping[str, str]) -> ProviderSettings:
    values = {name: env.get(name.upper(), "").strip() for name in ProviderSettings.__dataclass_fields__}
    for name in ("twilio_api_url", "pagerduty_events_url", "opsgenie_api_url"):
        if not values[name]:
            values.pop(name)
        elif not values[name].startswith(("http://", "https://")):
            raise ConfigError(f"{name.upper()} must be an http(s) URL, got {values[name]!r}; leave it unset for the provider's own.")
    sid = values["twilio_account_sid"]
    if sid and not (sid.startswith("AC") and len(sid) == 34):
        raise ConfigError("TWILIO_ACCOUNT_SID must be your Account SID (AC followed by 32 characters, Twilio Console → Account Info).")
    number = values["twilio_from_number"]
    if number and not re.fullmatch(r"\+[1-9]\d{7,14}", number):
        raise ConfigError(f"TWILIO_FROM_NUMBER must be a Twilio number in E.164 form such as +15551234567, got {number!r}.")
    key = values["pagerduty_routing_key"]
    if key and len(key) != 32:
        raise ConfigError("PAGERDUTY_ROUTING_KEY must be the 32-character integration key of an Events API v2 integration.")
    return ProviderSettings(**values)


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_client_id: str = ""  # with the secret: many-workspace mode, OAuth v2 install at /slack/install
    slack_client_secret: str = field(default="", repr=False)
    slack_api_url: str = SLACK_API_DEFAULT
    database_url: str = ""
    admins: tuple[str, ...] = ()
    port: int = 3000
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    log_format: str = "plain"  # SOCIALOPS_LOG_FORMAT: plain text or one JSON object per line (bot/logs.py)
    metrics_token: str = field(default="", repr=False)  # Prometheus' bearer token for GET /metrics; unset: /metrics off
    public_url: str = ""
    mention_retention_days: int = 30
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def many_workspaces(self) -> bool:
        """Whether workspaces install the app themselves (OAuth v2) and each has its own token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_socket_credentials(self) -> bool:
        return bool(self.slack_bot_token and self.slack_app_token)

    def redacted(self) -> dict[str, str]:
        """Return the settings as text with every secret masked, for start-up logs."""
        def mask(value: str) -> str:
            return f"{value[:5]}…(set)" if value else "(unset)"

        return {
            "SLACK_BOT_TOKEN": mask(self.slack_bot_token),
            "SLACK_SIGNING_SECRET": "(set)" if self.slack_signing_secret else "(unset)",
            "SLACK_APP_TOKEN": mask(self.slack_app_token),
            "SLACK_CLIENT_ID": self.slack_client_id or "(unset)",
            "SLACK_CLIENT_SECRET": "(set)" if self.slack_client_secret else "(unset)",
            "SLACK_API_URL": self.slack_api_url,
            "DATABASE_URL": mask_password(self.database_url),
            "SOCIALOPS_ADMINS": ",".join(self.admins) or "(none)",
            "PORT": str(self.port),
        }


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    level = text.strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {text.strip()!r}; leave it unset for INFO.")
    return level


LOG_FORMATS = ("plain", "json")


def _log_format(text: str) -> str:
    chosen = text.strip().lower() or "plain"
    if chosen not in LOG_FORMATS:
        raise ConfigError(f"SOCIALOPS_LOG_FORMAT must be plain or json, got {text.strip()!r}; leave it unset for plain text.")
    return chosen


def mask_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raise ConfigError on the first problem found."""
    env = os.environ if environ is None else environ
    port_text = env.get("PORT", "3000").strip() or "3000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT must be a number between 1 and 65535, got {port_text!r}; set PORT=3000 or another free port.")
    admins = tuple(a.strip() for a in env.get("SOCIALOPS_ADMINS", "").split(",") if a.strip())
    for admin in admins:
        if not _USER_ID.match(admin):
            raise ConfigError(
                f"SOCIALOPS_ADMINS holds {admin!r}, which is not a Slack user ID; use IDs like U012ABCDEF, comma-separated."
            )
    api_url = env.get("SLACK_API_URL", "").strip() or SLACK_API_DEFAULT
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}; leave it unset to use Slack's.")
    if not api_url.endswith("/"):
        api_url += "/"
    database_url = env.get("DATABASE_URL", "").strip()
    if database_url and not database_url.startswith(("sqlite", "postgresql", "postgres://")):
        raise ConfigError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, got {mask_password(database_url)!r}."
        )
    if database_url.startswith("postgres://"):
        # Heroku-style URLs: SQLAlchemy only knows the postgresql:// spelling.
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb- (OAuth & Permissions page of your app).")
    app_token = env.get("SLACK_APP_TOKEN", "").strip()
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information → App-Level Tokens, scope connections:write)."
        )
    client_id = env.get("SLACK_CLIENT_ID", "").strip()
    client_secret = env.get("SLACK_CLIENT_SECRET", "").strip()
    if bool(client_id) != bool(client_secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(f"missing {missing}: the many-workspace install needs both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Basic Information → App Credentials).")
    public_url = env.get("SOCIALOPS_PUBLIC_URL", "").strip().rstrip("/")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"SOCIALOPS_PUBLIC_URL must be an http(s) URL, got {public_url!r}; it is where calendar links point.")
    retention_text = env.get("SOCIALOPS_MENTION_RETENTION_DAYS", "30").strip() or "30"
    if not retention_text.isdigit() or int(retention_text) < 1:
        raise ConfigError(f"SOCIALOPS_MENTION_RETENTION_DAYS must be a whole number of days (at least 1), got {retention_text!r}.")
    return Settings(
        providers=_providers(env),
        retention=_retention(env),
        mention_retention_days=int(retention_text),
        public_url=public_url or f"http://localhost:{int(port_text)}",
        slack_bot_token=bot_token,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
        slack_app_token=app_token,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_api_url=api_url,
        database_url=database_url,
        admins=admins,
        port=int(port_text),
        host=env.get("HOST", "0.0.0.0").strip() or "0.0.0.0",
        log_level=_log_level(env.get("LOG_LEVEL", "")),
        log_format=_log_format(env.get("SOCIALOPS_LOG_FORMAT", "")),
        metrics_token=env.get("SOCIALOPS_METRICS_TOKEN", "").strip(),
    )


RETENTION_SETTINGS = {  # variable -> RetentionPolicy field
    "SOCIALOPS_COUNTER_RETENTION_DAYS": "counter_days",
    "SOCIALOPS_OUTBOX_RETENTION_DAYS": "outbox_days",
    "SOCIALOPS_LEDGER_RETENTION_DAYS": "ledger_days",
    "SOCIALOPS_AUDIT_RETENTION_DAYS": "audit_days",
}


def _retention(env: Mapping[str, str]) -> RetentionPolicy:
    days = {}
    for variable, name in RETENTION_SETTINGS.items():
        text = env.get(variable, "").strip()
        if not text:
            continue
        if not text.isdigit():
            raise ConfigError(f"{variable} must be a whole number of days, got {text!r}.")
        days[name] = int(text)
    try:
        return RetentionPolicy(**days)
    except ValueError as error:
        message = str(error)
        for variable, name in RETENTION_SETTINGS.items():
            message = message.replace(name, variable)
        raise ConfigError(f"{message} days.") from None


def require_for(mode: RunMode, settings: Settings) -> None:
    """Raise ConfigError naming what `mode` needs and is missing."""
    if mode is RunMode.console:
        return
    missing = []
    if not settings.slack_bot_token and not (mode is RunMode.http and settings.many_workspaces):
        missing.append("SLACK_BOT_TOKEN")
    if mode is RunMode.http and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if mode is RunMode.socket and not settings.slack_app_token:
        missing.append("SLACK_APP_TOKEN")
    if missing:
        how = {
            RunMode.http: "HTTP mode needs the signing secret (Basic Information page) and the bot token, or SLACK_CLIENT_ID/SECRET to install in many workspaces",
            RunMode.socket: "Socket Mode needs the bot token and an app-level token (xapp-)",
        }[mode]
        raise ConfigError(f"missing {', '.join(missing)}: {how}; put them in .env or the environment, or run `socialops console` to try it without Slack.")


def choose_mode(settings: Settings) -> RunMode:
    """Pick the transport when no sub-command names one: Socket Mode with credentials, else console."""
    if settings.has_socket_credentials:
        return RunMode.socket
    if settings.slack_bot_token or settings.slack_app_token:
        missing = "SLACK_APP_TOKEN" if settings.slack_bot_token else "SLACK_BOT_TOKEN"
        raise ConfigError(
            f"missing {missing}: Socket Mode needs both SLACK_BOT_TOKEN and SLACK_APP_TOKEN; use `socialops serve` for HTTP mode or unset both for console mode."
        )
    return RunMode.console
