"""Stakeholder cadence, pure: the playbook's interval, when a reminder is due, each slot once, and who may post."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot import stakeholders
from bot.crisis import CrisisEvent, EventKind, Status
from bot.errors import NotAllowed, UsageError
from bot.spikes import Severity
from bot.stakeholders import decide_reminder, interval_from_playbook, reminder_key
from tests.bot.test_crisis import T0, MemoryAudit, MemoryStore, declared


@pytest.mark.parametrize(("steps", "minutes"), [
    (["Pause posts", "Update stakeholders every 30 minutes"], 30),
    (["Update the stakeholders every 45 min"], 45),
    (["Stakeholder summary every 2 hours"], 120),
    (["Brief stakeholders every hour"], 60),
    (["Update stakeholders every 1 minute"], 5),  # floored: a reminder a minute is noise
    (["Update the press every 10 minutes"], 30),  # not about stakeholders: the default
    ([], 30),
])
def test_interval_is_read_from_the_stakeholder_step_of_the_playbook(steps, minutes):
    """The first step naming stakeholders with "every N min/hours" sets the interval; otherwise 30 min."""
    assert interval_from_playbook(steps) == timedelta(minutes=minutes)


def acked(severity=Severity.SEV1, status=Status.ACKNOWLEDGED):
    store, audit = MemoryStore(), MemoryAudit()
    opened = declared(store, audit)
    return replace(opened, severity=severity, status=status, acked_by="UP", acked_at=T0)


def never_sent(key):
    return False


def test_reminder_is_due_one_interval_after_the_ack_and_each_slot_once():
    """Due at ack + 30 min; once that slot is sent, the next is 30 min later, not a repeat of the same one."""
    crisis, interval = acked(), timedelta(minutes=30)
    early = decide_reminder(crisis, [], interval=interval, now=T0 + timedelta(minutes=10), already_sent=never_sent)
    assert early.send_key is None and early.next_check == T0 + interval
    due = decide_reminder(crisis, [], interval=interval, now=T0 + interval, already_sent=never_sent)
    assert due.send_key == reminder_key(crisis.id, T0 + interval) and due.next_check == T0 + 2 * interval
    sent = {due.send_key}
    again = decide_reminder(crisis, [], interval=interval, now=T0 + interval + timedelta(minutes=1), already_sent=sent.__contains__)
    assert again.send_key is None and again.next_check == T0 + 2 * interval


def test_an_update_moves_the_next_reminder_to_one_interval_after_it():
    """An update at +20 min: no reminder at +30, the next one is due at +50."""
    crisis = acked()
    update = CrisisEvent(at=T0 + timedelta(minutes=20), kind=EventKind.STAKEHOLDER_UPDATE, actor="UP", via="modal", detail={"text": "x"})
    decision = decide_reminder(crisis, [update], interval=timedelta(minutes=30), now=T0 + timedelta(minutes=30), already_sent=never_sent)
    assert decision.send_key is None and decision.next_check == T0 + timedelta(minutes=50)


@pytest.mark.parametrize(("severity", "status"), [(Severity.SEV3, Status.ACKNOWLEDGED), (Severity.SEV1, Status.RESOLVED),
                                                  (Severity.SEV1, Status.FALSE_ALARM), (Severity.SEV2, Status.OPEN)])
def test_no_cadence_at_sev3_once_closed_or_before_an_acknowledgement(severity, status):
    """SEV3, resolved, false alarm, not yet acknowledged: no reminder and no next check."""
    crisis = acked(severity, status)
    if status is Status.OPEN:
        crisis = replace(crisis, acked_by=None, acked_at=None)
    decision = decide_reminder(crisis, [], interval=timedelta(minutes=30), now=T0 + timedelta(hours=3), already_sent=never_sent)
    assert decision.send_key is None and decision.next_check is None


def test_post_update_records_the_timeline_and_audit_and_refuses_bystanders():
    """The declarer posts: a stakeholder_update event with the text and channel, audited; a bystander and empty text refused."""
    store, audit = MemoryStore(), MemoryAudit()
    opened = declared(store, audit, user="UX")
    _, event_id = stakeholders.post_update(store, audit, crisis_id=opened.id, user_id="UX", text=" Statement out at 03:40 ", channel="CSTAKE",
                                           on_call=(), is_admin=False, now=T0, via="modal")
    (event,) = [e for e in store.timeline(opened.id) if e.kind is EventKind.STAKEHOLDER_UPDATE]
    assert event.detail == {"text": "Statement out at 03:40"} and event.target == "CSTAKE" and event_id == 2
    assert audit.records[-1].action == "crisis_stakeholder_update"
    with pytest.raises(NotAllowed):
        stakeholders.post_update(store, audit, crisis_id=opened.id, user_id="UZ", text="hi", channel=None, on_call=(), is_admin=False,
                                 now=T0, via="modal")
    with pytest.raises(UsageError):
        stakeholders.post_update(store, audit, crisis_id=opened.id, user_id="UX", text="  ", channel=None, on_call=(), is_admin=False,
                                 now=T0, via="modal")
