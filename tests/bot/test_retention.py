"""Retention: how long each kind of row is kept, and the cut-offs of a purge."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.retention import RetentionPolicy

NOW = datetime(2026, 12, 3, 3, 45, tzinfo=UTC)


def test_defaults_keep_the_audit_trail_longest():
    """Audit 2 years, counters 400 days, outbox and ledger 90 days."""
    policy = RetentionPolicy()
    assert policy.audit_days > max(policy.counter_days, policy.outbox_days, policy.ledger_days)
    cutoffs = policy.cutoffs(NOW)
    assert cutoffs.audit_before == NOW - timedelta(days=730)
    assert cutoffs.counters_before == NOW - timedelta(days=400)
    assert cutoffs.outbox_before == cutoffs.ledger_before == NOW - timedelta(days=90)


def test_the_ledger_cannot_forget_a_run_that_could_be_planned_again():
    """A job ledger shorter than a week could let a re-planned announcement run twice: refused."""
    with pytest.raises(ValueError, match="ledger_days must be at least 7"):
        RetentionPolicy(ledger_days=3)


def test_settings_read_each_retention_and_name_the_variable_when_wrong():
    """SOCIALOPS_*_RETENTION_DAYS set the policy; a bad value names its variable."""
    settings = load_settings({"SOCIALOPS_AUDIT_RETENTION_DAYS": "3650", "SOCIALOPS_OUTBOX_RETENTION_DAYS": "14"})
    assert settings.retention == RetentionPolicy(audit_days=3650, outbox_days=14)
    with pytest.raises(ConfigError, match="SOCIALOPS_COUNTER_RETENTION_DAYS must be a whole number"):
        load_settings({"SOCIALOPS_COUNTER_RETENTION_DAYS": "forever"})
    with pytest.raises(ConfigError, match="SOCIALOPS_LEDGER_RETENTION_DAYS must be at least 7"):
        load_settings({"SOCIALOPS_LEDGER_RETENTION_DAYS": "2"})


def test_cutoffs_need_an_aware_instant():
    """A naive now is a bug upstream, not a purge."""
    with pytest.raises(ValueError):
        RetentionPolicy().cutoffs(datetime(2026, 12, 3))
