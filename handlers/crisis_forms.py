"""The admins' crisis forms: the playbook editor and the escalation policy editor (modals opened by `/crisis playbook|policy`).

Problems are shown next to the field (`response_action: errors`); a saved form is audited with before and after.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App

from bot import crisis, playbook
from bot.audit import Via
from bot.blocks.escalation_policy import POLICY_EDIT_CALLBACK
from bot.blocks.playbook import PLAYBOOK_EDIT_CALLBACK
from bot.blocks.setup import read_view_values
from bot.errors import NotAllowed
from bot.escalation import PolicyFormErrors, read_policy_form, step_block_ids
from bot.playbook import PlaybookFormErrors, read_playbook_form
from handlers.deps import Deps


def _team_id(view: dict[str, Any]) -> int:
    return int(json.loads(view.get("private_metadata") or "{}")["team_id"])


def register(app: App, deps: Deps) -> None:
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
                               edit=lambda _current: read_policy_form(values), user_id=body["user"]["id"], now=deps.clock(), via=Via.modal)
        except NotAllowed as refusal:
            ack(response_action="errors", errors={step_block_ids(0)[0]: str(refusal)})
            return
        except PolicyFormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        ack()
