"""Stakeholder update adapter: the reminder's Post update button opens the form; a submit records and posts the update."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import crisis, stakeholders
from bot.audit import Via
from bot.blocks.stakeholders import STAKEHOLDER_UPDATE_CALLBACK, StakeholderActions, build_update_modal
from bot.errors import SocialopsError, UsageError
from bot.flows.stakeholders import publish_update
from handlers.deps import Deps
from handlers.replies import tell_presser


def register(app: App, deps: Deps) -> None:
    @app.action(StakeholderActions.post_update.value)
    def open_update_form(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            found = crisis.get(deps.crises, int(action["value"]))
        except (SocialopsError, ValueError) as refusal:
            tell_presser(deps, body, respond, str(refusal), dedupe_key=f"stakeholder-refused:{action['value']}:{action.get('action_ts', '')}")
            return
        view = build_update_modal(found, channel=deps.stakeholder_channels.stakeholder_channel(found.team_id))
        deps.run_later(lambda: deps.slack.open_view(trigger_id=body["trigger_id"], view=view))

    @app.view(STAKEHOLDER_UPDATE_CALLBACK)
    def post_update(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = body["user"]["id"]
        text = str(((view.get("state", {}).get("values", {}).get("update") or {}).get("update") or {}).get("value") or "")
        try:
            found = crisis.get(deps.crises, int(json.loads(view.get("private_metadata") or "{}")["crisis_id"]))
            rotation = deps.rotations.load_rotation_by_id(found.team_id)
            on_call = crisis.team_of(rotation, deps.clock()).on_call if rotation else ()
            channel = deps.stakeholder_channels.stakeholder_channel(found.team_id)
            updated, event_id = stakeholders.post_update(deps.crises, deps.audit, crisis_id=found.id, user_id=user_id, text=text, channel=channel,
                                                         on_call=on_call, is_admin=deps.admins.is_admin(user_id), now=deps.clock(), via=Via.modal)
        except (SocialopsError, UsageError) as refusal:
            ack(response_action="errors", errors={"update": str(refusal)})
            return
        ack()
        publish_update(updated, event_id=event_id, author=user_id, text=text.strip(), channel=channel, outbox=deps.outbox)
        # The timeline line goes to the card's thread, and the next reminder moves to one interval after this update.
        deps.run_later(lambda: deps.crisis_flow.after_change(updated.id))
