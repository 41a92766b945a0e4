"""A local HTTP stand-in for the Slack Web API: records every call, answers like Slack, fails on cue.

Serves `/api/<method>`, file upload URLs (`/upload/<file_id>`) and response URLs (`/response/<name>`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import mimetypes
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from bot.standin.workspace import SlackUser, Workspace, demo_workspace

Validator = Callable[[str, dict[str, Any]], list[str]]

# Message timestamps are strictly increasing "seconds.micros" strings, like Slack's, from a fixed start.
FIRST_MESSAGE_TS_MICROS = 1_764_000_000_000_100
MESSAGE_TS_STEP_MICROS = 100
# Slack accepts at most 5 posts to one response_url (slack-contract.md §3).
RESPONSE_URL_POST_LIMIT = 5
# A fixed creation time keeps generated payloads stable between runs.
CREATED_EPOCH = 1_700_000_000
# Internal marker in a method's result (never sent): the message it touched was brought back after a restart.
_RECREATED = "_standin_recreated"


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as received, with the stand-in's answer."""

    method: str
    args: dict[str, Any]  # raw as sent: form values stay strings, JSON bodies keep their types
    headers: dict[str, str]  # lower-cased names
    http_verb: str
    received_at: float
    failed: bool = False
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    recreated: bool = False  # the call updated a message from before a restart, which the stand-in brought back

    def json_arg(self, name: str, default: Any = None) -> Any:
        """Return argument `name`, JSON-decoding it when it was sent as a string (form bodies)."""
        value = self.args.get(name, default)
        if isinstance(value, str):
            return json.loads(value)
        return value


@dataclass(frozen=True)
class RecordedResponse:
    """One JSON post to a response URL (what Bolt's `respond()` sends)."""

    name: str
    body: dict[str, Any]
    received_at: float


@dataclass
class _PlannedFailure:
    """A scripted failure for one method, used `remaining` more times."""

    status: int | None
    error: str | None
    retry_after: int | None
    remaining: int


@dataclass
class _Reply:
    """An HTTP answer: status, JSON dict or plain text body, extra headers."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether the answer is a success (HTTP 200 and, for JSON, ok:true)."""
        if self.status != 200:
            return False
        return not isinstance(self.body, dict) or bool(self.body.get("ok"))


