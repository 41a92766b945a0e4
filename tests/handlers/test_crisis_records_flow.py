"""Crisis records end to end through signed requests and the stand-in: the playbook in the card's thread with its ticks,
the admins' playbook and policy forms, notes, DM copies of the card updated in place, and simultaneous declares."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from bot import jobs
from bot.blocks.crisis import NOTE_CALLBACK, CrisisActions
from bot.blocks.escalation_policy import POLICY_EDIT_CALLBACK
from bot.blocks.playbook import PLAYBOOK_EDIT_CALLBACK, PlaybookActions
from bot.escalation import DEFAULT_POLICY, Target, step_block_ids
from bot.playbook import DEFAULT_STEPS
from storage.crises import Crises
from storage.playbooks import Playbooks
from tests.handlers.test_crisis_flow import (
    CRISIS_CHANNEL, GIULIA, MARCUS, OLIVER, channel_posts, dms, make_team, on_call, press, responses, slash, wait_until,
)


def dumped(blocks):
    return json.dumps(blocks, ensure_ascii=False)


def declare(runtime, signed, fake_slack, text="declare acme sev2"):
    slash(runtime, signed, text, MARCUS)
    wait_until(lambda: channel_posts(fake_slack) and Crises(runtime.database).get_crisis(1).message_ts)  # the card and its stored ts
    (card,) = channel_posts(fake_slack)
    return card


def thread_posts(fake_slack):
    return channel_posts(fake_slack, top_level=False)


def playbook_posts(fake_slack):
    return [c for c in thread_posts(fake_slack) if "Playbook for" in c.args["text"]]


def submit(runtime, signed, user, callback_id, values, metadata):
    response = runtime.app.dispatch(signed.view_submission(user_id=user, callback_id=callback_id, values=values,
                                                           private_metadata=metadata).as_bolt_request())
    assert response.status == 200
    return json.loads(response.body) if response.body else {}


def test_open_playbook_posts_the_checklist_in_the_thread_once_and_ticks_update_it(runtime, signed, fake_slack):
    """Open playbook posts the default checklist under the card; a tick (pressed twice) is recorded once and shown in place."""
    make_team(runtime.database, now=runtime.clock())
    card = declare(runtime, signed, fake_slack)
    press(runtime, signed, OLIVER, CrisisActions.playbook, card)
    wait_until(lambda: playbook_posts(fake_slack))
    (posted,) = playbook_posts(fake_slack)
    assert posted.args["thread_ts"] == card.response["ts"]
    body = dumped(posted.json_arg("blocks"))
    assert all(step in body for step in DEFAULT_STEPS) and "```We're aware" in body
    (answer,) = responses(fake_slack)
    assert "in the card's thread" in answer.body["text"]

    done = next(b["accessory"] for b in posted.json_arg("blocks") if b.get("accessory", {}).get("action_id") == PlaybookActions.check)
    for user in (OLIVER, GIULIA):
        runtime.app.dispatch(signed.block_action(user_id=user, action_id=PlaybookActions.check, value=done["value"], channel_id=CRISIS_CHANNEL,
                                                 message_ts=posted.response["ts"]).as_bolt_request())
    wait_until(lambda: [c for c in fake_slack.calls("chat.update") if c.args["ts"] == posted.response["ts"]])
    wait_until(lambda: any("Playbook: ✓" in c.args["text"] for c in thread_posts(fake_slack)))
    update = [c for c in fake_slack.calls("chat.update") if c.args["ts"] == posted.response["ts"]][-1]
    assert "1 of 4 done" in update.args["text"] and f"done by <@{OLIVER}>" in dumped(update.json_arg("blocks"))
    assert [(c.checked_by) for c in Playbooks(runtime.database).checks(1)] == [OLIVER]
    assert len(runtime.deps.audit.entries(action="crisis_playbook_checked")) == 1

    press(runtime, signed, OLIVER, CrisisActions.playbook, card)  # a second Open playbook refreshes, never posts again
    wait_until(lambda: len(responses(fake_slack)) >= 2)
    assert len(playbook_posts(fake_slack)) == 1


def test_admins_edit_the_playbook_in_a_modal_and_others_see_it_read_only(runtime, signed, fake_slack):
    """A member's `/crisis playbook` shows it with the reason; an admin's opens the form, whose errors show inline, then saves."""
    make_team(runtime.database, now=runtime.clock())
    member = slash(runtime, signed, "playbook", MARCUS)
    assert "Only admins can edit playbooks" in member["text"] and "Pause all scheduled posts" in dumped(member["blocks"])
    assert fake_slack.calls("views.open") == []

    slash(runtime, signed, "playbook social", GIULIA)
    (opened,) = fake_slack.wait_for("views.open")
    view = opened.json_arg("view")
    assert view["callback_id"] == PLAYBOOK_EDIT_CALLBACK
    empty = submit(runtime, signed, GIULIA, PLAYBOOK_EDIT_CALLBACK, {"steps": {"value": " "}, "statements": {"value": ""}},
                   view["private_metadata"])
    assert empty["response_action"] == "errors" and "steps" in empty["errors"]
    refused = submit(runtime, signed, MARCUS, PLAYBOOK_EDIT_CALLBACK, {"steps": {"value": "Call legal"}, "statements": {"value": ""}},
                     view["private_metadata"])
    assert "Only admins" in refused["errors"]["steps"]
    saved = submit(runtime, signed, GIULIA, PLAYBOOK_EDIT_CALLBACK,
                   {"steps": {"value": "Call legal\nPause ads"}, "statements": {"value": "We hear you.\n---\nUpdate soon."}},
                   view["private_metadata"])
    assert saved == {}
    book = Playbooks(runtime.database).playbook(1)
    assert [s.text for s in book.steps] == ["Call legal", "Pause ads"] and len(book.statements) == 2
    (record,) = runtime.deps.audit.entries(action="crisis_playbook_saved")
    assert record.actor == GIULIA and record.before["steps"] == list(DEFAULT_STEPS) and record.after["steps"] == ["Call legal", "Pause ads"]


def test_notes_by_command_and_by_modal_reach_the_thread_and_the_status(runtime, signed, fake_slack):
    """`/crisis note` and the card's Add note both append to the record, the thread and `/crisis status`."""
    make_team(runtime.database, now=runtime.clock())
    card = declare(runtime, signed, fake_slack)
    assert "Note added to #1" in slash(runtime, signed, "note 1 legal approved the statement", OLIVER)["text"]
    slash(runtime, signed, 'note #1 it\'s  "official" now', OLIVER)  # quotes and spacing kept as typed
    assert "Usage" in slash(runtime, signed, "note 1", OLIVER)["text"]
    press(runtime, signed, OLIVER, CrisisActions.add_note, card)
    (modal,) = fake_slack.wait_for("views.open")
    assert modal.json_arg("view")["callback_id"] == NOTE_CALLBACK
    assert submit(runtime, signed, OLIVER, NOTE_CALLBACK, {"note": {"note": " "}}, modal.json_arg("view")["private_metadata"])["response_action"] == "errors"
    submit(runtime, signed, OLIVER, NOTE_CALLBACK, {"note": {"note": "statement published 03:40"}}, modal.json_arg("view")["private_metadata"])
    wait_until(lambda: sum("Note:" in c.args["text"] for c in thread_posts(fake_slack)) == 3, timeout=15)
    assert all(f"<@{OLIVER}>" not in c.args["text"] for c in thread_posts(fake_slack) if "Note:" in c.args["text"])
    status = dumped(slash(runtime, signed, "status 1", MARCUS)["blocks"])
    assert "Notes (3)" in status and f"<@{OLIVER}>: legal approved the statement" in status and "statement published 03:40" in status
    assert 'it\'s  \\"official\\" now' in status
    assert len(runtime.deps.audit.entries(action="crisis_note_added")) == 3
    help_text = dumped(slash(runtime, signed, "help", OLIVER))
    assert "/crisis note &lt;id&gt; &lt;text&gt;" in help_text or "/crisis note <id> <text>" in help_text
    assert "/crisis playbook [team]" in help_text


