"""Buttons of the burnout guard: the backup takes the rest of a shift; an admin applies a rebalancing.

Both are acked first; the change is one conditional UPDATE plus its overrides, so a second press is told it is done.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import burnout
from bot.audit import Via
from bot.blocks.burnout import BurnoutActions, applied_reply, build_offer_accepted, mark_applied
from handlers.after_ack import refusals_to_presser
from handlers.app_home import refresh_team_homes
from handlers.deps import Deps
from handlers.replies import pressed_message, tell_presser, update_or_queue


def register(app: App, deps: Deps) -> None:
    @app.action(BurnoutActions.accept_offer)
    @refusals_to_presser(deps, key="burnout-offer-refused")
    def accept_offer(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        offer = burnout.accept_offer(deps.burnout, deps.audit, offer_id=int(action["value"]), user_id=user_id, now=deps.clock(), via=Via.button)
        text, blocks = build_offer_accepted(offer)
        deps.outbox.send(dedupe_key=f"burnout-offer-accepted:{offer.id}", method="dm", payload={"user": offer.primary, "text": text, "blocks": blocks})
        refresh_team_homes(deps, offer.team.id)
        deps.run_later(lambda: update_or_queue(deps, *pressed_message(body), text=text, blocks=blocks, dedupe_key=f"burnout-offer-card:{offer.id}"))

    @app.action(BurnoutActions.apply_rebalance)
    @refusals_to_presser(deps, key="rebalance-refused")
    def apply_rebalance(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        proposal = burnout.apply_rebalance(deps.burnout, deps.admins, deps.audit, proposal_id=int(action["value"]), user_id=user_id,
                                           now=deps.clock(), via=Via.button)
        message = body.get("message") or {}
        blocks = mark_applied(message.get("blocks") or [], proposal)
        refresh_team_homes(deps, proposal.team.id)
        tell_presser(deps, body, respond, applied_reply(proposal), dedupe_key=f"rebalance-applied:{proposal.id}")
        deps.run_later(lambda: update_or_queue(deps, *pressed_message(body), text=message.get("text") or "Rebalancing applied.",
                                               blocks=blocks or None, dedupe_key=f"rebalance-card:{proposal.id}"))