# Methods the app calls with its client id and secret instead of a token.
_APP_CREDENTIAL_METHODS = frozenset({"oauth.v2.access"})


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """Return (client_id, client_secret) from an HTTP Basic Authorization header, or None."""
    if not authorization.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(authorization.removeprefix("Basic ").strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _error_reply(error: str, **extra: Any) -> _Reply:
    """Return Slack's usual HTTP 200 `ok:false` answer."""
    return _Reply(200, {"ok": False, "error": error, **extra})


class _SlackErrorReply(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": code}`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _is_true(value: Any) -> bool:
    """Read a boolean the way Slack does from JSON or form values."""
    return value in (True, 1, "1", "true", "True")


def _decoded(value: Any) -> Any:
    """JSON-decode a form-encoded structured argument; pass JSON-body values through."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise _SlackErrorReply("invalid_arguments") from error
    return value


def _required(args: dict[str, Any], name: str, error: str) -> Any:
    """Return a present, non-empty argument or answer with Slack's error code for its absence."""
    value = args.get(name)
    if value in (None, ""):
        raise _SlackErrorReply(error)
    return value


def _comma_list(value: Any) -> list[str]:
    """Split Slack's comma-separated ID lists (JSON lists are accepted too)."""
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def _dm_channel_id(user_id: str) -> str:
    """Return the stable 1:1 DM channel ID the stand-in uses for a user."""
    return "D" + user_id[1:]


class _StandInServer(ThreadingHTTPServer):
    """The HTTP server, carrying a reference to its stand-in for the request handler."""

    daemon_threads = True

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin
        super().__init__(("127.0.0.1", 0), _StandInRequestHandler)


class _StandInRequestHandler(BaseHTTPRequestHandler):
    """Routes every GET and POST to `SlackStandIn._handle_http`."""

    server: _StandInServer

    def do_POST(self) -> None:
        """Hand the request to the stand-in."""
        self.server.standin._handle_http(self)

    def do_GET(self) -> None:
        """Hand the request to the stand-in (Slack accepts GET for most methods)."""
        self.server.standin._handle_http(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        """Stay quiet: console mode prints calls itself and tests read them from `calls()`."""


class SlackStandIn:
    """Local Slack Web API on 127.0.0.1 with a random port; use as a context manager or start()/stop()."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        validator: Validator | None = None,
        bot_token_prefix: str = "xoxb-",
        clock: Callable[[], datetime] | None = None,
        recreate_forgotten_messages: bool = False,
    ) -> None:
        """`clock` makes message timestamps follow it (console time); `recreate_forgotten_messages` lets an update
        of a message posted before this stand-in started, which it cannot know, bring that message back (console
        restarts) instead of answering message_not_found."""
        self.workspace = workspace if workspace is not None else demo_workspace()
        self.clock = clock
        self.recreate_forgotten_messages = recreate_forgotten_messages
        self.validator = validator
        self.bot_token_prefix = bot_token_prefix
        self.violations: list[str] = []
        self.on_call: list[Callable[[RecordedCall], None]] = []
        self.on_response: list[Callable[[RecordedResponse], None]] = []
        self.uploaded_files: dict[str, bytes] = {}
        # One re-entrant lock guards all state: handlers run on the server's request threads.
        self._lock = threading.RLock()
        self._server: _StandInServer | None = None
        self._thread: threading.Thread | None = None
        self._calls: list[RecordedCall] = []
        self._responses: list[RecordedResponse] = []
        self._planned_failures: dict[str, list[_PlannedFailure]] = {}
        self._next_ts_micros = FIRST_MESSAGE_TS_MICROS
        self._ts_salt = random.randrange(1, MESSAGE_TS_STEP_MICROS)
        self._deleted_ts: set[str] = set()  # chat.delete'd here: an update of one of these is a real message_not_found
        self._id_counter = 0
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._reactions: list[tuple[str, str, str]] = []
        self._opened_dms: set[str] = set()
        self._channel_members: dict[str, list[str]] = {
            channel.id: [user.id for user in self.workspace.users if not user.deleted]
            for channel in self.workspace.channels
        }
        self._views: dict[str, dict[str, Any]] = {}
        self._opened_view_ids: list[str] = []
        self._home_views: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {
            group.id: {"handle": group.handle, "name": group.name, "users": list(group.user_ids)}
            for group in self.workspace.usergroups
        }
        self._pending_uploads: dict[str, dict[str, Any]] = {}
        self._completed_files: dict[str, dict[str, Any]] = {}
        # The OAuth v2 install: codes a test hands out, and the workspace each issued bot token belongs to.
        self.client_credentials: tuple[str, str] | None = None
        self._oauth_codes: dict[str, dict[str, str]] = {}
        self._token_teams: dict[str, dict[str, str]] = {}
        self._calling_token: str | None = None
        self._method_handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "oauth.v2.access": self._oauth_v2_access,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.list": self._usergroups_list,
            "usergroups.create": self._usergroups_create,
            "usergroups.users.update": self._usergroups_users_update,
            "usergroups.users.list": self._usergroups_users_list,
            "reactions.add": self._reactions_add,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        """Start serving on a free port in a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError("SlackStandIn is already running")
        self._server = _StandInServer(self)
        # A short poll interval keeps stop() fast; the default 0.5 s adds up over a test suite.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackStandIn:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving."""
        self.stop()

    @property
    def port(self) -> int:
        """Return the port the stand-in listens on."""
        if self._server is None:
            raise RuntimeError("SlackStandIn is not running; call start() or use it as a context manager")
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        """Return `http://127.0.0.1:PORT` with no trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the Web API base URL, ready for `WebClient(base_url=...)`."""
        return f"{self.root_url}/api/"

    def response_url(self, name: str) -> str:
        """Return a response URL whose posts are recorded under `name`."""
        return f"{self.root_url}/response/{name}"

    # ----- scripting and inspection ----------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` get HTTP `status`, or HTTP 200 with `ok:false` `error`."""
        if status is None and error is None:
            raise ValueError("fail() needs an HTTP status, an error code, or both")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._planned_failures.setdefault(method, []).append(
                _PlannedFailure(status=status, error=error, retry_after=retry_after, remaining=times)
            )

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Return the recorded calls, oldest first, optionally only those of one method."""
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 3.0) -> list[RecordedCall]:
        """Wait until `method` was called `count` times (listeners run on background threads)."""
        deadline = time.monotonic() + timeout
        while True:
            matching = self.calls(method)
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                seen = [call.method for call in self.calls()]
                raise AssertionError(
                    f"expected {count} x {method} within {timeout} s, got {len(matching)}; calls: {seen}"
                )
            time.sleep(0.01)

    def reset_calls(self) -> None:
        """Forget recorded calls, response-URL posts and violations (Slack-side state stays)."""
        with self._lock:
            self._calls.clear()
            self._responses.clear()
            self.violations.clear()

    def responses(self, name: str | None = None) -> list[RecordedResponse]:
        """Return the posts to response URLs, oldest first, optionally for one name."""
        with self._lock:
            return [posted for posted in self._responses if name is None or posted.name == name]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return the current messages (after updates and deletes), each with its `channel`."""
        with self._lock:
            channels = [channel] if channel is not None else list(self._messages)
            return [
                {**copy.deepcopy(message), "channel": channel_id}
                for channel_id in channels
                for message in self._messages.get(channel_id, [])
            ]

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return the ephemeral messages posted, each with its `channel` and target `user`."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for message in self._ephemerals
                if channel is None or message["channel"] == channel
            ]

    def reactions(self) -> list[tuple[str, str, str]]:
        """Return the reactions added, as (channel, message ts, emoji name)."""
        with self._lock:
            return list(self._reactions)

    def published_home(self, user_id: str) -> dict[str, Any] | None:
        """Return the last Home tab view published for a user, or None."""
        with self._lock:
            view = self._home_views.get(user_id)
            return copy.deepcopy(view) if view is not None else None

    def opened_views(self) -> list[dict[str, Any]]:
        """Return the modals opened or pushed, oldest first, in their current (updated) state."""
        with self._lock:
            return [copy.deepcopy(self._views[view_id]) for view_id in self._opened_view_ids]

    def completed_files(self) -> list[dict[str, Any]]:
        """Return the files finished with files.completeUploadExternal, oldest first."""
        with self._lock:
            return [copy.deepcopy(info) for info in self._completed_files.values()]

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        """Return the current members of a user group (empty if unknown)."""
        with self._lock:
            group = self._usergroups.get(usergroup_id)
            return list(group["users"]) if group is not None else []

    def snapshot(self) -> dict[str, Any]:
        """Return the Slack-side state a restart would lose (messages, user groups, Homes, counters) as JSON data."""
        with self._lock:
            return copy.deepcopy({
                "next_ts_micros": self._next_ts_micros, "id_counter": self._id_counter, "messages": self._messages,
                "usergroups": self._usergroups, "channel_members": self._channel_members, "opened_dms": sorted(self._opened_dms),
                "home_views": self._home_views, "reactions": [list(r) for r in self._reactions],
            })

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `snapshot` returned, so messages posted before a restart can still be updated."""
        with self._lock:
            state = copy.deepcopy(state)
            self._next_ts_micros = max(self._next_ts_micros, int(state.get("next_ts_micros", 0)))
            self._id_counter = max(self._id_counter, int(state.get("id_counter", 0)))
            self._messages = state.get("messages", {})
            self._usergroups.update(state.get("usergroups", {}))
            self._channel_members.update(state.get("channel_members", {}))
            self._opened_dms = set(state.get("opened_dms", []))
            self._home_views = state.get("home_views", {})
            self._views.update({view["id"]: view for view in self._home_views.values()})
            self._reactions = [tuple(r) for r in state.get("reactions", [])]

    # ----- HTTP plumbing ---------------------------------------------------------------------

    def _handle_http(self, request: _StandInRequestHandler) -> None:
        """Answer one HTTP request, then tell the subscribers."""
        url = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in request.headers.items()}
        section, _, name = url.path.strip("/").partition("/")
        recorded_call: RecordedCall | None = None
        recorded_response: RecordedResponse | None = None
        if section == "api" and name:
            reply, recorded_call = self._answer_api(
                name, query=url.query, body=body, headers=headers, http_verb=request.command
            )
        elif section == "upload" and name and request.command == "POST":
            reply = self._receive_upload(name, body)
        elif section == "response" and name and request.command == "POST":
            reply, recorded_response = self._receive_response_post(name, body)
        else:
            reply = _Reply(404, "not found")
        # Subscribers run before the answer is sent: when the bot's call returns, whatever it caused has
        # already been shown, so console output stays in the order things happened.
        if recorded_call is not None:
            for subscriber in list(self.on_call):
                subscriber(recorded_call)
        if recorded_response is not None:
            for subscriber in list(self.on_response):
                subscriber(recorded_response)
        self._write(request, reply)

    @staticmethod
    def _write(request: _StandInRequestHandler, reply: _Reply) -> None:
        """Send a reply with an exact Content-Length so clients can close the connection cleanly."""
        if isinstance(reply.body, dict):
            payload = json.dumps(reply.body).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        else:
            payload = reply.body.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        request.send_response(reply.status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(payload)))
        for header_name, header_value in reply.headers.items():
            request.send_header(header_name, header_value)
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _parse_args(query: str, content_type: str, body: bytes) -> dict[str, Any]:
        """Merge the query string and a JSON or form body into one argument dict."""
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        media_type = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return args
        if media_type == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            args.update(decoded)
        elif media_type == "application/x-www-form-urlencoded":
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        # Multipart bodies only come from the retired files.upload, which is refused unread.
        return args

    def _answer_api(
        self, method: str, *, query: str, body: bytes, headers: dict[str, str], http_verb: str
    ) -> tuple[_Reply, RecordedCall]:
        """Answer and record one Web API call."""
        token = None
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        try:
            args = self._parse_args(query, headers.get("content-type", ""), body)
        except ValueError:  # includes json.JSONDecodeError
            args = {}
            reply = _error_reply("invalid_json")
        else:
            token = token or args.get("token")
            if method in _APP_CREDENTIAL_METHODS:
                reply = self._decide_app_call(method, args, _basic_credentials(authorization))
            else:
                reply = self._decide(method, args, token)
        recreated = isinstance(reply.body, dict) and bool(reply.body.pop(_RECREATED, False))
        call = RecordedCall(
            method=method,
            args=args,
            headers=headers,
            http_verb=http_verb,
            received_at=time.time(),
            failed=not reply.ok,
            status=reply.status,
            response=reply.body if isinstance(reply.body, dict) else {},
            token=token,
            recreated=recreated,
        )
        with self._lock:
            self._calls.append(call)
        return reply, call

    def _decide(self, method: str, args: dict[str, Any], token: str | None) -> _Reply:
        """Choose the answer: scripted failure, refusal, auth error, validation error, or the real thing."""
        planned = self._take_planned_failure(method)
        if planned is not None:
            return planned
        if method == "files.upload":
            self._add_violation(method, "files.upload was retired by Slack; use files_upload_v2")
            return _error_reply("method_deprecated")
        handler = self._method_handlers.get(method)
        if handler is None:
            self._add_violation(method, "unknown method (not served by the stand-in)")
            return _error_reply("unknown_method")
        if not token:
            return _error_reply("not_authed")
        if not token.startswith(self.bot_token_prefix):
            return _error_reply("invalid_auth")
        if self.validator is not None:
            problems = self.validator(method, {k: v for k, v in args.items() if k != "token"})
            if problems:
                for problem in problems:
                    self._add_violation(method, problem)
                return _error_reply(
                    "invalid_arguments",
                    response_metadata={"messages": [f"[ERROR] {problem}" for problem in problems]},
                )
        with self._lock:
            self._calling_token = token
            try:
                result = handler(args)
            except _SlackErrorReply as error:
                return _error_reply(error.code)
        return _Reply(200, {"ok": True, **result})

    def _decide_app_call(self, method: str, args: dict[str, Any], basic: tuple[str, str] | None) -> _Reply:
        """Answer a method authenticated by the app's client id and secret (HTTP Basic or form fields), not a token."""
        planned = self._take_planned_failure(method)
        if planned is not None:
            return planned
        offered = basic or (str(args.get("client_id", "")), str(args.get("client_secret", "")))
        if self.client_credentials is None or offered[0] != self.client_credentials[0]:
            return _error_reply("invalid_client_id")
        if offered[1] != self.client_credentials[1]:
            return _error_reply("bad_client_secret")
        if self.validator is not None:
            problems = self.validator(method, {k: v for k, v in args.items() if k not in ("client_id", "client_secret")})
            if problems:
                for problem in problems:
                    self._add_violation(method, problem)
                return _error_reply("invalid_arguments")
        with self._lock:
            try:
                result = self._method_handlers[method](args)
            except _SlackErrorReply as error:
                return _error_reply(error.code)
        return _Reply(200, {"ok": True, **result})

    # ----- the OAuth v2 install ----------------------------------------------------------------

    def grant_install(self, code: str, *, team_id: str, team_name: str, installer: str = "U0INSTALL1",
                      scopes: str = "chat:write,commands") -> str:
        """Let `code` be exchanged once (oauth.v2.access) for a new bot token of workspace `team_id`; return that token."""
        with self._lock:
            self._id_counter += 1
            token = f"{self.bot_token_prefix}{team_id}-{self._id_counter:04d}"
            self._oauth_codes[code] = {"token": token, "team_id": team_id, "team_name": team_name, "installer": installer,
                                       "scope": scopes, "bot_user_id": f"U{team_id[1:]}BOT", "bot_id": f"B{team_id[1:]}BOT"}
            return token

    def token_team(self, token: str | None) -> str | None:
        """Return the workspace a token issued by grant_install belongs to (None for the default workspace's tokens)."""
        with self._lock:
            grant = self._token_teams.get(token or "")
            return None if grant is None else grant["team_id"]

    def _oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer oauth.v2.access: a code from grant_install, used once, becomes its bot token."""
        grant = self._oauth_codes.pop(str(args.get("code", "")), None)
        if grant is None:
            raise _SlackErrorReply("invalid_code")
        self._token_teams[grant["token"]] = grant
        return {
            "access_token": grant["token"], "token_type": "bot", "scope": grant["scope"], "bot_user_id": grant["bot_user_id"],
            "app_id": "A0STANDIN1", "team": {"id": grant["team_id"], "name": grant["team_name"]}, "enterprise": None,
            "authed_user": {"id": grant["installer"]}, "is_enterprise_install": False,
        }

    def _take_planned_failure(self, method: str) -> _Reply | None:
        """Consume one scripted failure for `method`, if any is left."""
        with self._lock:
            plans = self._planned_failures.get(method)
            if not plans:
                return None
            plan = plans[0]
            plan.remaining -= 1
            if plan.remaining == 0:
                plans.pop(0)
        headers = {"Retry-After": str(plan.retry_after)} if plan.retry_after is not None else {}
        if plan.status is None:
            return _Reply(200, {"ok": False, "error": plan.error}, headers)
        default_error = "ratelimited" if plan.status == 429 else "fatal_error"
        return _Reply(plan.status, {"ok": False, "error": plan.error or default_error}, headers)

    def _add_violation(self, method: str, problem: str) -> None:
        """Record a contract violation as "method: problem"."""
        with self._lock:
            self.violations.append(f"{method}: {problem}")

    def _receive_upload(self, file_id: str, body: bytes) -> _Reply:
        """Store the bytes posted to an upload URL handed out by files.getUploadURLExternal."""
        with self._lock:
            if file_id not in self._pending_uploads:
                return _Reply(404, "file not found")
            self.uploaded_files[file_id] = body
        # files.slack.com answers a successful upload with plain text like this.
        return _Reply(200, f"OK - {len(body)}")

    def _receive_response_post(self, name: str, body: bytes) -> tuple[_Reply, RecordedResponse | None]:
        """Record a JSON post to a response URL."""
        try:
            payload = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _Reply(400, "invalid_payload"), None
        if not isinstance(payload, dict):
            return _Reply(400, "invalid_payload"), None
        posted = RecordedResponse(name=name, body=payload, received_at=time.time())
        with self._lock:
            self._responses.append(posted)
            if len(self.responses(name)) > RESPONSE_URL_POST_LIMIT:
                self._add_violation(
                    f"response_url {name}", f"more than {RESPONSE_URL_POST_LIMIT} posts to one response_url"
                )
        return _Reply(200, "ok"), posted

    # ----- ID and timestamp generation (callers hold the lock) -------------------------------

    def _next_ts(self) -> str:
        """Return the next message timestamp (never below the clock's time, when there is a clock)."""
        micros = self._next_ts_micros
        if self.clock is not None:
            # The salt (1..99 µs, one per run) keeps this run's stamps off an earlier run's, even at the same console minute.
            micros = max(micros, int(self.clock().timestamp() * 1_000_000) + self._ts_salt)
        self._next_ts_micros = micros + MESSAGE_TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        """Return a fresh Slack-style ID with the given type prefix (V, F, S…)."""
        self._id_counter += 1
        return f"{prefix}0SI{self._id_counter:06d}"

    # ----- Web API methods (run under the lock; return the body without "ok") -----------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer auth.test (for the workspace of a token from grant_install, or the stand-in's own)."""
        grant = self._token_teams.get(self._calling_token or "")
        if grant is not None:
            return {"url": f"https://{grant['team_id'].lower()}.slack.com/", "team": grant["team_name"], "user": "socialops",
                    "team_id": grant["team_id"], "user_id": grant["bot_user_id"], "bot_id": grant["bot_id"], "is_enterprise_install": False}
        workspace = self.workspace
        bot = workspace.user(workspace.bot_user_id)
        return {
            "url": f"https://{workspace.domain}.slack.com/",
            "team": workspace.team_name,
            "user": bot.name if bot is not None else "bot",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _channel_for_posting(self, channel_arg: Any) -> str:
        """Resolve a channel argument the way chat.* methods accept it (ID, #name or user ID)."""
        channel = str(_required({"channel": channel_arg}, "channel", "channel_not_found"))
        by_name = self.workspace.channel_by_name(channel)
        if by_name is not None:
            return by_name.id
        if channel.startswith("#"):
            raise _SlackErrorReply("channel_not_found")
        if channel.startswith(("U", "W")):
            # Posting to a user ID lands in the bot's DM with that user.
            if self.workspace.user(channel) is None:
                raise _SlackErrorReply("channel_not_found")
            return _dm_channel_id(channel)
        # Unknown channel IDs are accepted on purpose: tests often use IDs from inbound payloads.
        return channel

    @staticmethod
    def _require_content(args: dict[str, Any]) -> None:
        """Refuse a message with neither text, blocks, attachments nor markdown_text, as Slack does."""
        if not any(args.get(name) for name in ("text", "blocks", "attachments", "markdown_text")):
            raise _SlackErrorReply("no_text")

    def _bot_message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        """Build the stored message for a bot post."""
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.workspace.bot_user_id,
            "bot_id": self.workspace.bot_id,
            "team": self.workspace.team_id,
            "ts": ts,
        }
        for structured in ("blocks", "attachments", "metadata"):
            if args.get(structured):
                message[structured] = _decoded(args[structured])
        if args.get("markdown_text"):
            message["markdown_text"] = args["markdown_text"]
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        return message

    def _find_message(self, channel: str, ts: Any) -> dict[str, Any]:
        """Return the stored message at `ts` in `channel` or answer message_not_found."""
        for message in self._messages.get(channel, []):
            if message["ts"] == str(ts):
                return message
        if self._forgotten(str(ts)):
            # Posted by an earlier run whose messages were lost: bring it back, so the bot's reference stays good.
            message = {**self._bot_message({}, str(ts)), "recreated": True}
            self._messages.setdefault(channel, []).append(message)
            self._messages[channel].sort(key=lambda m: float(m["ts"]))
            return message
        raise _SlackErrorReply("message_not_found")

    def _forgotten(self, ts: str) -> bool:
        """Tell whether `ts` can only be a message of an earlier run this stand-in does not remember (not deleted here)."""
        if not self.recreate_forgotten_messages or ts in self._deleted_ts:
            return False
        return not any(message["ts"] == ts for messages in self._messages.values() for message in messages)

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer chat.postMessage."""
        channel = self._channel_for_posting(args.get("channel"))
        self._require_content(args)
        ts = self._next_ts()
        message = self._bot_message(args, ts)
        self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer chat.update."""
        channel = self._channel_for_posting(args.get("channel"))
        ts = _required(args, "ts", "message_not_found")
        message = self._find_message(channel, ts)
        self._require_content(args)
        recreated = bool(message.pop("recreated", False))
        if "text" in args:
            message["text"] = args["text"]
        for structured in ("blocks", "attachments", "metadata"):
            if structured in args:
                message[structured] = _decoded(args[structured])
        message["edited"] = {"user": self.workspace.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
            **({_RECREATED: True} if recreated else {}),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer chat.postEphemeral."""
        channel = self._channel_for_posting(args.get("channel"))
        user = str(_required(args, "user", "user_not_in_channel"))
        if self.workspace.user(user) is None:
            raise _SlackErrorReply("user_not_in_channel")
        self._require_content(args)
        ts = self._next_ts()
        message = {**self._bot_message(args, ts), "channel": channel, "target_user": user}
        self._ephemerals.append(message)
        return {"message_ts": ts}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer chat.delete."""
        channel = self._channel_for_posting(args.get("channel"))
        ts = _required(args, "ts", "message_not_found")
        message = self._find_message(channel, ts)
        self._messages[channel].remove(message)
        self._deleted_ts.add(message["ts"])
        return {"channel": channel, "ts": message["ts"]}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer chat.getPermalink."""
        channel = str(_required(args, "channel", "channel_not_found"))
        message_ts = str(_required(args, "message_ts", "message_not_found"))
        # No existence check: the bot asks for permalinks of inbound posts the stand-in never stored.
        permalink = f"https://{self.workspace.domain}.slack.com/archives/{channel}/p{message_ts.replace('.', '')}"
        return {"channel": channel, "permalink": permalink}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer conversations.open."""
        if args.get("channel"):
            return {"channel": {"id": str(args["channel"])}}
        users = _comma_list(args.get("users"))
        if not users:
            raise _SlackErrorReply("users_list_not_supplied")
        if len(users) > 8:
            raise _SlackErrorReply("too_many_users")
        for user_id in users:
            user = self.workspace.user(user_id)
            if user is None:
                raise _SlackErrorReply("user_not_found")
            if user.deleted:
                raise _SlackErrorReply("user_disabled")
        if len(users) == 1:
            channel_id = _dm_channel_id(users[0])
        else:
            channel_id = "G" + "".join(sorted(user_id[-3:] for user_id in users))
        already_open = channel_id in self._opened_dms
        self._opened_dms.add(channel_id)
        channel: dict[str, Any] = {"id": channel_id}
        if _is_true(args.get("return_im")) and len(users) == 1:
            channel.update({"created": CREATED_EPOCH, "is_im": True, "is_org_shared": False, "user": users[0]})
        answer: dict[str, Any] = {"channel": channel}
        if already_open:
            answer.update({"no_op": True, "already_open": True})
        return answer

    def _channel_json(self, channel_id: str, *, include_num_members: bool = False) -> dict[str, Any]:
        """Describe a channel as conversations.info does, or answer channel_not_found."""
        channel = self.workspace.channel(channel_id)
        if channel is not None:
            members = self._channel_members.get(channel.id, [])
            described: dict[str, Any] = {
                "id": channel.id,
                "name": channel.name,
                "name_normalized": channel.name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": channel.is_private,
                "is_archived": False,
                "is_general": False,
                "is_member": self.workspace.bot_user_id in members,
                "created": CREATED_EPOCH,
                "context_team_id": self.workspace.team_id,
            }
            if include_num_members:
                described["num_members"] = len(members)
            return described
        if channel_id.startswith("D") and self.workspace.user("U" + channel_id[1:]) is not None:
            return {"id": channel_id, "is_im": True, "user": "U" + channel_id[1:], "is_open": True,
                    "created": CREATED_EPOCH}
        raise _SlackErrorReply("channel_not_found")

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer conversations.info."""
        channel_id = str(_required(args, "channel", "channel_not_found"))
        include_num_members = _is_true(args.get("include_num_members"))
        return {"channel": self._channel_json(channel_id, include_num_members=include_num_members)}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer conversations.members."""
        channel_id = str(_required(args, "channel", "channel_not_found"))
        described = self._channel_json(channel_id)
        if described.get("is_im"):
            members = [described["user"], self.workspace.bot_user_id]
        else:
            members = list(self._channel_members.get(channel_id, []))
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer conversations.join."""
        channel_id = str(_required(args, "channel", "channel_not_found"))
        channel = self.workspace.channel(channel_id)
        if channel is None:
            raise _SlackErrorReply("channel_not_found")
        if channel.is_private:
            # Bots cannot join private channels by themselves; someone must invite them.
            raise _SlackErrorReply("method_not_supported_for_channel_type")
        members = self._channel_members.setdefault(channel_id, [])
        answer: dict[str, Any] = {}
        if self.workspace.bot_user_id in members:
            answer["warning"] = "already_in_channel"
            answer["response_metadata"] = {"warnings": ["already_in_channel"]}
        else:
            members.append(self.workspace.bot_user_id)
        return {"channel": self._channel_json(channel_id), **answer}

    def _user_json(self, user: SlackUser, *, include_locale: bool = False) -> dict[str, Any]:
        """Describe a member as users.info does, with the zone offset as of now."""
        local_now = datetime.now(ZoneInfo(user.tz))
        offset = local_now.utcoffset()
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": self.workspace.team_id,
        }
        if user.id == self.workspace.bot_user_id:
            profile["bot_id"] = self.workspace.bot_id
        described: dict[str, Any] = {
            "id": user.id,
            "team_id": self.workspace.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            # Slack's label is the long name ("Central European Time"); zoneinfo only knows abbreviations.
            "tz_label": local_now.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": CREATED_EPOCH,
            "profile": profile,
        }
        if include_locale:
            described["locale"] = "en-US"
        return described

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer users.info."""
        user = self.workspace.user(str(_required(args, "user", "user_not_found")))
        if user is None:
            raise _SlackErrorReply("user_not_found")
        return {"user": self._user_json(user, include_locale=_is_true(args.get("include_locale")))}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer users.list."""
        include_locale = _is_true(args.get("include_locale"))
        return {
            "members": [self._user_json(user, include_locale=include_locale) for user in self.workspace.users],
            "cache_ts": CREATED_EPOCH,
            "response_metadata": {"next_cursor": ""},
        }

    def _stored_view(self, view_arg: Any, *, view_id: str, root_view_id: str | None,
                     previous_view_id: str | None) -> dict[str, Any]:
        """Turn a view argument into the view object Slack returns."""
        view = _decoded(view_arg)
        if not isinstance(view, dict) or "type" not in view:
            raise _SlackErrorReply("invalid_arguments")
        return {
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.workspace.team_id,
            "state": {"values": {}},
            "hash": f"{CREATED_EPOCH}.{self._next_id('H')}",
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
            "bot_id": self.workspace.bot_id,
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer views.open."""
        view_id = self._next_id("V")
        stored = self._stored_view(_required(args, "view", "invalid_arguments"), view_id=view_id,
                                   root_view_id=None, previous_view_id=None)
        self._views[view_id] = stored
        self._opened_view_ids.append(view_id)
        return {"view": copy.deepcopy(stored)}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer views.push."""
        previous = self._views[self._opened_view_ids[-1]] if self._opened_view_ids else None
        view_id = self._next_id("V")
        stored = self._stored_view(
            _required(args, "view", "invalid_arguments"),
            view_id=view_id,
            root_view_id=previous["root_view_id"] if previous else None,
            previous_view_id=previous["id"] if previous else None,
        )
        self._views[view_id] = stored
        self._opened_view_ids.append(view_id)
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer views.update."""
        if args.get("view_id"):
            current = self._views.get(str(args["view_id"]))
        elif args.get("external_id"):
            current = next(
                (view for view in self._views.values() if view.get("external_id") == args["external_id"]), None
            )
        else:
            raise _SlackErrorReply("invalid_arguments")
        if current is None:
            raise _SlackErrorReply("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackErrorReply("hash_conflict")
        updated = self._stored_view(
            _required(args, "view", "invalid_arguments"),
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        self._views[current["id"]] = updated
        for user_id, home in self._home_views.items():
            if home["id"] == current["id"]:
                self._home_views[user_id] = updated
        return {"view": copy.deepcopy(updated)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer views.publish."""
        user_id = str(_required(args, "user_id", "invalid_arguments"))
        if self.workspace.user(user_id) is None:
            raise _SlackErrorReply("user_not_found")
        current = self._home_views.get(user_id)
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackErrorReply("hash_conflict")
        # A user's Home tab keeps one view ID across publishes, as in Slack.
        view_id = current["id"] if current is not None else self._next_id("V")
        published = self._stored_view(
            _required(args, "view", "invalid_arguments"), view_id=view_id, root_view_id=None, previous_view_id=None
        )
        self._views[view_id] = published
        self._home_views[user_id] = published
        return {"view": copy.deepcopy(published)}

    def _usergroup_json(self, usergroup_id: str, *, include_users: bool) -> dict[str, Any]:
        """Describe a user group as usergroups.* methods do."""
        group = self._usergroups[usergroup_id]
        described: dict[str, Any] = {
            "id": usergroup_id,
            "team_id": self.workspace.team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": group["name"],
            "description": "",
            "handle": group["handle"],
            "is_external": False,
            "date_create": CREATED_EPOCH,
            "date_update": CREATED_EPOCH,
            "date_delete": 0,
            "auto_type": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(group["users"]),
        }
        if include_users:
            described["users"] = list(group["users"])
        return described

    def _usergroup_id(self, args: dict[str, Any]) -> str:
        """Return the `usergroup` argument if it names a known group, else answer no_such_subteam."""
        usergroup_id = str(_required(args, "usergroup", "no_such_subteam"))
        if usergroup_id not in self._usergroups:
            raise _SlackErrorReply("no_such_subteam")
        return usergroup_id

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer usergroups.list."""
        include_users = _is_true(args.get("include_users"))
        return {
            "usergroups": [
                self._usergroup_json(usergroup_id, include_users=include_users) for usergroup_id in self._usergroups
            ]
        }

    def _usergroups_create(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer usergroups.create."""
        name = str(_required(args, "name", "invalid_name"))
        handle = str(args.get("handle") or name.lower().replace(" ", "-"))
        for group in self._usergroups.values():
            if group["name"] == name:
                raise _SlackErrorReply("name_already_exists")
            if group["handle"] == handle:
                raise _SlackErrorReply("handle_already_exists")
        usergroup_id = self._next_id("S")
        self._usergroups[usergroup_id] = {"handle": handle, "name": name, "users": []}
        return {"usergroup": self._usergroup_json(usergroup_id, include_users=True)}

    def _usergroups_users_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer usergroups.users.update."""
        usergroup_id = self._usergroup_id(args)
        users = _comma_list(args.get("users"))
        if not users:
            raise _SlackErrorReply("no_users_provided")
        if any(self.workspace.user(user_id) is None for user_id in users):
            raise _SlackErrorReply("invalid_users")
        # The list is the group's entire new membership, not an addition.
        self._usergroups[usergroup_id]["users"] = users
        return {"usergroup": self._usergroup_json(usergroup_id, include_users=True)}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer usergroups.users.list."""
        usergroup_id = self._usergroup_id(args)
        return {"users": list(self._usergroups[usergroup_id]["users"])}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer reactions.add."""
        channel = str(_required(args, "channel", "channel_not_found"))
        timestamp = str(_required(args, "timestamp", "message_not_found"))
        name = str(_required(args, "name", "invalid_name"))
        if ":" in name:
            raise _SlackErrorReply("invalid_name")
        reaction = (channel, timestamp, name)
        if reaction in self._reactions:
            raise _SlackErrorReply("already_reacted")
        self._reactions.append(reaction)
        return {}

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer files.getUploadURLExternal."""
        filename = str(_required(args, "filename", "invalid_arguments"))
        try:
            length = int(_required(args, "length", "invalid_arguments"))
        except ValueError as error:
            raise _SlackErrorReply("invalid_arguments") from error
        file_id = self._next_id("F")
        self._pending_uploads[file_id] = {
            "name": filename,
            "length": length,
            "alt_txt": args.get("alt_txt"),
            "snippet_type": args.get("snippet_type"),
        }
        # Slack hands out a files.slack.com URL; ours points back here so files_upload_v2 works end to end.
        return {"upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Answer files.completeUploadExternal."""
        files = _decoded(_required(args, "files", "invalid_arguments"))
        if not isinstance(files, list) or not files:
            raise _SlackErrorReply("invalid_arguments")
        channels = _comma_list(args.get("channels")) or _comma_list(args.get("channel_id"))
        completed = []
        for entry in files:
            file_id = entry.get("id") if isinstance(entry, dict) else None
            if file_id not in self.uploaded_files:
                raise _SlackErrorReply("file_not_found")
            pending = self._pending_uploads[file_id]
            name = pending["name"]
            info = {
                "id": file_id,
                "created": CREATED_EPOCH,
                "timestamp": CREATED_EPOCH,
                "name": name,
                "title": entry.get("title") or name,
                "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
                "user": self.workspace.bot_user_id,
                "size": len(self.uploaded_files[file_id]),
                "is_external": False,
                "url_private": f"https://files.slack.com/files-pri/{self.workspace.team_id}-{file_id}/{name}",
                "channels": channels,
                "initial_comment": args.get("initial_comment"),
                "thread_ts": args.get("thread_ts"),
            }
            self._completed_files[file_id] = info
            completed.append(copy.deepcopy(info))
        return {"files": completed}
