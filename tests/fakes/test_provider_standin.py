"""The providers' stand-in refuses requests that break the published shapes, and its webhooks verify as the real ones."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from bot.provider_clients import OpsgenieAlerts, PagerDutyEvents, TwilioPhone, call_twiml
from bot.provider_webhooks import opsgenie_acknowledged_alias, pagerduty_acknowledged_key, pagerduty_signed, twilio_signed
from bot.reach import ProviderRejected, ProviderUnavailable
from bot.standin.providers import ProviderStandIn


@pytest.fixture
def providers():
    with ProviderStandIn() as standin:
        yield standin


def test_requests_breaking_the_published_shapes_are_refused(providers):
    """A Twilio call without a valid To, a PagerDuty trigger without a payload, an over-long Opsgenie message: 4xx, recorded."""
    twilio = httpx.post(f"{providers.url}/2010-04-01/Accounts/{providers.account_sid}/Calls.json", data={"From": "+15550001111", "Twiml": "<Response/>"},
                        auth=(providers.account_sid, providers.auth_token))
    assert twilio.status_code == 400 and "To must be an E.164 number" in twilio.json()["message"]
    pagerduty = httpx.post(f"{providers.url}/v2/enqueue", json={"routing_key": providers.routing_key, "event_action": "trigger"})
    assert pagerduty.status_code == 400 and "payload.summary is required" in pagerduty.json()["errors"]
    with pytest.raises(ProviderRejected):
        OpsgenieAlerts(providers.genie_key, base_url=providers.url).trigger(alias="a", message="", severity="SEV1")
    with pytest.raises(ProviderRejected):
        TwilioPhone(providers.account_sid, "wrong-token", "+15550001111", base_url=providers.url).sms(to="+393331234567", body="x")
    assert [c.status for c in providers.calls()] == [400, 400, 422, 401]


def test_faults_for_a_number_of_requests_then_recovery(providers):
    """Two 429s with Retry-After become ProviderUnavailable carrying it; the third trigger goes through."""
    providers.fail("pagerduty", status=429, times=2, retry_after=7)
    events = PagerDutyEvents(providers.routing_key, base_url=providers.url)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as outage:
            events.trigger(dedup_key="socialops-crisis-1", summary="x", severity="SEV2")
        assert outage.value.retry_after == 7
    assert events.trigger(dedup_key="socialops-crisis-1", summary="x", severity="SEV2") == "socialops-crisis-1"
    assert providers.calls("pagerduty")[-1].fields["payload"]["severity"] == "error"


def test_webhook_signatures_verify_and_tampering_fails():
    """Twilio's signature over URL and form, PagerDuty's v1 HMAC over the body; a changed digit or body fails."""
    from twilio.request_validator import RequestValidator

    url, form = "https://bot.example/webhooks/twilio/gather?page=3", {"CallSid": "CA1", "Digits": "1"}
    signature = RequestValidator("token").compute_signature(url, form)
    assert twilio_signed("token", url=url, params=form, signature=signature)
    assert not twilio_signed("token", url=url, params={**form, "Digits": "2"}, signature=signature)
    body = json.dumps({"event": {"event_type": "incident.acknowledged", "data": {"incident_key": "socialops-crisis-3"}}}).encode()
    header = "v1=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert pagerduty_signed("secret", body=body, header=f"v1=deadbeef, {header}")
    assert not pagerduty_signed("secret", body=body + b" ", header=header) and not pagerduty_signed("", body=body, header=header)
    assert pagerduty_acknowledged_key(json.loads(body)) == "socialops-crisis-3"
    assert pagerduty_acknowledged_key({"event": {"event_type": "incident.triggered"}}) is None
    assert opsgenie_acknowledged_alias({"action": "Acknowledge", "alert": {"alias": "socialops-crisis-3"}}) == "socialops-crisis-3"
    assert opsgenie_acknowledged_alias({"action": "Close", "alert": {"alias": "x"}}) is None
    assert "Press 1 to acknowledge" in call_twiml(spoken="Crisis.", gather_url=url)
