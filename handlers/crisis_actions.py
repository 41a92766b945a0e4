"""Buttons of the crisis card and its modals: acknowledge, respond, escalate, resolve, false alarm, add note, playbook (and its ticks).

Each press is acked first; the state change is one conditional UPDATE (one acknowledgement however many press),
and the card update, timeline and paging run after the ack. Refusals go to the presser as ephemeral replies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import crisis, playbook
from bot.audit import Via
from bot.blocks.crisis import NOTE_CALLBACK, RESOLVE_CALLBACK, CrisisActions, build_note_modal, build_resolve_modal
from bot.blocks.playbook import PlaybookActions, build_playbook_message, parse_check_value
from bot.errors import NotAllowed, SocialopsError
from bot.slack_gateway import SlackCallFailed
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    def on_call_now(found: crisis.Crisis) -> tuple[str, ...]:
        rotation = deps.rotations.load_rotation_by_id(found.team_id)
        return crisis.team_of(rotation, deps.clock()).on_call if rotation else ()

    def button(change: Callable[[int, str], tuple[crisis.Crisis, str]]):  # noqa: ANN202 - a Bolt listener
        def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
            ack()
            try:
                changed, reply = change(int(action["value"]), body["user"]["id"])
            except SocialopsError as refusal:
                reason = str(refusal)  # the name `refusal` is cleared when the except block ends
                deps.run_later(lambda: respond(text=reason, response_type="ephemeral", replace_original=False))
                return

            def after() -> None:
                # The presser hears it from us, not through an @-mention on the card.
                respond(text=reply, response_type="ephemeral", replace_original=False)
                deps.crisis_flow.after_change(changed.id)
            deps.run_later(after)
        return listener

    def acknowledge(crisis_id: int, user_id: str) -> tuple[crisis.Crisis, str]:
        acked = crisis.acknowledge(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, now=deps.clock(), via=Via.button)
        return acked, f"You acknowledged {acked.title}; escalation stopped. Press *I'm responding* when you start."

    def responding(crisis_id: int, user_id: str) -> tuple[crisis.Crisis, str]:
        changed = crisis.respond(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, now=deps.clock(), via=Via.button)
        return changed, f"You are responding to {changed.title}. Thank you."

    def escalate(crisis_id: int, user_id: str) -> tuple[crisis.Crisis, str]:
        step = crisis.escalate_now(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, now=deps.clock(), via=Via.button)
        # Runs the step brought forward now and moves the later steps' date jobs to their new deadlines.
        deps.run_later(lambda: deps.crisis_flow.start_chain(crisis_id))
        return crisis.get(deps.crises, crisis_id), f"Escalating now: paging the {step.target.value}."

    def false_alarm(crisis_id: int, user_id: str) -> tuple[crisis.Crisis, str]:
        found = crisis.get(deps.crises, crisis_id)
        closed = crisis.resolve(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, note="", real=False,
                                on_call=on_call_now(found), is_admin=deps.admins.is_admin(user_id), now=deps.clock(), via=Via.button,
                                false_alarm=True)
        return closed, f"Closed {closed.title} as a false alarm."

    app.action(CrisisActions.acknowledge)(button(acknowledge))
    app.action(CrisisActions.responding)(button(responding))
    app.action(CrisisActions.escalate)(button(escalate))
    app.action(CrisisActions.false_alarm)(button(false_alarm))

    def open_form(body: dict[str, Any], respond: Respond, find: Callable[[], crisis.Crisis],
                  build: Callable[[crisis.Crisis], dict[str, Any]], command: str, argument: str) -> None:
        """Open the modal `build` makes for the crisis `find` returns, or tell the presser why not.

        When Slack refuses the form, the reply names the `/crisis <command> <id> <argument>` that does the same.
        """
        try:
            found = find()
        except SocialopsError as refusal:
            reason = str(refusal)
            deps.run_later(lambda: respond(text=reason, response_type="ephemeral", replace_original=False))
            return
        # The trigger id is good for 3 s, so the modal opens before anything slow.
        try:
            deps.slack.open_view(trigger_id=body["trigger_id"], view=build(found))
        except SlackCallFailed as failure:
            code = failure.code
            deps.run_later(lambda: respond(text=f"I could not open the form ({code}); use `/crisis {command} {found.id} <{argument}>`.",
                                           response_type="ephemeral", replace_original=False))

    def closable(crisis_id: int, user_id: str) -> crisis.Crisis:
        """Return the crisis if `user_id` may resolve it: the form is offered only to them."""
        found = crisis.get(deps.crises, crisis_id)
        if found.status.closed or not crisis.may_close(found, user_id, on_call=on_call_now(found), is_admin=deps.admins.is_admin(user_id)):
            raise NotAllowed("This crisis is closed already." if found.status.closed else
                             "Only the person who acknowledged, a responder, whoever is on call or an admin can resolve it.")
        return found

    @app.action(CrisisActions.resolve)
    def open_resolve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        open_form(body, respond, lambda: closable(int(action["value"]), body["user"]["id"]), build_resolve_modal, "resolve", "note")

    @app.view(RESOLVE_CALLBACK)
    def submit_resolve(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        note = (values.get("note", {}).get("note", {}) or {}).get("value") or ""
        choice = ((values.get("real", {}).get("real", {}) or {}).get("selected_option") or {}).get("value")
        crisis_id = int(json.loads(view.get("private_metadata") or "{}")["crisis_id"])
        user_id = body["user"]["id"]
        try:
            found = crisis.get(deps.crises, crisis_id)
            resolved = crisis.resolve(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, note=note,
                                      real={"yes": True, "no": False}.get(choice or ""), on_call=on_call_now(found),
                                      is_admin=deps.admins.is_admin(user_id), now=deps.clock(), via=Via.modal)
        except SocialopsError as refusal:
            # A modal shows errors next to a field; a plain message body would be ignored by Slack.
            ack(response_action="errors", errors={"note": str(refusal)})
            return
        ack()
        deps.run_later(lambda: deps.crisis_flow.after_change(resolved.id))

    @app.action(CrisisActions.add_note)
    def open_note(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        open_form(body, respond, lambda: crisis.get(deps.crises, int(action["value"])), build_note_modal, "note", "text")

    @app.view(NOTE_CALLBACK)
    def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        text = (values.get("note", {}).get("note", {}) or {}).get("value") or ""
        crisis_id = int(json.loads(view.get("private_metadata") or "{}")["crisis_id"])
        try:
            noted = crisis.add_note(deps.crises, deps.audit, crisis_id=crisis_id, user_id=body["user"]["id"], text=text, now=deps.clock(),
                                    via=Via.modal)
        except SocialopsError as refusal:
            ack(response_action="errors", errors={"note": str(refusal)})
            return
        ack()
        deps.run_later(lambda: deps.crisis_flow.after_change(noted.id))

    def render_playbook(found: crisis.Crisis) -> tuple[str, list[dict[str, Any]]]:
        book = playbook.team_playbook(deps.playbooks, found.team_id)
        return build_playbook_message(found, book, playbook.checks_by_step(deps.playbooks.checks(found.id)))

    def thread_link(found: crisis.Crisis, ts: str) -> str:
        try:
            return deps.slack.call("chat.getPermalink", channel=found.channel, message_ts=ts)["permalink"]
        except SlackCallFailed:
            return ""  # the reply still says where to look

    def show_playbook(crisis_id: int, respond: Respond) -> None:
        """Post the checklist in the card's thread once (later presses refresh it there); without a card, show it to the presser."""
        found = crisis.get(deps.crises, crisis_id)
        text, blocks = render_playbook(found)
        if found.channel is None or found.message_ts is None:
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            return
        if deps.crises.claim_playbook_post(crisis_id=found.id):
            try:
                posted = deps.slack.post_message(channel=found.channel, thread_ts=found.message_ts, text=text, blocks=blocks)
            except SlackCallFailed:
                deps.crises.set_playbook_post(crisis_id=found.id, ts=None)  # the next press tries again
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
                return
            deps.crises.set_playbook_post(crisis_id=found.id, ts=posted["ts"])
            ts = posted["ts"]
        else:
            ts = found.playbook_ts or ""
            if ts:
                update_playbook_message(found, text, blocks)
        link = thread_link(found, ts) if ts else ""
        where = f"<{link}|in the card's thread>" if link else f"in the thread under the card in <#{found.channel}>"
        respond(text=f"The playbook for {found.title} is {where}: tick each step there as it is done.", response_type="ephemeral",
                replace_original=False)

    def update_playbook_message(found: crisis.Crisis, text: str, blocks: list[dict[str, Any]]) -> None:
        assert found.channel is not None and found.playbook_ts
        try:
            deps.slack.update_message(channel=found.channel, ts=found.playbook_ts, text=text, blocks=blocks)
        except SlackCallFailed as failure:
            if not failure.transient:
                raise
            deps.outbox.send(dedupe_key=f"crisis-playbook:{found.id}:{text.splitlines()[0]}", method="chat.update",
                              payload={"channel": found.channel, "ts": found.playbook_ts, "text": text, "blocks": blocks})

    @app.action(CrisisActions.playbook)
    def open_playbook(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        crisis_id = int(action["value"])

        def after() -> None:
            try:
                show_playbook(crisis_id, respond)
            except SocialopsError as refusal:
                respond(text=str(refusal), response_type="ephemeral", replace_original=False)
        deps.run_later(after)

    @app.action(PlaybookActions.check)
    def check_step(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        crisis_id, step_id = parse_check_value(action["value"])
        try:
            found = crisis.get(deps.crises, crisis_id)
            playbook.check_step(deps.playbooks, deps.crises, deps.audit, crisis=found, step_id=step_id, user_id=body["user"]["id"],
                                now=deps.clock(), via=Via.button)
        except SocialopsError as refusal:
            reason = str(refusal)
            deps.run_later(lambda: respond(text=reason, response_type="ephemeral", replace_original=False))
            return
        pressed_ts = (body.get("container") or {}).get("message_ts")

        def after() -> None:
            current = crisis.get(deps.crises, crisis_id)
            text, blocks = render_playbook(current)
            if current.playbook_ts:
                update_playbook_message(current, text, blocks)
            if pressed_ts != current.playbook_ts:
                respond(text=text, blocks=blocks, replace_original=True)  # an ephemeral copy of the checklist
            deps.crisis_flow.refresh_card(crisis_id)  # the tick's line in the thread timeline
        deps.run_later(after)
