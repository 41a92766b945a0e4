"""Stakeholder-cadence use cases: remind the acknowledger of a SEV1/SEV2 crisis at the playbook's interval, and publish
an update posted through the form.

Pure decisions (bot/stakeholders.py) carried out through ports: the reminder for one slot is claimed in the job
ledger after it is queued under the same key in the outbox, so restarts and several instances send it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot import playbook
from bot.blocks.stakeholders import build_posted_update, build_update_reminder
from bot.crisis import Crisis, CrisisEvent
from bot.flows.handover import RunLedger
from bot.flows.ports import OutboxSender
from bot.playbook import PlaybookStore
from bot.stakeholders import ReminderDecision, cadence_applies, StakeholderStore, decide_reminder, interval_from_playbook, last_update_at


class CrisisRecords(Protocol):
    def get_crisis(self, crisis_id: int) -> Crisis | None: ...
    def timeline(self, crisis_id: int) -> list[CrisisEvent]: ...


class CheckLater(Protocol):
    """Run the reminder check for a crisis again at `at` (one pending check per crisis)."""

    def check_later(self, crisis_id: int, at: datetime) -> None: ...


def remind(crisis_id: int, *, crises: CrisisRecords, playbooks: PlaybookStore, channels: StakeholderStore, ledger: RunLedger,
           outbox: OutboxSender, later: CheckLater, now: datetime) -> ReminderDecision:
    """Send the reminder that is due (once), and plan the next check; nothing once the crisis is resolved or below SEV2."""
    crisis = crises.get_crisis(crisis_id)
    if crisis is None or not cadence_applies(crisis):
        return ReminderDecision(None, None)  # before reading the playbook: most card changes are of crises without a cadence
    timeline: Sequence[CrisisEvent] = crises.timeline(crisis_id)
    interval = interval_from_playbook(step.text for step in playbook.team_playbook(playbooks, crisis.team_id).steps)
    decision = decide_reminder(crisis, timeline, interval=interval, now=now, already_sent=ledger.has_run)
    if decision.send_key is not None:
        text, blocks = build_update_reminder(crisis, channel=channels.stakeholder_channel(crisis.team_id), interval=interval,
                                             last_update=last_update_at(timeline))
        if crisis.channel and crisis.message_ts:
            outbox.send(dedupe_key=decision.send_key, method="chat.postMessage",
                        payload={"channel": crisis.channel, "thread_ts": crisis.message_ts, "text": text, "blocks": blocks})
        else:  # no card to thread under: the acknowledger gets it by DM
            outbox.send(dedupe_key=decision.send_key, method="dm", payload={"user": crisis.acked_by, "text": text, "blocks": blocks})
        ledger.claim(decision.send_key, at=now)
    if decision.next_check is not None:
        later.check_later(crisis_id, decision.next_check)
    return decision


def publish_update(crisis: Crisis, *, event_id: int, author: str, text: str, channel: str | None, outbox: OutboxSender) -> bool:
    """Post a recorded update to the stakeholders' channel, once per timeline event; False when the team has none."""
    if channel is None:
        return False
    message, blocks = build_posted_update(crisis, author=author, text=text)
    outbox.send(dedupe_key=f"stakeholder-update:{crisis.id}:e{event_id}", method="chat.postMessage",
                payload={"channel": channel, "text": message, "blocks": blocks})
    return True
