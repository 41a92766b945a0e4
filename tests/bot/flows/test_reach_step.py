"""A step kind beyond Slack as the paging flow's sender (bot.flows.reach.ProviderStep), on in-memory ports: whom it
pages, the group hand-off recorded for the primary, people it may not ring audited, and unconfigured kinds ignored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.crisis import Crisis, Status
from bot.flows.reach import ProviderStep
from bot.reach import PersonReach, ProviderPage, StepKind
from bot.spikes import Severity

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CHLOE, PRIYA = "U0CHLOE", "U0PRIYA"
CRISIS = Crisis(id=7, team_id=1, team_name="Social", workspace_id="T1", topic="acme", severity=Severity.SEV1, summary="spike",
                origin="detected", declared_by=None, status=Status.OPEN, opened_at=NOW, last_activity_at=NOW)


class MemoryLedger:
    def __init__(self):
        self.pages: dict[int, ProviderPage] = {}

    def plan(self, *, crisis_id, step, user_id, kind, now):
        if any((p.crisis_id, p.step, p.user_id, p.kind) == (crisis_id, step, user_id, kind) for p in self.pages.values()):
            return None  # planned once per crisis, step, person and kind
        page = ProviderPage(len(self.pages) + 1, crisis_id, step, user_id, kind, "planned", 0, None, now, now)
        self.pages[page.id] = page
        return page

    def claim(self, page_id, *, now, lease):
        page = self.pages[page_id]
        if page.status != "planned":
            return None
        self.pages[page_id] = replace(page, status="sending", attempts=page.attempts + 1)
        return self.pages[page_id]

    def for_crisis(self, crisis_id):
        return [p for p in self.pages.values() if p.crisis_id == crisis_id]

    def finish(self, page_id, *, status, at, external_id=None, error=None):
        self.pages[page_id] = replace(self.pages[page_id], status=status, external_id=external_id)


class Crises:
    def __init__(self):
        self.events = []

    def get_crisis(self, crisis_id):
        return CRISIS

    def record_event(self, *, crisis_id, event):
        self.events.append(event)


class Audit:
    def __init__(self):
        self.records = []

    def record(self, record):
        self.records.append(record)


class Provider:
    def __init__(self):
        self.sent = []

    def send(self, page, crisis, *, to):
        self.sent.append((page.kind, page.user_id, to))
        return f"ext-{page.id}"


class Followers:
    def deliver_later(self, page_id, at):
        raise AssertionError("no retry expected")

    def run_due_steps(self, crisis_id):
        raise AssertionError("no hand-on expected")

    def tell_admins(self, text, *, key):
        raise AssertionError("no admin DM expected")


VERIFIED = {CHLOE: PersonReach("T1", CHLOE, phone="+393331234567", phone_verified_at=NOW)}


def step(kind, *, providers=None, quiet=(), reach=VERIFIED):
    ledger, crises, audit, provider = MemoryLedger(), Crises(), Audit(), Provider()
    sender = ProviderStep(kind, ledger=ledger, reach=type("Reach", (), {"person_reach": lambda self, w, u: reach.get(u)})(),
                          crises=crises, audit=audit, providers=providers if providers is not None else {kind.value: provider},
                          follow=Followers(), in_quiet_hours=lambda crisis, user_id, now: user_id in quiet,
                          primary_on_call=lambda crisis, now: PRIYA)
    return sender, ledger, crises, audit, provider


def test_a_call_step_rings_the_verified_person_once_and_records_the_page():
    sender, ledger, crises, audit, provider = step(StepKind.call)
    assert sender(CRISIS, CHLOE, step=1, now=NOW)
    assert not sender(CRISIS, CHLOE, step=1, now=NOW)  # the same step again (a repeat, a second instance): no second call
    assert provider.sent == [("call", CHLOE, "+393331234567")]
    assert [(e.target, e.method, e.delivered) for e in crises.events] == [(CHLOE, "call", True)]


def test_a_person_without_a_verified_phone_or_in_quiet_hours_is_not_rung_and_that_is_audited():
    """No number: nothing rings. In quiet hours the default rule rings for a SEV1 but keeps a SEV3 to Slack."""
    sender, ledger, _, audit, provider = step(StepKind.sms, quiet={CHLOE})
    assert not sender(CRISIS, PRIYA, step=0, now=NOW)
    assert not sender(replace(CRISIS, severity=Severity.SEV3), CHLOE, step=0, now=NOW)
    assert provider.sent == [] and ledger.pages == {}
    assert [(r.action, r.after["who"], r.after["kind"]) for r in audit.records] == [("provider_page_not_sent", PRIYA, "sms"),
                                                                                    ("provider_page_not_sent", CHLOE, "sms")]
    assert sender(CRISIS, CHLOE, step=0, now=NOW)  # a SEV1 in their quiet hours still rings
    assert provider.sent == [("sms", CHLOE, "+393331234567")]


def test_a_group_hand_off_goes_once_for_the_team_and_is_recorded_for_the_primary():
    sender, ledger, _, _, provider = step(StepKind.pagerduty)
    assert sender(CRISIS, "", step=2, now=NOW)
    assert provider.sent == [("pagerduty", PRIYA, None)]
    assert [p.status for p in ledger.pages.values()] == ["sent"]


def test_a_hand_off_goes_once_per_step_however_many_people_the_step_names():
    sender, ledger, _, _, provider = step(StepKind.opsgenie)
    assert sender(CRISIS, CHLOE, step=1, now=NOW)
    assert not sender(CRISIS, PRIYA, step=1, now=NOW)
    assert sender(CRISIS, PRIYA, step=2, now=NOW)  # a later step hands off again (same alias: the provider dedupes)
    assert provider.sent == [("opsgenie", CHLOE, None), ("opsgenie", PRIYA, None)]


def test_a_phone_kind_on_a_step_naming_nobody_rings_nobody():
    sender, ledger, _, _, provider = step(StepKind.call)
    assert not sender(CRISIS, "", step=2, now=NOW)
    assert provider.sent == [] and ledger.pages == {}


def test_a_kind_whose_provider_is_not_configured_sends_nothing():
    sender, ledger, _, _, _ = step(StepKind.opsgenie, providers={})
    assert not sender(CRISIS, "", step=2, now=NOW)
    assert ledger.pages == {}
