"""Paging beyond Slack, end to end with the providers' stand-in: a number verified by a texted code, a call whose
"press 1" (a signed Twilio webhook) acknowledges, the PagerDuty/Opsgenie hand-off at the group step acknowledged
through their signed webhooks and resolved with the crisis, a provider outage handed to the next step, and no step
kind without credentials."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from bot import jobs
from bot.app import create_runtime
from bot.server import BackgroundServer, build_asgi_app
from bot.standin.providers import ProviderStandIn
from handlers import provider_webhooks
from storage.crises import Crises
from storage.reach import ProviderPages
from storage.session import Database, sqlite_url
from bot.standin.signed_requests import SignedRequests
from tests.conftest import SIGNING_SECRET, make_settings
from tests.handlers.test_crisis_flow import (  # noqa: F401 - fixtures
    CHLOE, GIULIA, MARCUS, PRIYA, T0, Clock, advance, channel_posts, declare_and_settle, dms, make_team, slash, wait_until,
)

CHLOE_PHONE, PRIYA_PHONE = "+393331234567", "+393337654321"
PD_SECRET, OPSGENIE_SECRET = "pd-webhook-secret", "opsgenie-webhook-secret"
POLICY = "primary 5 call, backup 10, group 15 pagerduty, managers 15 opsgenie"


class LateApp:
    """An ASGI app set after the server has its port (the runtime's public URL must name that port)."""

    app = None

    async def __call__(self, scope, receive, send):  # noqa: ANN001, ANN204
        await self.app(scope, receive, send)


@pytest.fixture
def providers():
    with ProviderStandIn() as standin:
        yield standin


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def reach_runtime(fake_slack, providers, tmp_path, clock):
    """The app with all three providers pointed at the stand-in, served over HTTP for the webhooks; jobs run by hand."""
    late = LateApp()
    with BackgroundServer(late) as server:
        settings = make_settings(
            fake_slack, SOCIALOPS_PUBLIC_URL=server.url,
            TWILIO_ACCOUNT_SID=providers.account_sid, TWILIO_AUTH_TOKEN=providers.auth_token, TWILIO_FROM_NUMBER="+15550001111",
            TWILIO_API_URL=providers.url, PAGERDUTY_ROUTING_KEY=providers.routing_key, PAGERDUTY_EVENTS_URL=providers.url,
            PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, OPSGENIE_API_KEY=providers.genie_key, OPSGENIE_API_URL=providers.url,
            OPSGENIE_WEBHOOK_SECRET=OPSGENIE_SECRET)
        built = create_runtime(settings, clock=clock, database=Database.from_url(sqlite_url(tmp_path / "reach.db")))
        built.bind_jobs()
        late.app = build_asgi_app(built)
        make_team(built.database)
        built.server_url = server.url  # type: ignore[attr-defined]
        signed = SignedRequests.for_workspace(SIGNING_SECRET, fake_slack.workspace, response_url_for=fake_slack.response_url)
        answer = slash(built, signed, f"policy {POLICY}", GIULIA)
        assert "is now: primary 5 call, backup 10, group 15 pagerduty, managers 15 opsgenie" in answer["text"], answer
        yield built
        built.stop()


def verify_phone(runtime, signed, providers, user, number):
    answer = slash(runtime, signed, f"reach phone {number}", user)
    assert "I texted a code" in answer["text"]
    wait_until(lambda: any(c.fields["To"] == number for c in providers.calls("sms")))
    text = [c for c in providers.calls("sms") if c.fields["To"] == number][-1].fields["Body"]
    code = re.search(r"\b(\d{6})\b", text).group(1)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    assert "not the one I sent" in slash(runtime, signed, f"reach verify {wrong}", user)["text"]
    assert "is verified" in slash(runtime, signed, f"reach verify {code}", user)["text"]


def test_verified_primary_is_called_and_pressing_1_acknowledges(reach_runtime, signed, fake_slack, providers, clock):
    """Chloe verifies her number; the SEV1 page calls it with "press 1"; her signed keypress acknowledges the crisis."""
    verify_phone(reach_runtime, signed, providers, CHLOE, CHLOE_PHONE)
    declare_and_settle(reach_runtime, signed, fake_slack)
    (call,) = providers.calls("call")
    assert call.fields["To"] == CHLOE_PHONE and "Press 1 to acknowledge" in call.fields["Twiml"]
    forged = httpx.post(f"{reach_runtime.server_url}/webhooks/twilio/gather?page=1", data={"CallSid": call.sid, "Digits": "1"},
                        headers={"X-Twilio-Signature": "forged"}, timeout=5)
    assert forged.status_code == 403 and Crises(reach_runtime.database).get_crisis(1).acked_by is None
    answered = providers.press_digit(call.sid, "1")
    assert answered.status_code == 200 and "Acknowledged" in answered.text
    crisis = Crises(reach_runtime.database).get_crisis(1)
    assert crisis.acked_by == CHLOE and crisis.acked_via == "call"
    again = providers.press_digit(call.sid, "1")  # Twilio retrying the webhook: still one acknowledgement
    assert again.status_code == 200
    assert [e.kind.value for e in Crises(reach_runtime.database).timeline(1)].count("ack") == 1
    assert any(e.method == "call" and e.target == CHLOE for e in Crises(reach_runtime.database).timeline(1))


def test_unverified_number_is_not_called(reach_runtime, signed, fake_slack, providers):
    """A number waiting for its code never rings: the page goes by Slack only."""
    slash(reach_runtime, signed, f"reach phone {CHLOE_PHONE}", CHLOE)
    declare_and_settle(reach_runtime, signed, fake_slack)
    assert providers.calls("call") == [] and dms(fake_slack, CHLOE)


def test_group_step_hands_off_to_pagerduty_and_opsgenie_acked_there_and_resolved_here(reach_runtime, signed, fake_slack, providers, clock):
    """The group step (+15) triggers PagerDuty, the managers step (+30) Opsgenie; a signed PagerDuty ack acknowledges; resolving closes both."""
    declare_and_settle(reach_runtime, signed, fake_slack)
    advance(reach_runtime, clock, T0 + timedelta(minutes=16))
    assert len(providers.calls("pagerduty")) == 1 and providers.calls("opsgenie") == []
    advance(reach_runtime, clock, T0 + timedelta(minutes=31))
    (trigger,) = providers.calls("pagerduty")
    assert trigger.fields["event_action"] == "trigger" and trigger.fields["payload"]["severity"] == "critical"
    (alert,) = providers.calls("opsgenie")
    assert alert.fields["alias"] == trigger.fields["dedup_key"] == "socialops-crisis-1" and alert.fields["priority"] == "P1"
    url = f"{reach_runtime.server_url}/webhooks/pagerduty"
    assert ProviderStandIn.pagerduty_acknowledged(url, dedup_key="socialops-crisis-1", secret="wrong").status_code == 401
    bad = httpx.post(f"{reach_runtime.server_url}/webhooks/opsgenie", content=b"{not json", timeout=5,
                     headers={"X-Socialops-Webhook-Secret": OPSGENIE_SECRET})
    assert bad.status_code == 400 and bad.json()["ok"] is False
    acked = ProviderStandIn.pagerduty_acknowledged(url, dedup_key="socialops-crisis-1", secret=PD_SECRET)
    assert acked.status_code == 200 and acked.json()["acknowledged"] is True
    assert Crises(reach_runtime.database).get_crisis(1).acked_via == "pagerduty"
    opsgenie = ProviderStandIn.opsgenie_acknowledged(f"{reach_runtime.server_url}/webhooks/opsgenie", alias="socialops-crisis-1",
                                                     secret=OPSGENIE_SECRET)
    assert opsgenie.status_code == 200  # acknowledged already: recorded once
    slash(reach_runtime, signed, "resolve 1 done", CHLOE)
    wait_until(lambda: any(c.fields.get("event_action") == "resolve" for c in providers.calls("pagerduty")))
    wait_until(lambda: providers.calls("opsgenie-close"))
    assert [c.fields["event_action"] for c in providers.calls("pagerduty")] == ["trigger", "resolve"]


def test_provider_down_for_a_minute_hands_the_page_to_the_next_step_and_tells_the_admins(reach_runtime, signed, fake_slack, providers, clock):
    """Twilio answers 503: retried inside a minute, then handed on; the backup is paged then (not at +5); admins told; one row."""
    verify_phone(reach_runtime, signed, providers, CHLOE, CHLOE_PHONE)
    providers.fail("call", status=503, times=1000)
    declare_and_settle(reach_runtime, signed, fake_slack)
    advance(reach_runtime, clock, T0 + timedelta(minutes=2))
    (page,) = ProviderPages(reach_runtime.database).for_crisis(1)
    assert page.status == "handed_on" and page.attempts >= 3
    assert all(not c.ok for c in providers.calls("call"))
    assert dms(fake_slack, PRIYA), "the backup was not paged when the call could not go out"
    assert any("could not go out" in c.args["text"] for c in dms(fake_slack, GIULIA))
    providers.recover("call")
    jobs.sweep_provider_pages()
    assert [c for c in providers.calls("call") if c.ok] == []  # handed on is final: never placed late


def test_short_outage_places_the_call_once_after_recovery(reach_runtime, signed, fake_slack, providers, clock):
    """Two 429s then recovery: the call is placed exactly once, at the third attempt."""
    verify_phone(reach_runtime, signed, providers, CHLOE, CHLOE_PHONE)
    providers.fail("call", status=429, times=2)
    declare_and_settle(reach_runtime, signed, fake_slack)
    advance(reach_runtime, clock, T0 + timedelta(seconds=30))
    jobs.sweep_provider_pages()
    assert [c.status for c in providers.calls("call")] == [429, 429, 201]
    assert ProviderPages(reach_runtime.database).for_crisis(1)[0].status == "sent"


def test_without_credentials_no_step_kind_is_offered(fake_slack, signed, tmp_path, clock):
    """No provider settings: a policy step `call` is refused, `/crisis reach` says Slack is the only way, no webhook route."""
    built = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(tmp_path / "plain.db")))
    try:
        make_team(built.database)
        refused = slash(built, signed, "policy primary 5 call, backup 10", GIULIA)
        assert "call is not set up on this bot" in refused["text"] and "Step kinds here: slack." in str(refused)
        answer = slash(built, signed, "reach phone +393331234567", CHLOE)
        assert "not set up on this bot" in answer["text"]
        assert "Step kinds on this bot: slack." in str(answer["blocks"])
        assert provider_webhooks.routes(built.deps, built.settings.providers, public_url=built.settings.public_url) == []
        assert built.deps.code_texter is None
    finally:
        built.stop()
