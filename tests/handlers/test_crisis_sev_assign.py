"""`/crisis sev` and `/crisis assign` through the real app: card updated, timeline line in the thread, audited, usage on bad args."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.crises import Crises
from storage.tables import AuditEntry
from tests.handlers.test_crisis_flow import advance, CHLOE, GIULIA, MARCUS, OLIVER, PRIYA, channel_posts, declare_and_settle, slash, stopped_runtime, clock, wait_until  # noqa: F401


def thread_line(runtime, clock, fake_slack, text):
    """Run the due outbox jobs until a thread line containing `text` was posted (the card refresh runs after the ack)."""
    def posted():
        advance(runtime, clock, clock.now)
        return any(text in c.args["text"] for c in channel_posts(fake_slack, top_level=False))
    wait_until(posted)
    return True


def test_sev_updates_the_card_and_posts_a_thread_line(stopped_runtime, signed, fake_slack, clock):
    """The declarer lowers SEV1 to SEV3: the card is edited to SEV3 and the thread gets "Severity SEV1 → SEV3"."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    body = slash(stopped_runtime, signed, "sev 1 sev3", MARCUS)
    assert "#1 SEV3 acme is now SEV3 (was SEV1)" in body["text"]
    assert Crises(stopped_runtime.database).get_crisis(1).severity.label == "SEV3"
    wait_until(lambda: any("SEV3 crisis #1" in c.args["text"] for c in fake_slack.calls("chat.update")))
    assert thread_line(stopped_runtime, clock, fake_slack, "Severity SEV1 → SEV3")


def test_assign_names_the_commander_on_the_card_and_in_the_audit(stopped_runtime, signed, fake_slack, clock):
    """The primary (Chloe) names Giulia: the card shows *Commander*, the thread mentions her, the audit records it."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    body = slash(stopped_runtime, signed, f"assign #1 <@{GIULIA}|giulia>", CHLOE)
    assert f"<@{GIULIA}> is now the commander" in body["text"]
    assert Crises(stopped_runtime.database).get_crisis(1).commander == GIULIA
    wait_until(lambda: any(f"*Commander* <@{GIULIA}>" in json.dumps(c.json_arg("blocks")) for c in fake_slack.calls("chat.update")))
    assert thread_line(stopped_runtime, clock, fake_slack, f"Commander: <@{GIULIA}>")
    with stopped_runtime.database.session_scope() as session:
        (row,) = session.exec(select(AuditEntry).where(AuditEntry.action == "crisis_commander_assigned")).scalars().all()
        assert row.actor == CHLOE and row.after == {"commander": GIULIA}


def test_bad_arguments_get_the_usage_and_change_nothing(stopped_runtime, signed, fake_slack):
    """Wrong severity word, missing mention, wrong id, a bystander: each answered, the crisis unchanged."""
    declare_and_settle(stopped_runtime, signed, fake_slack)
    assert "not a severity" in slash(stopped_runtime, signed, "sev 1 sev9", MARCUS)["text"]
    assert "/crisis sev <id> sev1|sev2|sev3" in json.dumps(slash(stopped_runtime, signed, "sev 1", MARCUS))
    assert "not a person" in slash(stopped_runtime, signed, "assign 1 giulia", MARCUS)["text"]
    assert "not a crisis number" in slash(stopped_runtime, signed, "assign x <@U0DEMO0001>", MARCUS)["text"]
    assert "no crisis #9" in slash(stopped_runtime, signed, "sev 9 sev2", MARCUS)["text"]
    assert "Only the person who acknowledged" in slash(stopped_runtime, signed, "sev 1 sev2", OLIVER)["text"]
    found = Crises(stopped_runtime.database).get_crisis(1)
    assert found.severity.label == "SEV1" and found.commander is None
    help_text = json.dumps(slash(stopped_runtime, signed, "help", PRIYA))
    assert "/crisis sev" in help_text and "/crisis assign" in help_text
