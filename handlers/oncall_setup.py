"""`/oncall setup` adapter: open the modal, read its submission, save the team."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import mentions
from bot.access import require_admin
from bot.audit import AuditRecord, Via
from bot.blocks.oncall import build_confirmation
from bot.blocks.setup import SETUP_CALLBACK, build_setup_modal, read_view_values
from bot.crisis_query import SourcesQuery
from bot.errors import Conflict, NotAllowed, NotFound
from bot.slack_gateway import SlackCallFailed
from bot.team_setup import FormErrors, latest_start, read_form
from handlers.asker import asker_zone
from handlers.deps import Deps

Answer = tuple[str, list[dict[str, Any]]]


class TeamSetup:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def open(self, command: dict[str, Any], *, team: str | None) -> Answer:
        """Open the setup modal (prefilled when `team` exists); answer the slash command."""
        existing = self.deps.rotations.team_form(command["team_id"], team) if team else None
        if team and existing is None:
            raise NotFound(f"There is no team called {team!r}; run `/oncall setup` without a name to create one.")
        zone = asker_zone(self.deps, workspace_id=command["team_id"], user_id=command["user_id"])
        view = build_setup_modal(existing[1] if existing else None, default_tz=zone.key, team_id=existing[0] if existing else None)
        # views.open after the ack, still well inside the trigger's 3 seconds.
        self.deps.run_later(lambda: self.deps.slack.open_view(trigger_id=command["trigger_id"], view=view))
        return build_confirmation("Opening the team setup form…")


def learn_member_profiles(deps: Deps, *, workspace_id: str, user_ids: list[str]) -> None:
    """Fill each member's time zone from Slack (users.info)."""
    for user_id in user_ids:
        try:
            user = deps.slack.user_info(user_id)
        except SlackCallFailed:
            continue  # the daily health check reports people Slack no longer knows
        # The holiday calendar is the person's own choice (App Home) or the team's default, not their Slack language.
        deps.rotations.set_member_profile(workspace_id=workspace_id, user_id=user_id, tz=user.get("tz"), country=None)
        deps.people.remember(workspace_id=workspace_id, user_id=user_id, tz=user.get("tz"), deleted=bool(user.get("deleted")), now=deps.clock())


def register(app: App, deps: Deps) -> None:
    @app.view(SETUP_CALLBACK)
    def save_setup(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id, workspace_id = body["user"]["id"], body["team"]["id"]
        try:
            require_admin(deps.admins, user_id, action="set up teams")
        except NotAllowed as refusal:
            # A modal shows errors next to a field; a plain message body would be ignored by Slack.
            ack(response_action="errors", errors={"name": str(refusal)})
            return
        values = read_view_values(view.get("state", {}))
        try:
            form = read_form(values)
        except FormErrors as problems:
            ack(response_action="errors", errors=problems.errors)
            return
        now = deps.clock()
        # Count the rotation from its latest handoff, so someone is on call from the moment it is saved.
        epoch = latest_start(form, now)
        metadata = view.get("private_metadata") or ""
        try:
            team_id, before = deps.rotations.save_team(workspace_id=workspace_id, team_id=int(metadata) if metadata.isdigit() else None,
                                                       form=form, epoch=epoch, now=now)
        except Conflict as clash:
            ack(response_action="errors", errors={"name": str(clash)})
            return
        ack()
        deps.audit.record(AuditRecord(at=now, actor=user_id, action="team_saved", via=Via.modal, target=f"team:{team_id}", team_id=workspace_id,
                                      before=before, after={"name": form.name, "tz": form.tz, "roster": list(form.roster), "handoff": f"{form.handoff_weekday} {form.handoff_at}",
                                                            "length_days": form.length_days, "windows": [w.name for w in form.windows]}))
        deps.run_later(lambda: learn_member_profiles(deps, workspace_id=workspace_id, user_ids=[*form.roster, *form.shadows]))
        listening = values.get("listening_channel")
        if isinstance(listening, str) and listening:
            # The same use case (and audit entry) as `/crisis sources channel #channel`.
            mentions.configure_sources(deps.mentions, SourcesQuery("channel", channel_id=listening), workspace_id=workspace_id,
                                       actor=user_id, admins=deps.admins, audit=deps.audit, via=Via.modal, now=now)
        text, blocks = build_confirmation(f"Team *{form.name}* saved: {len(form.roster)} people, handoff {form.handoff_at} {form.tz}. Try `/oncall who {form.name}`.")
        deps.outbox.send(dedupe_key=f"team-saved:{team_id}:{now.isoformat()}", method="dm", payload={"user": user_id, "text": text, "blocks": blocks})
