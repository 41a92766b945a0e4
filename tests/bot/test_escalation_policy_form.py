"""The escalation policy modal: rows read back into a Policy, each problem named on its own field, the read-only answer."""

from datetime import timedelta

import pytest

from bot.blocks.escalation_policy import build_policy_answer, build_policy_modal
from bot.escalation import (
    DEFAULT_POLICY, FORM_ROWS, Policy, PolicyFormErrors, PolicyStep, Target, policy_record, read_policy_form, step_block_ids,
)


def form(*rows, repeat="2", still="30"):
    values: dict[str, object] = {"repeat": repeat, "still_on_it": still}
    for i, (target, wait) in enumerate(rows):
        target_id, wait_id = step_block_ids(i)
        values[target_id], values[wait_id] = target, wait
    return values


def initial_values(view):
    """Return {block_id: value} as Slack would submit the modal untouched."""
    values: dict[str, object] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        values[block["block_id"]] = (element.get("initial_option") or {}).get("value") if element["type"] == "static_select" \
            else element.get("initial_value")
    return values


def test_rows_in_order_become_the_policy_and_empty_rows_are_skipped():
    """Filled rows keep their order; an empty row in between is ignored."""
    policy = read_policy_form(form(("both", "3"), (None, None), ("managers", "20"), repeat="3", still="45"))
    assert policy == Policy(steps=(PolicyStep(Target.PRIMARY_AND_BACKUP, timedelta(minutes=3)), PolicyStep(Target.MANAGERS, timedelta(minutes=20))),
                            repeat=3, still_on_it_after=timedelta(minutes=45))


def test_each_problem_is_reported_on_its_own_field():
    """A wait without a target, a target without a wait, a bad repeat and a bad interval each get an error on their block."""
    with pytest.raises(PolicyFormErrors) as problems:
        read_policy_form(form((None, "5"), ("backup", ""), ("group", "0"), repeat="9", still="2"))
    assert set(problems.value.errors) == {step_block_ids(0)[0], step_block_ids(1)[1], step_block_ids(2)[1], "repeat", "still_on_it"}


def test_a_form_without_steps_is_refused_on_the_first_row():
    """All rows empty: one error on the first row's select."""
    with pytest.raises(PolicyFormErrors) as problems:
        read_policy_form(form())
    assert list(problems.value.errors) == [step_block_ids(0)[0]]


def test_the_modal_submitted_untouched_reads_back_as_the_same_policy():
    """Initial options and values in the modal round-trip to the policy it was built from."""
    view = build_policy_modal(team_id=1, team_name="social", policy=DEFAULT_POLICY)
    assert len([b for b in view["blocks"] if b["type"] == "input"]) == 2 * FORM_ROWS + 2
    assert read_policy_form(initial_values(view)) == DEFAULT_POLICY


def test_read_only_answer_lists_steps_repeat_and_still_on_it():
    """Non-admins see each step with its wait, the repeat count and the interval."""
    text, blocks = build_policy_answer("social", DEFAULT_POLICY, note="Only admins can change it.")
    body = str(blocks)
    assert "1. Primary — then wait 5 min" in body and "runs 2×" in body and "30 min" in body and "Only admins" in text


def test_policy_record_is_plain_data_for_the_audit():
    """The audit keeps the steps in the one-line form, the repeat count and the interval in minutes."""
    assert policy_record(DEFAULT_POLICY) == {"steps": "primary 5, backup 10, group 15, managers 15", "repeat": 2, "still_on_it_minutes": 30}
