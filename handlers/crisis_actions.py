"""Buttons of the crisis card and the resolve modal: acknowledge, respond, escalate, resolve, false alarm, playbook.

Each press is acked first; the state change is one conditional UPDATE (one acknowledgement however many press),
and the card update, timeline and paging run after the ack. Refusals go to the presser as ephemeral replies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import crisis, jobs
from bot.audit import Via
from bot.blocks.crisis import RESOLVE_CALLBACK, CrisisActions, build_resolve_modal
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
                jobs.after_crisis_change(changed.id)
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
        deps.run_later(lambda: jobs.start_crisis_chain(crisis_id))
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

    @app.action(CrisisActions.resolve)
    def open_resolve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            found = crisis.get(deps.crises, int(action["value"]))
            if found.status.closed or not crisis.may_close(found, user_id, on_call=on_call_now(found), is_admin=deps.admins.is_admin(user_id)):
                raise NotAllowed("This crisis is closed already." if found.status.closed else
                                        "Only the person who acknowledged, a responder, whoever is on call or an admin can resolve it.")
        except SocialopsError as refusal:
            reason = str(refusal)
            deps.run_later(lambda: respond(text=reason, response_type="ephemeral", replace_original=False))
            return
        # The trigger id is good for 3 s, so the modal opens before anything slow.
        try:
            deps.slack.open_view(trigger_id=body["trigger_id"], view=build_resolve_modal(found))
        except SlackCallFailed as failure:
            code = failure.code
            deps.run_later(lambda: respond(text=f"I could not open the form ({code}); use `/crisis resolve {found.id} <note>`.",
                                           response_type="ephemeral", replace_original=False))

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
        deps.run_later(lambda: jobs.after_crisis_change(resolved.id))

    @app.action(CrisisActions.playbook)
    def open_playbook(ack: Ack, respond: Respond) -> None:
        ack()
        deps.run_later(lambda: respond(text="No playbook is set up for this team yet.", response_type="ephemeral", replace_original=False))
