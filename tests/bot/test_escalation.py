"""Escalation policy: step deadlines, who each step pages (backup as active cover, gaps), escalate-now, parsing."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UsageError
from bot.escalation import (
    DEFAULT_POLICY, OnCall, PlannedStep, Policy, PolicyStep, Target, describe_policy, parse_policy, plan_chain, recipients,
    shift_after_escalation, still_on_it_due,
)

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PEOPLE = OnCall(primary="UP", backup="UB", shadow="US")


def test_default_chain_pages_primary_backup_group_managers_at_0_5_15_30_minutes():
    """The shipped policy: primary now, backup after 5 min, the group after 10 more, managers after 15 more."""
    chain = plan_chain(DEFAULT_POLICY, T0)
    assert [(s.target, s.due_at - T0) for s in chain[:4]] == [
        (Target.PRIMARY, timedelta(0)), (Target.BACKUP, timedelta(minutes=5)),
        (Target.GROUP, timedelta(minutes=15)), (Target.MANAGERS, timedelta(minutes=30)),
    ]


def test_chain_repeats_the_policy_k_times():
    """With repeat=2 the chain has every step twice, the second round after the last wait."""
    chain = plan_chain(DEFAULT_POLICY, T0)
    assert len(chain) == 8 and chain[4].target is Target.PRIMARY and chain[4].due_at == T0 + timedelta(minutes=45)


@given(st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=6), st.integers(min_value=1, max_value=5))
def test_step_deadlines_never_go_backwards(waits, repeat):
    """Whatever the waits, deadlines strictly increase and indices count up from 0."""
    policy = Policy(steps=tuple(PolicyStep(Target.PRIMARY, timedelta(minutes=w)) for w in waits), repeat=repeat)
    chain = plan_chain(policy, T0)
    assert [s.index for s in chain] == list(range(len(waits) * repeat))
    assert all(a.due_at < b.due_at for a, b in zip(chain, chain[1:], strict=False))


def test_campaign_first_page_goes_to_primary_and_backup_together():
    """During a campaign window the first step pages both."""
    assert plan_chain(DEFAULT_POLICY, T0, campaign=True)[0].target is Target.PRIMARY_AND_BACKUP


def test_primary_step_dms_primary_and_copies_the_shadow():
    """The primary is paged; the shadow is notified alongside."""
    reach = recipients(Target.PRIMARY, PEOPLE, managers=["UA"], usergroup_id="S1")
    assert reach.dm == ("UP",) and reach.cc == ("US",) and reach.channel_mention is None


def test_primary_who_stepped_away_is_covered_by_the_backup():
    """New pages for a primary who stepped away go to the backup."""
    reach = recipients(Target.PRIMARY, OnCall("UP", "UB", away=frozenset({"UP"})), managers=[], usergroup_id=None)
    assert reach.dm == ("UB",) and reach.covered_by_backup


def test_group_step_mentions_the_user_group_or_here():
    """The group step is a channel mention: the on-call user group when there is one, else @here."""
    assert recipients(Target.GROUP, PEOPLE, managers=[], usergroup_id="S1").channel_mention == "<!subteam^S1>"
    assert recipients(Target.GROUP, PEOPLE, managers=[], usergroup_id=None).channel_mention == "<!here>"


def test_managers_step_pages_every_admin():
    """The last step reaches the team's managers (the socialops admins)."""
    assert recipients(Target.MANAGERS, PEOPLE, managers=["UA", "UC"], usergroup_id=None).dm == ("UA", "UC")


def test_gap_in_the_schedule_falls_back_to_the_channel():
    """Nobody on call: the step mentions the channel rather than paging no one."""
    assert recipients(Target.PRIMARY, OnCall(None, None), managers=[], usergroup_id=None).channel_mention == "<!here>"


def test_escalate_now_moves_the_next_step_to_now_and_keeps_the_spacing():
    """Escalating at +1 min: the backup step is due now, the group 10 min later."""
    pending = [s for s in plan_chain(DEFAULT_POLICY, T0) if s.index >= 1]
    moved = shift_after_escalation(pending, escalated=1, now=T0 + timedelta(minutes=1))
    assert moved[0] == PlannedStep(1, Target.BACKUP, T0 + timedelta(minutes=1))
    assert moved[1].due_at == T0 + timedelta(minutes=11)


def test_still_on_it_is_due_after_the_quiet_time_from_the_last_update():
    """An acknowledged crisis is asked after `still_on_it_after` from its latest activity; never when not acked."""
    acked = T0 + timedelta(minutes=3)
    assert still_on_it_due(acked_at=acked, last_activity_at=acked, policy=DEFAULT_POLICY) == acked + timedelta(minutes=30)
    assert still_on_it_due(acked_at=None, last_activity_at=acked, policy=DEFAULT_POLICY) is None


def test_policy_text_round_trips_and_bad_text_gets_usage():
    """`primary 5, backup 10` parses and prints back; unknown targets and zero waits are refused."""
    policy = parse_policy("primary 5, backup 10, group 15, managers 15")
    assert policy.steps == DEFAULT_POLICY.steps and describe_policy(policy) == "primary 5, backup 10, group 15, managers 15"
    with pytest.raises(UsageError):
        parse_policy("ceo 5")
    with pytest.raises(UsageError):
        parse_policy("primary 0")
