"""Offboarding adapter: `/oncall offboard @who`, Slack's deactivation event, and the checklist buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import oncall
from bot.access import require_admin
from bot.audit import SYSTEM_ACTOR, Via
from bot.blocks.oncall import OncallActions, build_confirmation
from bot.blocks.offboarding import build_checklist
from bot.errors import NotFound
from bot.offboarding import confirm_task, offboard
from handlers.after_ack import refusals_to_presser
from handlers.deps import Deps

Answer = tuple[str, list[dict[str, Any]]]


class Offboarding:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def offboard(self, *, actor: str, workspace_id: str, user_id: str, via: str) -> Answer:
        """Take the person out of every rotation and send the admins the revoke-access checklist."""
        result = offboard(self.deps.rotations, self.deps.audit, actor=actor, workspace_id=workspace_id, user_id=user_id, now=self.deps.clock(), via=via)
        text, blocks = build_checklist(user_id, self.deps.rotations.offboarding_tasks_of(workspace_id=workspace_id, user_id=user_id))
        for admin in self.deps.admins.admin_ids():
            self.deps.outbox.send(dedupe_key=f"offboard:{workspace_id}:{user_id}:{admin}", method="dm", payload={"user": admin, "text": text, "blocks": blocks})
        handed = self._hand_over_crises(actor=actor, workspace_id=workspace_id, user_id=user_id, teams=result.teams)
        return build_confirmation(
            f"<@{user_id}> is out of {', '.join(result.teams)}; their future shifts re-flowed to the others. "
            f"{handed} open crisis(es) they held were handed to the current primary. "
            f"Cancelled {result.cancelled_swaps} swap(s) and {result.cancelled_covers} cover request(s), removed {result.removed_overrides} override(s). "
            f"The admins got a checklist of {len(result.tasks)} account(s) to revoke."
        )


    def _hand_over_crises(self, *, actor: str, workspace_id: str, user_id: str, teams: list[str]) -> int:
        """Page the current primary for each open crisis the person acknowledged or was responding to."""
        handed = 0
        for crisis in self.deps.crises.list_crises(workspace_id=workspace_id, open_only=True, limit=100):
            if crisis.team_name not in teams or (crisis.acked_by != user_id and user_id not in crisis.responders):
                continue
            primary = oncall.who(self.deps.rotations, workspace_id=workspace_id, team=crisis.team_name, now=self.deps.clock()).now.primary
            if primary is None:
                continue  # a gap: the escalation chain's channel and admin steps still apply
            crisis_id = crisis.id
            self.deps.run_later(lambda: self.deps.crisis_flow.page_person(crisis_id, primary, actor))
            handed += 1
        return handed


def register(app: App, deps: Deps, offboarding: Offboarding) -> None:
    """Listen for deactivations and checklist buttons, using the same Offboarding as `/oncall offboard`."""

    def ack_now(ack: Ack) -> None:
        ack()

    def on_user_change(event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user", {})
        if not user.get("deleted"):
            return
        workspace_id = body.get("team_id") or user.get("team_id", "")
        deps.people.remember(workspace_id=workspace_id, user_id=user["id"], tz=user.get("tz"), deleted=True, now=deps.clock())
        try:
            offboarding.offboard(actor=SYSTEM_ACTOR, workspace_id=workspace_id, user_id=user["id"], via=Via.event)
        except NotFound:
            return  # a deactivated person who was in no rotation: nothing to do

    app.event("user_change")(ack=ack_now, lazy=[on_user_change])

    @app.action(OncallActions.offboard_confirm)
    @refusals_to_presser(deps, key="offboard-refused")
    def confirm(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        require_admin(deps.admins, user_id, action="confirm offboarding items")
        task = confirm_task(deps.rotations, deps.audit, workspace_id=body["team"]["id"], task_id=int(action["value"]),
                            user_id=user_id, now=deps.clock(), via=Via.button)
        text, blocks = build_checklist(task.user_id, deps.rotations.offboarding_tasks_of(workspace_id=body["team"]["id"], user_id=task.user_id))
        deps.run_later(lambda: respond(text=text, blocks=blocks, replace_original=True))

