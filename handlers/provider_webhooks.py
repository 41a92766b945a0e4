"""The providers' webhooks: a key pressed on a socialops call, and PagerDuty/Opsgenie acknowledgements.

Each is verified before anything is read (a bad signature is 401/403 JSON, a bad body 400 JSON); an acknowledgement
is recorded once through bot/flows/reach.py (providers retry webhooks) and the card follows after the answer.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.twiml.voice_response import VoiceResponse

from bot.config import ProviderSettings
from bot.flows.reach import acknowledge_from_provider
from bot.provider_clients import OPSGENIE_WEBHOOK_PATH, PAGERDUTY_WEBHOOK_PATH, TWILIO_GATHER_PATH
from bot.provider_webhooks import (
    OPSGENIE_SECRET_HEADER, opsgenie_acknowledged_alias, opsgenie_authentic, pagerduty_acknowledged_key, pagerduty_signed,
    pressed_acknowledge, twilio_signed,
)
from handlers.deps import Deps

MAX_BODY_BYTES = 64 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _twiml(text: str) -> Response:
    response = VoiceResponse()
    response.say(text)
    return Response(str(response), media_type="text/xml")


def routes(deps: Deps, providers: ProviderSettings, *, public_url: str) -> list[Route]:
    """Return the webhook routes of the configured providers (none for a provider without credentials)."""

    def _acknowledge(kind: str, external_id: str) -> bool:
        found = acknowledge_from_provider(kind, external_id, ledger=deps.provider_pages, crises=deps.crises, audit=deps.audit, now=deps.clock())
        if found is None:
            return False
        deps.run_later(lambda: deps.crisis_flow.after_change(found.id))
        return found.acked_by is not None

    async def twilio_gather(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body too large")
        try:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))  # Twilio posts application/x-www-form-urlencoded
        except UnicodeDecodeError:
            return _error(400, "the form is not UTF-8")
        # Twilio signs the URL it requested: ours as configured (a proxy may rewrite the Host it shows us).
        url = f"{public_url}{TWILIO_GATHER_PATH}" + (f"?{request.url.query}" if request.url.query else "")
        if not twilio_signed(providers.twilio_auth_token, url=url, params=form, signature=request.headers.get("x-twilio-signature", "")):
            return _error(403, "bad or missing X-Twilio-Signature")
        if not form.get("CallSid"):
            return _error(400, "CallSid is missing")
        if not pressed_acknowledge(form):
            return _twiml("Not acknowledged. The escalation goes on.")
        acknowledged = await run_in_threadpool(_acknowledge, "call", form["CallSid"])
        return _twiml("Acknowledged. Thank you." if acknowledged else "This page is no longer waiting for you.")

    async def pagerduty(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body too large")
        if not pagerduty_signed(providers.pagerduty_webhook_secret, body=body, header=request.headers.get("x-pagerduty-signature", "")):
            return _error(401, "bad or missing X-PagerDuty-Signature")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "malformed JSON")
        key = pagerduty_acknowledged_key(payload)
        if key is None:
            return JSONResponse({"ok": True, "ignored": True})
        acknowledged = await run_in_threadpool(_acknowledge, "pagerduty", key)
        return JSONResponse({"ok": True, "acknowledged": acknowledged})

    async def opsgenie(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body too large")
        if not opsgenie_authentic(providers.opsgenie_webhook_secret, header=request.headers.get(OPSGENIE_SECRET_HEADER, "")):
            return _error(401, f"bad or missing {OPSGENIE_SECRET_HEADER}")
        try:
            payload: Any = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "malformed JSON")
        alias = opsgenie_acknowledged_alias(payload)
        if alias is None:
            return JSONResponse({"ok": True, "ignored": True})
        acknowledged = await run_in_threadpool(_acknowledge, "opsgenie", alias)
        return JSONResponse({"ok": True, "acknowledged": acknowledged})

    configured = providers.configured
    found: list[Route] = []
    if configured.twilio:
        found.append(Route(TWILIO_GATHER_PATH, twilio_gather, methods=["POST"]))
    if configured.pagerduty and providers.pagerduty_webhook_secret:
        found.append(Route(PAGERDUTY_WEBHOOK_PATH, pagerduty, methods=["POST"]))
    if configured.opsgenie and providers.opsgenie_webhook_secret:
        found.append(Route(OPSGENIE_WEBHOOK_PATH, opsgenie, methods=["POST"]))
    return found
