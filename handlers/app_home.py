"""App Home adapter: publish a member's Home when they open it, when their settings change, and when
something it shows changes elsewhere (`refresh_team_homes`); always after the ack."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App

from bot import home
from bot.access import require_admin
from bot.audit import Via
from bot.blocks.home import HomeActions, build_home
from bot.burnout import PageRecord
from bot.crisis_query import CRISIS
from bot.oncall_query import ONCALL
from bot.rotation_messages import scheduled_people
from bot.slack_gateway import SlackCallFailed
from handlers.asker import asker_zone
from handlers.deps import Deps
from handlers.oncall_setup import TeamSetup

log = logging.getLogger(__name__)

# Which setting each Home control changes; the two delivery buttons both set page_via (their value says which).
SETTINGS_CONTROLS = {
    HomeActions.tz: home.SettingsField.tz,
    HomeActions.quiet_start: home.SettingsField.quiet_start,
    HomeActions.quiet_end: home.SettingsField.quiet_end,
    HomeActions.quiet_off: home.SettingsField.quiet_off,
    HomeActions.page_dm: home.SettingsField.page_via,
    HomeActions.page_channel: home.SettingsField.page_via,
    HomeActions.holiday_country: home.SettingsField.holiday_country,
}


class _PagesOnce:
    """One refresh's page reads: each team's pages are fetched once for all the Homes that refresh rebuilds."""

    def __init__(self, history: home.PageHistory) -> None:
        self._history = history
        self._fetched: dict[tuple[int, datetime, datetime], list[PageRecord]] = {}

    def pages(self, *, team_id: int, since: datetime, until: datetime) -> list[PageRecord]:
        key = (team_id, since, until)
        if key not in self._fetched:
            self._fetched[key] = self._history.pages(team_id=team_id, since=since, until=until)
        return self._fetched[key]


def publish_home(deps: Deps, *, workspace_id: str, user_id: str, now: datetime | None = None,
                 pages: home.PageHistory | None = None) -> None:
    """Compute and publish `user_id`'s Home (views.publish replaces it whole, so repeats are harmless).

    A refresh of many Homes passes one `now` and one page reader, so they share the page queries.
    """
    zone = asker_zone(deps, workspace_id=workspace_id, user_id=user_id)
    content = home.home_content(deps.rotations, deps.home_crises, deps.member_settings, workspace_id=workspace_id, user_id=user_id,
                                is_admin=deps.admins.is_admin(user_id), slack_tz=zone.key, now=deps.clock() if now is None else now,
                                pages=deps.burnout if pages is None else pages)
    deps.slack.publish_home(user_id=user_id, view=build_home(content, grammars=(ONCALL, CRISIS)))


def refresh_homes(deps: Deps, *, workspace_id: str, user_ids: Iterable[str]) -> None:
    """Republish each member's Home now; one failed publish does not keep the others stale."""
    now, pages = deps.clock(), _PagesOnce(deps.burnout)
    for user_id in dict.fromkeys(user_ids):
        try:
            publish_home(deps, workspace_id=workspace_id, user_id=user_id, now=now, pages=pages)
        except SlackCallFailed as failure:
            # Nothing to retry: the Home is rebuilt from scratch the next time the member opens it.
            log.warning("views.publish for %s failed (%s); their Home refreshes when they open it", user_id, failure.code)


def republish_team_homes(deps: Deps, team_id: int) -> None:
    """Republish now the Home of everyone the team may schedule."""
    rotation = deps.rotations.load_rotation_by_id(team_id)
    if rotation is not None:
        refresh_homes(deps, workspace_id=rotation.team.workspace_id, user_ids=scheduled_people(rotation.spec))


def refresh_team_homes(deps: Deps, team_id: int) -> None:
    """In the background, republish the Home of everyone the team may schedule: after the ack when a cover request
    changes, and for the jobs at handoffs and crisis changes (so building Homes never holds up a page)."""
    deps.run_later(lambda: republish_team_homes(deps, team_id))


def register(app: App, deps: Deps) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def on_open(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(deps, workspace_id=body["team_id"], user_id=event["user"])

    app.event("app_home_opened")(ack=ack_now, lazy=[on_open])

    def settings_listener(what: home.SettingsField):  # noqa: ANN202 - a Bolt listener
        def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            workspace_id, user_id = body["team"]["id"], body["user"]["id"]
            # Selects carry selected_option; buttons carry value.
            value = (action.get("selected_option") or {}).get("value") or action.get("value", "")
            home.change_settings(deps.member_settings, deps.audit, workspace_id=workspace_id, user_id=user_id, what=what, value=value,
                                 now=deps.clock(), via=Via.button)
            if what is home.SettingsField.holiday_country:
                deps.rotations.forget_cached()  # the rotation reads the calendar with the roster
            ack()
            deps.run_later(lambda: publish_home(deps, workspace_id=workspace_id, user_id=user_id))
        return listener

    for action_id, what in SETTINGS_CONTROLS.items():
        app.action(action_id)(settings_listener(what))

    @app.action(HomeActions.open_setup)
    def open_setup(ack: Ack, body: dict[str, Any]) -> None:
        user_id = body["user"]["id"]
        require_admin(deps.admins, user_id, action="set up teams")
        # block_actions carry a trigger_id, which is all the modal opener needs besides who and where.
        TeamSetup(deps).open({"team_id": body["team"]["id"], "user_id": user_id, "trigger_id": body["trigger_id"]}, team=None)
        ack()
