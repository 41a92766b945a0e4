"""Log lines: JSON on request with the request or job id of their work, plain text by default, never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs

BOT_TOKEN = "xoxb-2710984437-6042917360529-4Kd8pQvX0mZrT3bYcWe1LhNa"
APP_TOKEN = "xapp-1-A06KX9Z3TQ1-6042917360529-9f3c0e1d2b4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DB_PASSWORD = 'pa"ss\\w0rd-42'  # a quote and a backslash: JSON escaping must not let it through
SOURCE_TOKEN = "so_Qm3v9XrT2bLkP0sYwZ8nHcA4dE6fG1hJ5iK7lM9nO0p"


@pytest.fixture
def captured():
    """Route the root logger to a buffer for one test, then put pytest's own handlers back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()

    def start(log_format: str = "plain", secrets: tuple[str, ...] = (), level: str = "DEBUG") -> io.StringIO:
        logs.configure(level=level, log_format=log_format, secrets=secrets, stream=buffer)
        return buffer

    yield start
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _json_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_and_message(captured):
    """Each record is one JSON object with an ISO UTC time, the level, the logger's name and the formatted message."""
    buffer = captured("json")
    logging.getLogger("socialops.test").warning("outbox item %s gave up: %s", 7, "channel_not_found")
    (line,) = _json_lines(buffer)
    assert line["level"] == "WARNING" and line["logger"] == "socialops.test"
    assert line["message"] == "outbox item 7 gave up: channel_not_found"
    assert line["time"].endswith("Z") and line["time"][:2] == "20"
    assert "request_id" not in line and "job_id" not in line


def test_plain_text_stays_the_default(captured):
    """Without SOCIALOPS_LOG_FORMAT the line is the old `time LEVEL logger: message` text."""
    buffer = captured()
    logging.getLogger("socialops.test").info("hello %s", "there")
    line = buffer.getvalue().strip()
    assert line.endswith(" INFO socialops.test: hello there")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_a_request_id_follows_the_work_into_the_pool(captured):
    """A line logged by after-the-ack work in the pool has the id of the request that submitted it."""
    buffer = captured("json")
    work = logging.getLogger("socialops.work")
    with logs.ContextCarryingPool(max_workers=2) as pool:
        with logs.request_context("req-abc") as chosen:
            work.info("acked")
            pool.submit(work.info, "after the ack").result()
        pool.submit(work.info, "unrelated").result()
    first, second, third = _json_lines(buffer)
    assert chosen == "req-abc"
    assert first["request_id"] == second["request_id"] == "req-abc"
    assert "request_id" not in third


def test_every_job_run_has_its_job_id_and_a_run_id_of_its_own(captured):
    """Two runs of one job share the job id and differ in run id; lines outside a run have neither."""
    buffer = captured("json")
    job_log = logging.getLogger("socialops.job")
    for _ in range(2):
        logs.run_as_job("escalate:12:3", job_log.info, "step ran")
    job_log.info("outside")
    first, second, outside = _json_lines(buffer)
    assert first["job_id"] == second["job_id"] == "escalate:12:3"
    assert first["job_run"] != second["job_run"]
    assert "job_id" not in outside and "job_run" not in outside


def test_a_plain_line_names_its_request(captured):
    """In plain text the request id sits after the logger name."""
    buffer = captured()
    with logs.request_context("req-1"):
        logging.getLogger("socialops.test").info("hi")
    assert " socialops.test [request req-1]: hi" in buffer.getvalue()


SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, DB_PASSWORD, SOURCE_TOKEN)


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_no_secret_reaches_a_line_from_messages_arguments_or_exceptions(captured, log_format):
    """Real-shaped tokens, the signing secret, a database password and Authorization headers are masked wherever they sit."""
    buffer = captured(log_format, secrets=(SIGNING_SECRET, DB_PASSWORD))
    log = logging.getLogger("socialops.leaky")
    log.info("calling Slack with token %s", BOT_TOKEN)
    log.info("socket mode with %s", APP_TOKEN)
    log.info("headers: %s", {"Authorization": f"Bearer {SOURCE_TOKEN}", "Content-Type": "application/json"})
    log.info("verifying with secret %s", SIGNING_SECRET)
    log.warning("database postgresql+psycopg://ops:%s@db:5432/socialops unreachable", DB_PASSWORD)
    log.info("Authorization: Basic dXNlcjpodW50ZXIy")
    try:
        raise RuntimeError(f"invalid_auth for {BOT_TOKEN} (password={DB_PASSWORD})")
    except RuntimeError:
        log.exception("Slack call failed")
    text = buffer.getvalue()
    for secret in SECRETS:
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text  # nor its JSON-escaped form
    assert "dXNlcjpodW50ZXIy" not in text
    assert "RuntimeError: invalid_auth for ***" in text  # the traceback is still there, masked
    assert "application/json" in text  # ordinary words survive
    if log_format == "json":
        lines = _json_lines(buffer)
        assert len(lines) == 7
        assert "Traceback" in lines[-1]["exception"]


def test_the_secrets_to_mask_come_from_variables_named_like_secrets():
    """SLACK_CLIENT_SECRET, *_TOKEN and the DATABASE_URL password are found; short or ordinary values are not."""
    found = logs.secrets_in({
        "SLACK_CLIENT_SECRET": "0123456789abcdef", "SOCIALOPS_METRICS_TOKEN": "metrics-token-1",
        "DATABASE_URL": "postgresql://ops:hunter2hunter@db/socialops", "PORT": "3000", "HOME": "/home/ops",
    }, extra=("xoxb-1",))
    assert set(found) == {"0123456789abcdef", "metrics-token-1", "hunter2hunter", "xoxb-1"}
    redactor = logs.SecretRedactor(found)
    assert redactor.redact("secret 0123456789abcdef at /home/ops") == "secret *** at /home/ops"
