"""Configuration: defaults, mode choice, and one-line errors for every misconfiguration."""

import os
import subprocess
import sys

import pytest

from bot.config import SLACK_API_DEFAULT, RunMode, choose_mode, load_settings, require_for
from bot.errors import ConfigError


def test_empty_environment_gives_console_mode_with_slack_defaults():
    """No credentials at all means the embedded console mode."""
    settings = load_settings({})
    assert choose_mode(settings) is RunMode.console
    assert settings.slack_api_url == SLACK_API_DEFAULT
    assert settings.port == 3000


def test_both_tokens_choose_socket_mode():
    """SLACK_BOT_TOKEN plus SLACK_APP_TOKEN selects Socket Mode."""
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert choose_mode(settings) is RunMode.socket


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"SOCIALOPS_ADMINS": "alice"}, "SOCIALOPS_ADMINS"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "xoxb-"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "xapp-"),
    ],
)
def test_bad_values_raise_one_line_errors(env, needle):
    """Each bad value is named in a single-line message."""
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_half_socket_credentials_name_the_missing_token():
    """A bot token without an app token is a mistake, not silently console mode."""
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        choose_mode(load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}))


def test_http_mode_requires_signing_secret():
    """HTTP mode cannot verify Slack without the signing secret."""
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        require_for(RunMode.http, load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}))


def test_postgres_urls_use_the_psycopg_driver():
    """postgres:// and postgresql:// both become SQLAlchemy's psycopg URL."""
    assert load_settings({"DATABASE_URL": "postgres://u:p@h/db"}).database_url == "postgresql+psycopg://u:p@h/db"


def test_redacted_settings_never_show_secrets():
    """Start-up logs print settings without tokens or passwords."""
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-secret-value", "SLACK_SIGNING_SECRET": "topsecret",
                              "DATABASE_URL": "postgresql://u:hunter2@h/db"})
    shown = " ".join(settings.redacted().values())
    assert "secret-value" not in shown and "topsecret" not in shown and "hunter2" not in shown


def test_cli_misconfiguration_prints_one_line_and_no_traceback(tmp_path):
    """`socialops serve` with no tokens exits 2 with one clear line on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"PORT": "3000", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SLACK_BOT_TOKEN" in lines[0] and "Traceback" not in result.stderr
