"""Checking and reading the providers' webhooks: Twilio's <Gather> answer (X-Twilio-Signature, twilio's
RequestValidator), PagerDuty V3 webhooks (X-PagerDuty-Signature: v1=HMAC-SHA256 of the body) and Opsgenie's
webhook integration (it cannot sign: a shared secret in a custom header, compared in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from bot.provider_clients import ACK_DIGIT

OPSGENIE_SECRET_HEADER = "X-Socialops-Webhook-Secret"


def twilio_signed(auth_token: str, *, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether Twilio signed this form post to `url` (the URL exactly as Twilio requested it, query included)."""
    return bool(auth_token and signature) and RequestValidator(auth_token).validate(url, dict(params), signature)


def pressed_acknowledge(params: Mapping[str, str]) -> bool:
    return params.get("Digits", "").strip() == ACK_DIGIT


def pagerduty_signed(secret: str, *, body: bytes, header: str) -> bool:
    """Whether one of the header's `v1=` signatures is the HMAC-SHA256 of the body under our webhook secret."""
    if not secret or not header:
        return False
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


def pagerduty_acknowledged_key(payload: Any) -> str | None:
    """Return the incident key (our dedup key) of an `incident.acknowledged` event; None for anything else."""
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or event.get("event_type") != "incident.acknowledged":
        return None
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    key = data.get("incident_key")
    return key if isinstance(key, str) and key else None


def opsgenie_authentic(secret: str, *, header: str) -> bool:
    return bool(secret and header) and hmac.compare_digest(secret.encode(), header.encode())


def opsgenie_acknowledged_alias(payload: Any) -> str | None:
    """Return the alert alias (our dedup key) of an `Acknowledge` action; None for anything else."""
    if not isinstance(payload, dict) or payload.get("action") != "Acknowledge" or not isinstance(payload.get("alert"), dict):
        return None
    alias = payload["alert"].get("alias")
    return alias if isinstance(alias, str) and alias else None
