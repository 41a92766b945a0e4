"""Shared fixtures: databases (SQLite and PostgreSQL), the Slack stand-in, a built runtime, signed requests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.app import Runtime, create_runtime
from bot.config import Settings, load_settings
from bot.standin.signed_requests import SignedRequests
from bot.standin.web_api import SlackStandIn
from bot.standin.workspace import demo_workspace
from storage.session import Database, sqlite_url
from tests.fakes.slack_spec import SlackSpec

SIGNING_SECRET = "test-signing-secret"
POSTGRES_ADMIN_URL = os.environ.get("SOCIALOPS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _clean_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's real Slack settings out of tests (Bolt reads several of them itself)."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
                 "SLACK_API_URL", "DATABASE_URL", "SOCIALOPS_ADMINS", "PORT"):
        monkeypatch.delenv(name, raising=False)


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"CI=true needs PostgreSQL at {POSTGRES_ADMIN_URL}: {error.orig}")
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL} (set CI=true to make this a failure)")
    schema = f"socialops_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # A schema per test run keeps parallel runs apart; search_path makes every table land in it.
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "socialops.db")
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, for tests about PostgreSQL itself (several processes on one database)."""
    yield from _postgres_schema_url()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def slack_spec() -> SlackSpec | None:
    return SlackSpec.load()


@pytest.fixture
def fake_slack(slack_spec: SlackSpec | None) -> Iterator[SlackStandIn]:
    """The Slack stand-in; every call must pass spec validation (checked at teardown)."""
    standin = SlackStandIn(demo_workspace(), validator=slack_spec.validator() if slack_spec else None)
    with standin:
        yield standin
    assert standin.violations == [], f"Web API calls failed spec validation: {standin.violations}"
    assert_message_contract(standin)


def assert_message_contract(standin: SlackStandIn) -> None:
    """Every message call carried a text fallback and stayed within Block Kit's block counts (contract §6)."""
    for call in standin.calls():
        if call.method in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            assert str(call.args.get("text", "")).strip(), f"{call.method} without a text fallback"
            assert len(call.json_arg("blocks") or []) <= 50, f"{call.method} with more than 50 blocks"
        if call.method in {"views.publish", "views.open", "views.update", "views.push"}:
            assert len((call.json_arg("view") or {}).get("blocks", [])) <= 100, f"{call.method} with more than 100 blocks"


def make_settings(fake_slack: SlackStandIn, **overrides: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "SOCIALOPS_ADMINS": ",".join(u.id for u in fake_slack.workspace.people if u.is_admin),
    } | overrides
    return load_settings(env)


@pytest.fixture
def runtime(fake_slack: SlackStandIn, tmp_path: Path) -> Iterator[Runtime]:
    """The real app from the composition root, on SQLite, talking to the stand-in."""
    built = create_runtime(make_settings(fake_slack), database=Database.from_url(sqlite_url(tmp_path / "app.db")))
    built.start()
    yield built
    built.stop()


@pytest.fixture
def signed(fake_slack: SlackStandIn) -> SignedRequests:
    return SignedRequests.for_workspace(SIGNING_SECRET, fake_slack.workspace, response_url_for=fake_slack.response_url)
