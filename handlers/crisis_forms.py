"""Crisis forms: the resolve and note modals of the card, and the admins' playbook and escalation policy editors
(modals opened by `/crisis playbook|policy`).

Problems are shown next to the field (`response_action: errors`); a saved form is audited with before and after.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App

from bot import crisis, playbook
from bot.audit import Via
from bot.blocks.crisis import NOTE_CALLBACK, RESOLVE_CALLBACK
from bot.blocks.escalation_policy import POLICY_EDIT_CALLBACK
from bot.blocks.playbook import PLAYBOOK_EDIT_CALLBACK
from bot.blocks.setup import read_view_values
from bot.errors import NotAllowed
from bot.escalation import PolicyFormErrors, keep_step_kinds, read_policy_form, step_block_ids
from bot.playbook import PlaybookFormErrors, read_playbook_form
from handlers.after_ack import refusals_to_field
from handlers.crisis_buttons import on_call_now
from handlers.deps import Deps


def _team_id(view: dict[str, Any]) -> int:
    return int(json.loads(view.get("private_metadata") or "{}")["team_id"])


def _crisis_id(view: dict[str, Any]) -> int:
    return int(json.loads(view.get("private_metadata") or "{}")["crisis_id"])


def register(app: App, deps: Deps) -> None:
    @app.view(RESOLVE_CALLBACK)
    @refusals_to_field("note")
    def submit_resolve(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        note = (values.get("note", {}).get("note", {}) or {}).get("value") or ""
        choice = ((values.get("real", {}).get("real", {}) or {}).get("selected_option") or {}).get("value")
        crisis_id, user_id = _crisis_id(view), body["user"]["id"]
        found = crisis.get(deps.crises, crisis_id)
        resolved = crisis.resolve(deps.crises, deps.audit, crisis_id=crisis_id, user_id=user_id, note=note,
                                  real={"yes": True, "no": False}.get(choice or ""), on_call=on_call_now(deps, found),
                                  is_admin=deps.admins.is_admin(user_id), now=deps.clock(), via=Via.modal)
        ack()
        deps.run_later(lambda: deps.crisis_flow.after_change(resolved.id))

    @app.view(NOTE_CALLBACK)
    @refusals_to_field("note")
    def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        text = (values.get("note", {}).get("note", {}) or {}).get("value") or ""
        noted = crisis.add_note(deps.crises, deps.audit, crisis_id=_crisis_id(view), user_id=body["user"]["id"], text=text,
                                now=deps.clock(), via=Via.modal)
        ack()
        deps.run_later(lambda: deps.crisis_flow.after_change(noted.id))

    @app.view(PLAYBOOK_EDIT_CALLBACK)
    def save_playbook(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = read_view_values(view.get("state", {}))
        try:
            draft = read_playbook_form(str(values.get("steps") or ""), str(values.get("statements") or ""))
            playbook.save(deps.playbooks, deps.audit, deps.admins, team_id=_team_id(view), workspace_id=body["team"]["id"], draft=draft,
                          user_id=body["user"]["id"], now=deps.clock(), via=Via.modal)
        except PlaybookFormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        except NotAllowed as refusal:
            ack(response_action="errors", errors={"steps": str(refusal)})
            return
        ack()

    @app.view(POLICY_EDIT_CALLBACK)
    def save_policy(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = read_view_values(view.get("state", {}))
        try:
            crisis.save_policy(deps.crises, deps.audit, deps.admins, team_id=_team_id(view), workspace_id=body["team"]["id"],
                               edit=lambda current: keep_step_kinds(read_policy_form(values), current), user_id=body["user"]["id"], now=deps.clock(), via=Via.modal)
        except NotAllowed as refusal:
            ack(response_action="errors", errors={step_block_ids(0)[0]: str(refusal)})
            return
        except PolicyFormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        ack()
