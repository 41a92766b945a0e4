"""Buttons of the burnout guard: the backup takes the rest of a shift; an admin applies a rebalancing.

Both are acked first; the change is one conditional UPDATE plus its overrides, so a second press is told it is done.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import burnout, jobs
from bot.audit import Via
from bot.blocks.burnout import BurnoutActions, applied_reply, build_offer_accepted, mark_applied
from bot.errors import SocialopsError
from bot.slack_gateway import SlackCallFailed
from handlers.app_home import refresh_team_homes
from handlers.deps import Deps
from handlers.replies import tell_presser


def _update_in_place(deps: Deps, body: dict[str, Any], *, text: str, blocks: list[dict[str, Any]] | None, key: str) -> None:
    """Replace the pressed message for everyone who sees it; queue the update if Slack is busy."""
    channel = (body.get("channel") or {}).get("id")
    ts = (body.get("message") or {}).get("ts")
    if not (channel and ts):
        return
    try:
        deps.slack.update_message(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackCallFailed:
        jobs.enqueue_call(dedupe_key=key, method="chat.update", payload={"channel": channel, "ts": ts, "text": text, "blocks": blocks})


def register(app: App, deps: Deps) -> None:
    @app.action(BurnoutActions.accept_offer)
    def accept_offer(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            offer = burnout.accept_offer(deps.burnout, deps.audit, offer_id=int(action["value"]), user_id=user_id, now=deps.clock(), via=Via.button)
        except SocialopsError as refusal:
            tell_presser(deps, body, respond, str(refusal), dedupe_key=f"burnout-offer-refused:{action['value']}:{user_id}:{action.get('action_ts', '')}")
            return
        text, blocks = build_offer_accepted(offer)
        jobs.enqueue_call(dedupe_key=f"burnout-offer-accepted:{offer.id}", method="dm", payload={"user": offer.primary, "text": text, "blocks": blocks})
        refresh_team_homes(deps, offer.team.id)
        deps.run_later(lambda: _update_in_place(deps, body, text=text, blocks=blocks, key=f"burnout-offer-card:{offer.id}"))

    @app.action(BurnoutActions.apply_rebalance)
    def apply_rebalance(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            proposal = burnout.apply_rebalance(deps.burnout, deps.admins, deps.audit, proposal_id=int(action["value"]), user_id=user_id,
                                               now=deps.clock(), via=Via.button)
        except SocialopsError as refusal:
            tell_presser(deps, body, respond, str(refusal), dedupe_key=f"rebalance-refused:{action['value']}:{user_id}:{action.get('action_ts', '')}")
            return
        message = body.get("message") or {}
        blocks = mark_applied(message.get("blocks") or [], proposal)
        refresh_team_homes(deps, proposal.team.id)
        tell_presser(deps, body, respond, applied_reply(proposal), dedupe_key=f"rebalance-applied:{proposal.id}")
        deps.run_later(lambda: _update_in_place(deps, body, text=message.get("text") or "Rebalancing applied.", blocks=blocks or None,
                                                key=f"rebalance-card:{proposal.id}"))