def policy_values(rows, repeat="2", still="30"):
    values = {"repeat": {"value": {"type": "number_input", "value": repeat}}, "still_on_it": {"value": {"type": "number_input", "value": still}}}
    for i, (target, wait) in enumerate(rows):
        target_id, wait_id = step_block_ids(i)
        values[target_id] = {"value": {"type": "static_select", "selected_option": {"value": target} if target else None}}
        values[wait_id] = {"value": {"type": "number_input", "value": wait}}
    return values


def test_admins_edit_the_policy_in_a_modal_with_inline_errors_and_an_audit(runtime, signed, fake_slack):
    """Members see the policy read-only; an admin's form shows field errors, then saves with before/after in the audit."""
    make_team(runtime.database, now=runtime.clock())
    member = slash(runtime, signed, "policy", MARCUS)
    assert "Only admins can change it" in member["text"] and "1. Primary — then wait 5 min" in dumped(member["blocks"])
    slash(runtime, signed, "policy", GIULIA)
    (opened,) = fake_slack.wait_for("views.open")
    metadata = opened.json_arg("view")["private_metadata"]
    bad = submit(runtime, signed, GIULIA, POLICY_EDIT_CALLBACK, policy_values([("primary", "5"), ("backup", None)], repeat="7"), metadata)
    assert bad["response_action"] == "errors" and set(bad["errors"]) == {step_block_ids(1)[1], "repeat"}
    assert Crises(runtime.database).policy(1) == DEFAULT_POLICY
    assert submit(runtime, signed, GIULIA, POLICY_EDIT_CALLBACK, policy_values([("both", "3"), ("managers", "10")], repeat="3", still="20"),
                  metadata) == {}
    saved = Crises(runtime.database).policy(1)
    assert [s.target for s in saved.steps] == [Target.PRIMARY_AND_BACKUP, Target.MANAGERS] and saved.repeat == 3
    (record,) = runtime.deps.audit.entries(action="escalation_policy_changed")
    assert record.before["steps"] == "primary 5, backup 10, group 15, managers 15" and record.after == {
        "steps": "both 3, managers 10", "repeat": 3, "still_on_it_minutes": 20}
    # The one-line form still works, keeping the repeat count and interval set in the form.
    assert "is now: primary 5, group 10" in slash(runtime, signed, "policy primary 5, group 10", GIULIA)["text"]
    assert Crises(runtime.database).policy(1).repeat == 3


