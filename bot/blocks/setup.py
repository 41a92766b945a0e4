"""The `/oncall setup` modal: one input block per field, block ids = TeamForm field names."""

from __future__ import annotations

from typing import Any

from bot.team_setup import WEEKDAY_NAMES, TeamForm

SETUP_CALLBACK = "oncall-setup"


def _text_input(block_id: str, label: str, *, initial: str = "", hint: str = "", optional: bool = False, multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional, "element": element,
                             "label": {"type": "plain_text", "text": label}}
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def build_setup_modal(form: TeamForm | None, *, default_tz: str, team_id: int | None) -> dict[str, Any]:
    """Return the modal view, prefilled from `form` when editing a team."""
    weekday = form.handoff_weekday if form else 0
    options = [{"text": {"type": "plain_text", "text": name}, "value": str(i)} for i, name in enumerate(WEEKDAY_NAMES)]
    users = {"type": "input", "block_id": "roster", "label": {"type": "plain_text", "text": "Roster, in rotation order"},
             "element": {"type": "multi_users_select", "action_id": "value", **({"initial_users": list(form.roster)} if form else {})}}
    shadows = {"type": "input", "block_id": "shadows", "optional": True, "label": {"type": "plain_text", "text": "Shadows (trainees, never paged alone)"},
               "element": {"type": "multi_users_select", "action_id": "value", **({"initial_users": list(form.shadows)} if form and form.shadows else {})}}

    def channel(block_id: str, label: str, initial: str | None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "conversations_select", "action_id": "value", "filter": {"include": ["public", "private"]}}
        if initial:
            element["initial_conversation"] = initial
        return {"type": "input", "block_id": block_id, "optional": True, "label": {"type": "plain_text", "text": label}, "element": element}

    holidays: dict[str, Any] = {"type": "checkboxes", "action_id": "value", "options": [
        {"text": {"type": "plain_text", "text": "Skip people on their country's public holidays"}, "value": "yes"}]}
    if form and form.observe_holidays:
        holidays["initial_options"] = holidays["options"]
    windows = "\n".join(f"{w.name} {w.start}-{w.end} {w.tz} " + " ".join(f"<@{u}>" for u in w.roster) for w in form.windows) if form else ""
    blocks = [
        _text_input("name", "Team name", initial=form.name if form else "", hint="Lowercase, e.g. brand-eu"),
        _text_input("tz", "Team time zone", initial=form.tz if form else default_tz, hint="IANA name, e.g. Europe/Rome"),
        {"type": "input", "block_id": "handoff_weekday", "label": {"type": "plain_text", "text": "Handoff day"},
         "element": {"type": "static_select", "action_id": "value", "options": options, "initial_option": options[weekday]}},
        _text_input("handoff_at", "Handoff time (team zone)", initial=form.handoff_at if form else "09:00", hint="24-hour HH:MM"),
        _text_input("length_days", "Rotation length in days", initial=str(form.length_days) if form else "7", hint="7 weekly, 1 daily"),
        users,
        shadows,
        channel("announce_channel", "Announcements channel", form.announce_channel if form else None),
        channel("crisis_channel", "Crisis channel", form.crisis_channel if form else None),
        # Workspace-wide, not part of the team: adds a channel `/crisis sources` lists (and `unlisten` removes).
        channel("listening_channel", "Listening channel: your listening tool's posts there become mentions", None),
        _text_input("usergroup_id", "User group ID to keep in sync", initial=(form.usergroup_id or "") if form else "", optional=True, hint="e.g. S012AB3CD (@social-oncall)"),
        {"type": "input", "block_id": "observe_holidays", "optional": True, "label": {"type": "plain_text", "text": "Public holidays"}, "element": holidays},
        _text_input("holiday_country", "Team's public-holiday calendar (country code)", initial=(form.holiday_country or "") if form else "",
                    optional=True, hint="e.g. IT. Each person can choose their own on the App Home; this is for those who have not."),
        _text_input("windows", "Follow-the-sun windows (optional)", initial=windows, optional=True, multiline=True,
                    hint="One per line: Europe 07:00-19:00 Europe/Rome @ana @ben"),
        _text_input("accounts", "Accounts to revoke when someone leaves", initial="\n".join(form.accounts) if form else "", optional=True,
                    multiline=True, hint="One per line, e.g. Instagram @acme, Sprout Social"),
    ]
    return {"type": "modal", "callback_id": SETUP_CALLBACK, "private_metadata": str(team_id or ""),
            "title": {"type": "plain_text", "text": "On-call team setup"}, "submit": {"type": "plain_text", "text": "Save"},
            "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}


def read_view_values(state: dict[str, Any]) -> dict[str, object]:
    """Flatten a view_submission's state into {field: value} (Slack nests it by block and action)."""
    values: dict[str, object] = {}
    for block_id, actions in state.get("values", {}).items():
        element = actions.get("value", {})
        kind = element.get("type")
        if kind == "multi_users_select":
            values[block_id] = element.get("selected_users") or []
        elif kind == "static_select":
            values[block_id] = (element.get("selected_option") or {}).get("value")
        elif kind == "conversations_select":
            values[block_id] = element.get("selected_conversation")
        elif kind == "checkboxes":
            values[block_id] = bool(element.get("selected_options"))
        else:
            values[block_id] = element.get("value")
    return values
