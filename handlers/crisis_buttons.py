"""Buttons of the crisis card: acknowledge, respond, escalate, false alarm, and the two that open its modals (resolve, add note).

Each press is acked first; the state change is one conditional UPDATE (one acknowledgement however many press),
and the card update, timeline and paging run after the ack. Refusals go to the presser (handlers/after_ack.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import crisis
from bot.audit import Via
from bot.blocks.crisis import CrisisActions, build_note_modal, build_resolve_modal
from bot.errors import NotAllowed
from bot.slack_gateway import SlackCallFailed
from handlers.after_ack import refusals_to_presser
from handlers.deps import Deps

Change = Callable[[int, str], tuple[crisis.Crisis, str]]


def on_call_now(deps: Deps, found: crisis.Crisis) -> tuple[str, ...]:
    """Who is on call for the crisis' team now (they may close it)."""
    rotation = deps.rotations.load_rotation_by_id(found.team_id)
    return crisis.team_of(rotation, deps.clock()).on_call if rotation else ()


def register(app: App, deps: Deps) -> None:
    def button(change: Change):  # noqa: ANN202 - a Bolt listener
        @refusals_to_presser(deps, key="crisis-refused")
        def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
            ack()
            changed, reply = change(int(action["value"]), body["user"]["id"])

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
                                on_call=on_call_now(deps, found), is_admin=deps.admins.is_admin(user_id), now=deps.clock(), via=Via.button,
                                false_alarm=True)
        return closed, f"Closed {closed.title} as a false alarm."

    app.action(CrisisActions.acknowledge)(button(acknowledge))
    app.action(CrisisActions.responding)(button(responding))
    app.action(CrisisActions.escalate)(button(escalate))
    app.action(CrisisActions.false_alarm)(button(false_alarm))

    def open_form(body: dict[str, Any], respond: Respond, found: crisis.Crisis, build: Callable[[crisis.Crisis], dict[str, Any]],
                  command: str, argument: str) -> None:
        """Open the modal `build` makes for `found`; when Slack refuses it, name the `/crisis <command> <id> <argument>` that does the same."""
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
        if found.status.closed or not crisis.may_close(found, user_id, on_call=on_call_now(deps, found), is_admin=deps.admins.is_admin(user_id)):
            raise NotAllowed("This crisis is closed already." if found.status.closed else
                             "Only the person who acknowledged, a responder, whoever is on call or an admin can resolve it.")
        return found

    @app.action(CrisisActions.resolve)
    @refusals_to_presser(deps, key="crisis-resolve-refused")
    def open_resolve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        open_form(body, respond, closable(int(action["value"]), body["user"]["id"]), build_resolve_modal, "resolve", "note")

    @app.action(CrisisActions.add_note)
    @refusals_to_presser(deps, key="crisis-note-refused")
    def open_note(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        open_form(body, respond, crisis.get(deps.crises, int(action["value"])), build_note_modal, "note", "text")
