"""Log set-up: plain text by default, one JSON object per line with SOCIALOPS_LOG_FORMAT=json; every line carries the
request id (a Slack request or webhook) or job id (one scheduled run) of the work it belongs to, and no secret.

The ids live in contextvars: set where work starts (the ASGI app, a Bolt middleware, the scheduler's pool) and carried
into the work pool by `ContextCarryingPool`. Redaction is done by the formatters on the finished text of each line
(message, arguments and traceback alike), so a secret inside an exception's message is masked too.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from pythonjsonlogger.json import JsonFormatter

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
REQUEST_ID_HEADER = "x-request-id"

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("socialops_request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("socialops_job_id", default=None)
job_run: contextvars.ContextVar[str | None] = contextvars.ContextVar("socialops_job_run", default=None)

# Shapes of secrets even when their value is not configured here (another workspace's token, a pasted header).
SECRET_SHAPES = (
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+"), MASK),  # Slack bot/user/refresh tokens
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), MASK),  # Slack app-level tokens
    (re.compile(r"\bso_[A-Za-z0-9_-]{16,}"), MASK),  # listening-source tokens (bot.mentions.new_token)
    (re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|token)\s+)?[^\s'\",;]+"),
     lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), lambda m: f"{m.group(1)} {MASK}"),
    (re.compile(r"://([^:/@\s'\"]+):[^@\s'\"]+@"), rf"://\1:{MASK}@"),  # passwords in database URLs
    (re.compile(r"(?i)\b(password|passwd|secret|client_secret|token)=[^\s&'\",;]+"), rf"\1={MASK}"),
)
# Environment variables whose values are secrets wherever they appear (SLACK_CLIENT_SECRET, PGPASSWORD, ...).
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY")
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


class SecretRedactor:
    """Masks known secret values and anything shaped like a token, a bearer header or a URL password."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        for pattern, replacement in SECRET_SHAPES:
            text = pattern.sub(replacement, text)
        return text


def secrets_in(environ: Mapping[str, str], *, extra: Iterable[str] = ()) -> list[str]:
    """Return the secret values to mask: every variable named like a secret, the DATABASE_URL password, and `extra`."""
    found = [value.strip() for name, value in environ.items() if _SECRET_NAME.search(name.upper()) and value.strip()]
    password = re.search(r"://[^:/@]+:([^@]+)@", environ.get("DATABASE_URL", ""))
    if password:
        found.append(password.group(1))
    return [*found, *extra]


class _AddIds(logging.Filter):
    """Copy the current request, job and run ids onto the record (only those that are set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("job_id", job_id), ("job_run", job_run)):
            value = var.get()
            if value is not None:
                setattr(record, name, value)
        return True


class PlainFormatter(logging.Formatter):
    """The default text format, redacted, with `[request …]` or `[job …]` after the logger when one is set."""

    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__(PLAIN_FORMAT)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tag = _tag(record)
        if tag:
            line = line.replace(f" {record.name}: ", f" {record.name} [{tag}]: ", 1)
        return self._redactor.redact(line)


def _tag(record: logging.LogRecord) -> str:
    if getattr(record, "request_id", None):
        return f"request {record.request_id}"
    if getattr(record, "job_id", None):
        return f"job {record.job_id} run {getattr(record, 'job_run', '-')}"
    return ""


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the ids that are set, extras, and the traceback."""

    ORDER = ("time", "level", "logger", "message", "request_id", "job_id", "job_run")

    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__(
            ["levelname", "name", "message"], rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
            timestamp="time", reserved_attrs=[*_RESERVED, "color_message"],  # uvicorn's coloured copy of the message
        )
        self._redactor = redactor

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data["time"] = log_data["time"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ordered = {key: log_data.pop(key) for key in self.ORDER if key in log_data}
        ordered.update(log_data)
        return {key: self._redact(value) for key, value in ordered.items()}

    def _redact(self, value: Any) -> Any:
        # Before serialising: a secret with a quote or backslash would no longer match once JSON-escaped.
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, list | tuple):
            return [self._redact(item) for item in value]
        if isinstance(value, dict):
            return {key: self._redact(item) for key, item in value.items()}
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._redactor.redact(str(value))


_RESERVED = tuple(vars(logging.LogRecord("", 0, "", 0, "", None, None))) + ("message", "asctime", "taskName")


def configure(*, level: str, log_format: str = "plain", secrets: Iterable[str] = (), stream: Any = None) -> logging.Handler:
    """Send every logger's records to one handler on `stream` (stderr) in `log_format`; return that handler."""
    redactor = SecretRedactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_AddIds())
    handler.setFormatter(JsonLineFormatter(redactor) if log_format == "json" else PlainFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def request_context(value: str | None = None) -> Iterator[str]:
    """Run the enclosed work under a request id (the given one, or a fresh one)."""
    chosen = value or new_id()
    token = request_id.set(chosen)
    try:
        yield chosen
    finally:
        request_id.reset(token)


T = TypeVar("T")


def run_as_job(job: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one scheduled job's work with its job id and a fresh run id in the log context."""
    job_token, run_token = job_id.set(job), job_run.set(new_id())
    try:
        return work(*args, **kwargs)
    finally:
        job_run.reset(run_token)
        job_id.reset(job_token)


def tag_slack_request(next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt injects middleware arguments by name
    """Bolt middleware: a request id for Slack requests that did not come through the HTTP app (Socket Mode, console)."""
    if request_id.get() is not None:
        return next()
    with request_context():
        return next()


class ContextCarryingPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context, so after-the-ack work keeps its request id."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIds:
    """ASGI middleware: each HTTP request runs under a request id (a sane X-Request-ID from the load balancer, or a
    fresh one) and answers with it in X-Request-ID."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        offered = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        with request_context(offered if _SAFE_REQUEST_ID.match(offered) else None) as chosen:
            async def send_with_id(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), chosen.encode())]
                await send(message)

            await self._app(scope, receive, send_with_id)