def test_dm_copies_of_the_card_follow_ack_and_resolve(runtime, signed, fake_slack):
    """The paged person's DM copy is updated in place on acknowledge and on resolve, once each."""
    make_team(runtime.database, now=runtime.clock())
    primary = on_call(runtime, datetime.now(UTC)).primary
    card = declare(runtime, signed, fake_slack)
    wait_until(lambda: dms(fake_slack, primary))
    (dm,) = dms(fake_slack, primary)

    def dm_updates():
        return [c for c in fake_slack.calls("chat.update") if c.args["channel"] == dm.args["channel"] and c.args["ts"] == dm.response["ts"]]

    press(runtime, signed, primary, CrisisActions.acknowledge, card)
    wait_until(lambda: dm_updates())
    assert f"Acked by <@{primary}>" in dm_updates()[0].args["text"]
    assert "You are being paged" in dumped(dm_updates()[0].json_arg("blocks"))
    assert slash(runtime, signed, "resolve 1 handled", primary)["text"].startswith("Resolved")
    wait_until(lambda: len(dm_updates()) == 2)
    assert f"Resolved by <@{primary}>" in dm_updates()[-1].args["text"]
    assert all(b["type"] != "actions" for b in dm_updates()[-1].json_arg("blocks"))
    assert dm_updates()[-1].args["text"].startswith("You were paged")
    slash(runtime, signed, "note 1 post-mortem on Monday", primary)  # a note changes no card state: no third update
    wait_until(lambda: any("post-mortem" in c.args["text"] for c in thread_posts(fake_slack)))
    assert len(dm_updates()) == 2


def test_simultaneous_declares_of_one_topic_open_one_crisis(runtime, signed, fake_slack):
    """Six people declare the same topic at once: one crisis, one card, and five replies saying they joined it."""
    make_team(runtime.database, now=runtime.clock())
    barrier = threading.Barrier(6)
    replies: list[str] = []

    def run(i):
        barrier.wait()
        replies.append(slash(runtime, signed, "declare acme sev2 seen it too", f"U0RACE{i:04d}")["text"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(text.startswith("Declared #") for text in replies) == 1
    assert sum("already has an open crisis" in text for text in replies) == 5
    wait_until(lambda: channel_posts(fake_slack))
    assert len(Crises(runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)) == 1
    # The gateway paces posts to one channel at about one a second (Slack's limit), so nine thread lines take a while;
    # sweeping the outbox covers a delivery job that missed its grace while the scheduler's pool was busy.
    wait_until(lambda: jobs.sweep_outbox() or sum("Declared again" in c.args["text"] for c in thread_posts(fake_slack)) == 5, timeout=30)
    assert len(channel_posts(fake_slack)) == 1


def test_a_dm_copy_update_that_fails_transiently_goes_through_the_outbox_once(runtime, signed, fake_slack):
    """Slack answers the DM copy's chat.update with service_unavailable: the outbox sends it again, and only once."""
    make_team(runtime.database, now=runtime.clock())
    primary = on_call(runtime, datetime.now(UTC)).primary
    card = declare(runtime, signed, fake_slack)
    wait_until(lambda: dms(fake_slack, primary))
    (dm,) = dms(fake_slack, primary)
    fake_slack.fail("chat.update", error="service_unavailable")  # copies are refreshed before the channel card: this hits the DM

    def dm_updates():
        return [c for c in fake_slack.calls("chat.update") if c.args["channel"] == dm.args["channel"]]

    press(runtime, signed, primary, CrisisActions.acknowledge, card)
    wait_until(lambda: jobs.sweep_outbox() or [c for c in dm_updates() if not c.failed], timeout=15)
    assert [c.failed for c in dm_updates()] == [True, False]
    assert f"Acked by <@{primary}>" in dm_updates()[-1].args["text"]
    jobs.sweep_outbox()
    jobs.refresh_crisis_card(1)  # a later refresh with no state change sends nothing more
    assert len(dm_updates()) == 2
