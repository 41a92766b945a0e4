"""Local stand-ins of Twilio (Calls, Messages), PagerDuty Events API v2 and Opsgenie Alerts API, for tests, benches
and console mode; like the Slack stand-in, they record each request and refuse ones that break the published
request shape (required fields, enums, lengths, auth), and can fail on purpose (429/5xx for a while).

They also play the providers' side of the webhooks: `press_digit` posts a signed Twilio <Gather> answer,
`pagerduty_acknowledged` and `opsgenie_acknowledged` post signed acknowledgements.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

from bot.config import ProviderSettings

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CALLS = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/(Calls|Messages)\.json$")
_CLOSE = re.compile(r"^/v2/alerts/([^/]+)/close$")
PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class ProviderCall:
    """One request a stand-in received: which API (call, sms, pagerduty, opsgenie, opsgenie-close), its fields, the answer."""

    kind: str
    fields: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)
    sid: str | None = None

    @property
    def ok(self) -> bool:
        return self.status < 300


@dataclass
class _Fault:
    status: int
    times: int | None
    until: float | None
    retry_after: int | None


class ProviderStandIn:
    """One HTTP server answering as all three providers; start with `with ProviderStandIn(...) as providers:`."""

    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "twilio-test-token",
                 routing_key: str = "R" * 32, genie_key: str = "genie-test-key", on_line: Callable[[str], None] | None = None) -> None:
        self.account_sid, self.auth_token, self.routing_key, self.genie_key = account_sid, auth_token, routing_key, genie_key
        self.on_line = on_line
        self._calls: list[ProviderCall] = []
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()
        self.twiml: dict[str, str] = {}  # call SID -> the TwiML it was placed with
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: tests read the records instead
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = standin._answer(urlparse(self.path), dict(self.headers), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProviderStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def settings(self, *, pagerduty_webhook_secret: str = "", opsgenie_webhook_secret: str = "") -> ProviderSettings:
        """Return provider settings pointing all three providers at this stand-in (console mode, tests, benches)."""
        return ProviderSettings(twilio_account_sid=self.account_sid, twilio_auth_token=self.auth_token, twilio_from_number="+15550001111",
                                twilio_api_url=self.url, pagerduty_routing_key=self.routing_key, pagerduty_events_url=self.url,
                                pagerduty_webhook_secret=pagerduty_webhook_secret, opsgenie_api_key=self.genie_key, opsgenie_api_url=self.url,
                                opsgenie_webhook_secret=opsgenie_webhook_secret)

    # ----- what tests use ---------------------------------------------------------------------------------

    def calls(self, kind: str | None = None) -> list[ProviderCall]:
        with self._lock:
            return [c for c in self._calls if kind is None or c.kind == kind]

    def fail(self, kind: str, *, status: int = 503, times: int | None = None, seconds: float | None = None,
             retry_after: int | None = None) -> None:
        """Answer `kind` requests with `status`: the next `times`, or for the next `seconds`."""
        with self._lock:
            self._faults[kind] = _Fault(status, times, time.monotonic() + seconds if seconds is not None else None, retry_after)

    def recover(self, kind: str) -> None:
        with self._lock:
            self._faults.pop(kind, None)

    def press_digit(self, call_sid: str, digit: str) -> httpx.Response:
        """Play the callee: post `digit` to the call's <Gather> action, signed as Twilio signs (X-Twilio-Signature)."""
        gather = ElementTree.fromstring(self.twiml[call_sid]).find("Gather")
        assert gather is not None, "the call's TwiML has no <Gather>"
        url = gather.attrib["action"]
        call = next(c for c in self.calls("call") if c.sid == call_sid)
        params = {"CallSid": call_sid, "AccountSid": self.account_sid, "From": call.fields["From"], "To": call.fields["To"], "Digits": digit}
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5)

    @staticmethod
    def pagerduty_acknowledged(url: str, *, dedup_key: str, secret: str, agent: str = "Dana Ops") -> httpx.Response:
        """Post a V3 webhook `incident.acknowledged` for the incident of `dedup_key`, signed with `secret`."""
        body = json.dumps({"event": {"id": uuid.uuid4().hex, "event_type": "incident.acknowledged", "resource_type": "incident",
                                     "agent": {"type": "user_reference", "summary": agent},
                                     "data": {"id": "Q" + uuid.uuid4().hex[:12].upper(), "type": "incident", "status": "acknowledged",
                                              "incident_key": dedup_key}}}).encode()
        signature = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(url, content=body, headers={"content-type": "application/json", "X-PagerDuty-Signature": signature}, timeout=5)

    @staticmethod
    def opsgenie_acknowledged(url: str, *, alias: str, secret: str, username: str = "dana@example.com") -> httpx.Response:
        """Post an Opsgenie webhook `Acknowledge` for the alert `alias`, with the shared secret header the integration sends."""
        body = json.dumps({"action": "Acknowledge", "alert": {"alertId": uuid.uuid4().hex, "alias": alias, "username": username}}).encode()
        return httpx.post(url, content=body, headers={"content-type": "application/json", "X-Socialops-Webhook-Secret": secret}, timeout=5)

    # ----- the APIs -------------------------------------------------------------------------------------------

    def _fault(self, kind: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(kind)
            if fault is None:
                return None
            if fault.until is not None and time.monotonic() >= fault.until:
                del self._faults[kind]
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[kind]
            return fault

    def _record(self, kind: str, fields: dict[str, Any], status: int, sid: str | None = None) -> None:
        with self._lock:
            self._calls.append(ProviderCall(kind, fields, status, sid=sid))

    def _answer(self, url: Any, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        path = url.path
        twilio = _CALLS.match(path)
        if twilio:
            kind = "call" if twilio.group(2) == "Calls" else "sms"
            fields = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            return self._twilio(kind, twilio.group(1), fields, headers)
        body = json.loads(raw or b"{}")
        if path == "/v2/enqueue":
            return self._pagerduty(body)
        if path == "/v2/alerts":
            return self._opsgenie("opsgenie", body, headers)
        close = _CLOSE.match(path)
        if close:
            query = parse_qs(url.query)
            return self._opsgenie("opsgenie-close", {**body, "identifier": close.group(1), "identifierType": query.get("identifierType", ["id"])[0]},
                                  headers)
        return 404, {"message": f"no such stand-in path {path}"}, {}

    def _failure(self, kind: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        fault = self._fault(kind)
        if fault is None:
            return None
        self._record(kind, fields, fault.status)
        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return fault.status, {"message": "stand-in fault", "status": fault.status}, extra

    def _twilio(self, kind: str, account: str, fields: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if account != self.account_sid or not hmac.compare_digest(auth, expected):
            self._record(kind, fields, 401)
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, {}
        failed = self._failure(kind, fields)
        if failed:
            return failed
        problems = []
        if not _E164.match(fields.get("To", "")):
            problems.append("To must be an E.164 number")
        if not fields.get("From"):
            problems.append("From is required")
        if kind == "call" and not any(fields.get(k) for k in ("Url", "Twiml", "ApplicationSid")):
            problems.append("one of Url, Twiml or ApplicationSid is required")
        if kind == "sms" and not (fields.get("Body") or fields.get("MediaUrl")):
            problems.append("Body or MediaUrl is required")
        if kind == "sms" and len(fields.get("Body", "")) > 1600:
            problems.append("Body is longer than 1600 characters")
        if problems:
            self._record(kind, fields, 400)
            return 400, {"code": 21201, "message": "; ".join(problems), "status": 400}, {}
        sid = ("CA" if kind == "call" else "SM") + uuid.uuid4().hex
        self._record(kind, fields, 201, sid)
        if kind == "call":
            self.twiml[sid] = fields.get("Twiml", "")
            spoken = " ".join(s.text or "" for s in ElementTree.fromstring(fields["Twiml"]).iter("Say")) if fields.get("Twiml") else fields.get("Url", "")
            self._line(f"[phone] calling {fields['To']}: {spoken}")
        else:
            self._line(f"[sms] to {fields['To']}: {fields.get('Body', '')}")
        return 201, {"sid": sid, "account_sid": account, "to": fields["To"], "from": fields["From"], "status": "queued"}, {}

    def _pagerduty(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        failed = self._failure("pagerduty", body)
        if failed:
            return failed
        errors = []
        if body.get("routing_key") != self.routing_key:
            errors.append("routing_key is invalid" if len(str(body.get("routing_key", ""))) == 32 else "routing_key must be 32 characters")
        action = body.get("event_action")
        if action not in PAGERDUTY_ACTIONS:
            errors.append("event_action must be trigger, acknowledge or resolve")
        if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
            errors.append("dedup_key is required to acknowledge or resolve")
        if len(str(body.get("dedup_key", ""))) > 255:
            errors.append("dedup_key is longer than 255 characters")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"payload.{name} is required")
            if payload.get("severity") and payload["severity"] not in PAGERDUTY_SEVERITIES:
                errors.append("payload.severity must be critical, error, warning or info")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("payload.summary is longer than 1024 characters")
        if errors:
            self._record("pagerduty", body, 400)
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, {}
        dedup_key = body.get("dedup_key") or uuid.uuid4().hex
        self._record("pagerduty", body, 202, dedup_key)
        self._line(f"[pagerduty] {action} {dedup_key}" + (f": {body['payload']['summary']}" if action == "trigger" else ""))
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, {}

    def _opsgenie(self, kind: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if not hmac.compare_digest(auth, f"GenieKey {self.genie_key}"):
            self._record(kind, body, 401)
            return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": uuid.uuid4().hex}, {}
        failed = self._failure("opsgenie", body)
        if failed:
            return failed
        errors = []
        if kind == "opsgenie":
            if not body.get("message"):
                errors.append("message is required")
            if len(str(body.get("message", ""))) > 130:
                errors.append("message is longer than 130 characters")
            if len(str(body.get("alias", ""))) > 512:
                errors.append("alias is longer than 512 characters")
            if body.get("priority") and body["priority"] not in ("P1", "P2", "P3", "P4", "P5"):
                errors.append("priority must be P1-P5")
        elif body.get("identifierType") not in ("id", "alias", "tiny"):
            errors.append("identifierType must be id, alias or tiny")
        if errors:
            self._record(kind, body, 422)
            return 422, {"message": "; ".join(errors), "took": 0.0, "requestId": uuid.uuid4().hex}, {}
        self._record(kind, body, 202, body.get("alias") or body.get("identifier"))
        self._line(f"[opsgenie] {'alert' if kind == 'opsgenie' else 'close'} {body.get('alias') or body.get('identifier')}"
                   + (f": {body['message']}" if kind == "opsgenie" else ""))
        return 202, {"result": "Request will be processed", "took": 0.01, "requestId": uuid.uuid4().hex}, {}

    def _line(self, text: str) -> None:
        if self.on_line is not None:
            self.on_line(text)
