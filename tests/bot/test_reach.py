"""Reach rules, pure: step kinds only with their provider, the quiet-hours rule, phone numbers, codes, and outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import reach
from bot.errors import Conflict, UsageError
from bot.reach import HandOn, PersonReach, ProvidersConfigured, QuietChoice, QuietRule, Retry, StepKind, after_failure, phone_may_ring
from bot.spikes import Severity

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def test_step_kinds_are_offered_only_with_their_provider_configured():
    """Slack alone by default; Twilio adds call and SMS; PagerDuty and Opsgenie each add their hand-off."""
    assert reach.offered_kinds(ProvidersConfigured()) == (StepKind.slack,)
    assert reach.offered_kinds(ProvidersConfigured(twilio=True, opsgenie=True)) == (StepKind.slack, StepKind.call, StepKind.sms, StepKind.opsgenie)
    with pytest.raises(UsageError, match="not set up"):
        reach.parse_kind("pagerduty", ProvidersConfigured(twilio=True))
    assert reach.parse_kind("Call", ProvidersConfigured(twilio=True)) is StepKind.call


def test_quiet_rule_decides_whether_the_phone_rings_in_quiet_hours():
    """Verified number: outside quiet hours always; inside, only where the rule says phone (SEV3 is Slack-only by default)."""
    person = PersonReach("T1", "U1", phone="+393331234567", phone_verified_at=NOW)
    assert phone_may_ring(person, Severity.SEV3, in_quiet_hours=False)
    assert not phone_may_ring(person, Severity.SEV3, in_quiet_hours=True)
    assert phone_may_ring(person, Severity.SEV1, in_quiet_hours=True)
    strict = PersonReach("T1", "U1", phone="+393331234567", phone_verified_at=NOW,
                         quiet=reach.parse_quiet_rule(["sev1=slack"], QuietRule()))
    assert not phone_may_ring(strict, Severity.SEV1, in_quiet_hours=True)
    assert not phone_may_ring(PersonReach("T1", "U1", phone="+393331234567"), Severity.SEV1, in_quiet_hours=False)  # unverified
    assert QuietRule.from_dict(strict.quiet.to_dict()).choice(Severity.SEV1) is QuietChoice.slack
    with pytest.raises(UsageError):
        reach.parse_quiet_rule(["sev4=phone"], QuietRule())


@pytest.mark.parametrize(("typed", "stored"), [("+39 333 123 4567", "+393331234567"), ("0044 (20) 7946-0958", "+442079460958")])
def test_phone_numbers_are_stored_in_e164(typed, stored):
    assert reach.normalise_phone(typed) == stored


def test_phone_number_without_country_code_is_refused():
    with pytest.raises(UsageError, match="international"):
        reach.normalise_phone("333 123 4567")


class MemoryReach:
    def __init__(self):
        self.rows = {}

    def person_reach(self, workspace_id, user_id):
        row = self.rows.get(user_id)
        return None if row is None else PersonReach(workspace_id, user_id, phone=row["phone"], phone_verified_at=row.get("verified"))

    def pending_code(self, workspace_id, user_id):
        row = self.rows.get(user_id)
        return None if not row or not row.get("hash") else reach.PendingCode(row["phone"], row["hash"], row["expires"], row["attempts"])

    def start_verification(self, *, workspace_id, user_id, phone, code_hash, expires_at, now):
        self.rows[user_id] = {"phone": phone, "hash": code_hash, "expires": expires_at, "attempts": 0}

    def count_code_attempt(self, *, workspace_id, user_id):
        self.rows[user_id]["attempts"] += 1
        return self.rows[user_id]["attempts"]

    def mark_verified(self, *, workspace_id, user_id, phone, now):
        self.rows[user_id].update(verified=now, hash=None)

    def save_quiet_rule(self, *, workspace_id, user_id, rule, now):
        self.rows.setdefault(user_id, {"phone": None})["quiet"] = rule


def test_a_number_is_verified_once_by_its_code_and_wrong_or_late_codes_are_refused():
    """Wrong code refused, right code verifies; a code after 10 minutes or after five wrong tries is refused."""
    store = MemoryReach()
    reach.start_verification(store, workspace_id="T1", user_id="U1", phone_text="+39 333 123 4567", code="482913", now=NOW)
    with pytest.raises(UsageError):
        reach.confirm_code(store, workspace_id="T1", user_id="U1", code="000000", now=NOW)
    assert reach.confirm_code(store, workspace_id="T1", user_id="U1", code="482913", now=NOW) == "+393331234567"
    assert store.person_reach("T1", "U1").verified_phone == "+393331234567"
    reach.start_verification(store, workspace_id="T1", user_id="U2", phone_text="+393331234568", code="111111", now=NOW)
    with pytest.raises(Conflict, match="expired"):
        reach.confirm_code(store, workspace_id="T1", user_id="U2", code="111111", now=NOW + timedelta(minutes=10))
    reach.start_verification(store, workspace_id="T1", user_id="U3", phone_text="+393331234569", code="222222", now=NOW)
    for _ in range(5):
        with pytest.raises(UsageError):
            reach.confirm_code(store, workspace_id="T1", user_id="U3", code="999999", now=NOW)
    with pytest.raises(Conflict, match="Too many"):
        reach.confirm_code(store, workspace_id="T1", user_id="U3", code="222222", now=NOW)


def test_outage_is_retried_inside_a_minute_then_handed_on():
    """Retry-After is honoured (capped at 15 s); once the next try would fall past a minute from the first, hand on."""
    assert after_failure(first_attempt_at=NOW, attempts=1, retry_after=3, now=NOW, reason="x") == Retry(NOW + timedelta(seconds=3))
    assert after_failure(first_attempt_at=NOW, attempts=3, retry_after=None, now=NOW + timedelta(seconds=10), reason="x") == Retry(
        NOW + timedelta(seconds=14))
    assert isinstance(after_failure(first_attempt_at=NOW, attempts=6, retry_after=None, now=NOW + timedelta(seconds=50), reason="x"), HandOn)
