"""Clients of the paging providers: Twilio (calls and SMS, through the `twilio` package), PagerDuty Events API v2 and
Opsgenie Alerts API (through httpx). Edge module: network I/O; failures become bot.reach's ProviderUnavailable
(429, 5xx, no answer: retried, then handed on) or ProviderRejected (other 4xx).

Each client takes its base URL from the settings, so tests and console mode point them at bot/standin/providers.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.config import ProviderSettings
from bot.flows.reach import CallSender, OpsgenieSender, PagerDutySender, PageSender, SmsSender
from bot.reach import ProviderRejected, ProviderUnavailable, StepKind

TWILIO_API_DEFAULT = "https://api.twilio.com"
PAGERDUTY_EVENTS_DEFAULT = "https://events.pagerduty.com"
OPSGENIE_API_DEFAULT = "https://api.opsgenie.com"
TIMEOUT_S = 5.0
ACK_DIGIT = "1"
TWILIO_GATHER_PATH = "/webhooks/twilio/gather"
PAGERDUTY_WEBHOOK_PATH = "/webhooks/pagerduty"
OPSGENIE_WEBHOOK_PATH = "/webhooks/opsgenie"


def _unavailable_or_rejected(provider: str, status: int, retry_after: str | None, detail: str = "") -> Exception:
    if status == 429 or status >= 500:
        return ProviderUnavailable(provider, status, float(retry_after) if retry_after and retry_after.isdigit() else None)
    return ProviderRejected(provider, status, detail)


def call_twiml(*, spoken: str, gather_url: str) -> str:
    """Return the call's TwiML: say the crisis, then "press 1 to acknowledge" (the digit is posted to `gather_url`)."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=10)
    gather.say(f"{spoken} Press {ACK_DIGIT} to acknowledge.")
    response.append(gather)
    response.say("No key pressed. The escalation goes on.")
    return str(response)


@dataclass
class TwilioPhone:
    """Calls and texts through Twilio's REST API."""

    account_sid: str
    auth_token: str
    from_number: str
    base_url: str = TWILIO_API_DEFAULT

    def __post_init__(self) -> None:
        self._client = Client(self.account_sid, self.auth_token, http_client=TwilioHttpClient(timeout=TIMEOUT_S))
        self._client.api.base_url = self.base_url.rstrip("/")  # the stand-in in tests and console mode

    def call(self, *, to: str, twiml: str, status_callback: str | None = None) -> str:
        """Place a call that plays `twiml`; return its SID."""
        try:
            options = {"status_callback": status_callback} if status_callback else {}
            return self._client.calls.create(to=to, from_=self.from_number, twiml=twiml, **options).sid
        except TwilioRestException as error:
            raise _unavailable_or_rejected("twilio", error.status, None, str(error.msg)) from None
        except requests.RequestException:
            raise ProviderUnavailable("twilio", None) from None

    def sms(self, *, to: str, body: str) -> str:
        """Send a text; return its SID."""
        try:
            return self._client.messages.create(to=to, from_=self.from_number, body=body[:1600]).sid
        except TwilioRestException as error:
            raise _unavailable_or_rejected("twilio", error.status, None, str(error.msg)) from None
        except requests.RequestException:
            raise ProviderUnavailable("twilio", None) from None


def _post(provider: str, url: str, *, json: dict, headers: dict[str, str] | None = None) -> dict:
    try:
        response = httpx.post(url, json=json, headers=headers or {}, timeout=TIMEOUT_S)
    except httpx.HTTPError:
        raise ProviderUnavailable(provider, None) from None
    if response.status_code >= 300:
        raise _unavailable_or_rejected(provider, response.status_code, response.headers.get("retry-after"), response.text[:200])
    return response.json() if response.content else {}


PAGERDUTY_SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning"}


@dataclass
class PagerDutyEvents:
    """PagerDuty Events API v2: trigger, acknowledge and resolve by dedup key."""

    routing_key: str
    base_url: str = PAGERDUTY_EVENTS_DEFAULT

    def trigger(self, *, dedup_key: str, summary: str, severity: str, source: str = "socialops", link: str | None = None) -> str:
        body: dict = {"routing_key": self.routing_key, "event_action": "trigger", "dedup_key": dedup_key,
                      "payload": {"summary": summary[:1024], "source": source, "severity": PAGERDUTY_SEVERITY.get(severity, "error")}}
        if link:
            body["links"] = [{"href": link, "text": "Crisis card"}]
        return str(_post("pagerduty", f"{self.base_url.rstrip('/')}/v2/enqueue", json=body).get("dedup_key", dedup_key))

    def resolve(self, *, dedup_key: str) -> None:
        _post("pagerduty", f"{self.base_url.rstrip('/')}/v2/enqueue",
              json={"routing_key": self.routing_key, "event_action": "resolve", "dedup_key": dedup_key})


OPSGENIE_PRIORITY = {"SEV1": "P1", "SEV2": "P2", "SEV3": "P3"}


@dataclass
class OpsgenieAlerts:
    """Opsgenie Alerts API: create an alert by alias, close it by alias."""

    api_key: str
    base_url: str = OPSGENIE_API_DEFAULT

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self.api_key}"}

    def trigger(self, *, alias: str, message: str, severity: str, description: str = "") -> str:
        _post("opsgenie", f"{self.base_url.rstrip('/')}/v2/alerts", headers=self._headers(),
              json={"message": message[:130], "alias": alias[:512], "description": description[:15000], "source": "socialops",
                    "priority": OPSGENIE_PRIORITY.get(severity, "P2")})
        return alias

    def close(self, *, alias: str) -> None:
        _post("opsgenie", f"{self.base_url.rstrip('/')}/v2/alerts/{alias}/close?identifierType=alias", headers=self._headers(),
              json={"source": "socialops", "note": "Resolved in socialops"})


def page_senders(providers: ProviderSettings, *, public_url: str) -> dict[str, PageSender]:
    """Return step kind → sender for the providers that have credentials (none: Slack is the only step kind)."""
    configured = providers.configured
    senders: dict[str, PageSender] = {}
    if configured.twilio:
        phone = TwilioPhone(providers.twilio_account_sid, providers.twilio_auth_token, providers.twilio_from_number,
                            base_url=providers.twilio_api_url)
        senders[StepKind.call.value] = CallSender(phone, gather_url=lambda page_id: f"{public_url}{TWILIO_GATHER_PATH}?page={page_id}",
                                                  twiml=call_twiml)
        senders[StepKind.sms.value] = SmsSender(phone)
    if configured.pagerduty:
        senders[StepKind.pagerduty.value] = PagerDutySender(PagerDutyEvents(providers.pagerduty_routing_key, base_url=providers.pagerduty_events_url))
    if configured.opsgenie:
        senders[StepKind.opsgenie.value] = OpsgenieSender(OpsgenieAlerts(providers.opsgenie_api_key, base_url=providers.opsgenie_api_url))
    return senders


def code_texter(providers: ProviderSettings) -> TwilioPhone | None:
    """Return what texts verification codes: Twilio when configured, else None (no phone steps are offered then)."""
    if not providers.configured.twilio:
        return None
    return TwilioPhone(providers.twilio_account_sid, providers.twilio_auth_token, providers.twilio_from_number, base_url=providers.twilio_api_url)
