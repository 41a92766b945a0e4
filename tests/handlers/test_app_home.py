"""App Home end to end: signed events and Home-container clicks in, spec-checked views.publish out."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.home import HomeActions
from bot.blocks.oncall import OncallActions
from bot.blocks.setup import SETUP_CALLBACK
from bot.home import PageVia
from bot.rotation import HandoffRule, ScheduleIndex, next_handoff
from bot.standin.signed_requests import FORM_CONTENT_TYPE
from handlers.app_home import republish_team_homes
from storage.member_settings import MemberSettingsStore
from storage.rotations import Rotations
from tests.fakes.waiting import wait_until

GIULIA, MARCUS, CHLOE, PRIYA = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004"  # giulia is the admin
TEAM = (GIULIA, MARCUS, CHLOE, PRIYA)


@pytest.fixture
def rotations(runtime):
    return Rotations(runtime.database)


@pytest.fixture
def team(runtime, rotations):
    """A weekly team whose rotation started two handoffs ago, announcing in #social-announcements."""
    now = runtime.clock()
    epoch = next_handoff(HandoffRule(0, datetime.min.time().replace(hour=9), ZoneInfo("Europe/Rome")), now - timedelta(days=14))
    return rotations.create_team(workspace_id="T0DEMO", name="social", tz="Europe/Rome", epoch=epoch, now=now,
                                 roster=list(TEAM), announce_channel="C0DEMOANNOUNCE")


def primary_now(rotations):
    rotation = rotations.load_rotation("T0DEMO", "social")
    return ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(datetime.now(UTC))


def open_home(runtime, signed, fake_slack, user, event_id):
    """Open the Home tab as `user` and return the view published for them."""
    mine = lambda: [c for c in fake_slack.calls("views.publish") if c.args.get("user_id") == user]  # noqa: E731
    before = len(mine())
    response = runtime.app.dispatch(signed.event({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}, event_id=event_id).as_bolt_request())
    assert response.status == 200
    # Handoffs and crisis changes republish other members' Homes meanwhile: wait for this member's own.
    wait_until(lambda: len(mine()) > before)
    return fake_slack.published_home(user)


def controls(view):
    """Return the view's interactive elements by action_id."""
    found = [b.get("accessory") for b in view["blocks"]] + [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return {e["action_id"]: e for e in found if e}


def press_in_home(runtime, signed, user, view, action_id, value):
    response = runtime.app.dispatch(signed.block_action(user_id=user, action_id=action_id, value=value, view=view).as_bolt_request())
    assert response.status == 200
    return response


def select_in_home(runtime, signed, user, view, action_id, value):
    """Send a static_select change from the Home as Slack shapes it: selected_option, no value."""
    payload = signed.block_action(user_id=user, action_id=action_id, view=view, action_type="static_select").payload()
    payload["actions"][0]["selected_option"] = {"text": {"type": "plain_text", "text": value}, "value": value}
    request = signed.sign(urlencode({"payload": json.dumps(payload)}), FORM_CONTENT_TYPE)
    response = runtime.app.dispatch(request.as_bolt_request())
    assert response.status == 200


def test_home_shows_who_is_on_call_my_shifts_stats_and_settings(runtime, signed, fake_slack, rotations, team):
    """A member's Home names the current primary and backup, their shifts, 30-day stats and settings."""
    view = open_home(runtime, signed, fake_slack, MARCUS, "EvA1")
    text = json.dumps(view, ensure_ascii=False)
    now = primary_now(rotations)
    assert f"primary <@{now.primary}>, backup <@{now.backup}>" in text
    assert "Your next shifts" in text and "Your last 30 days" in text and "Your settings" in text
    assert HomeActions.open_setup not in text  # Marcus is not an admin
    assert len(view["blocks"]) <= 100


def test_admin_home_shows_health_and_the_setup_button_opens_the_modal(runtime, signed, fake_slack, team):
    """Giulia (admin) sees schedule health; her Open setup press opens the setup modal with the click's trigger_id."""
    view = open_home(runtime, signed, fake_slack, GIULIA, "EvA2")
    assert "Schedule health" in json.dumps(view)
    press_in_home(runtime, signed, GIULIA, view, HomeActions.open_setup, "setup")
    (opened,) = fake_slack.wait_for("views.open", 1)
    assert opened.json_arg("view")["callback_id"] == SETUP_CALLBACK


def test_non_admin_cannot_open_setup_from_a_forged_click(runtime, signed, fake_slack, team):
    """A member who sends the admin button's action gets no modal."""
    view = open_home(runtime, signed, fake_slack, MARCUS, "EvA3")
    press_in_home(runtime, signed, MARCUS, view, HomeActions.open_setup, "setup")
    time.sleep(0.3)
    assert fake_slack.calls("views.open") == []


def test_home_with_many_cover_requests_stays_within_100_blocks(runtime, signed, fake_slack, rotations, team):
    """150 open requests still publish a spec-valid view of at most 100 blocks with a "more" note."""
    now = runtime.clock()
    requester = primary_now(rotations).primary
    viewer = next(u for u in TEAM if u != requester)
    for i in range(150):
        rotations.create_cover_request(team_id=team, requester=requester, start=now + timedelta(hours=i + 1), end=now + timedelta(hours=i + 2), note="x" * 400, now=now)
    view = open_home(runtime, signed, fake_slack, viewer, "EvA4")
    assert len(view["blocks"]) <= 100
    assert "140 more cover requests" in json.dumps(view)


def test_cover_request_republishes_the_teams_homes_and_take_from_home_works(runtime, signed, fake_slack, rotations, team):
    """/oncall cover refreshes every member's Home with a Take button; Take there makes the taker primary and clears it."""
    requester = primary_now(rotations).primary
    taker = next(u for u in TEAM if u != requester)
    response = runtime.app.dispatch(signed.slash_command("/oncall", "cover now +3h school run", user_id=requester, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    wait_until(lambda: all(fake_slack.published_home(u) for u in TEAM))
    home = fake_slack.published_home(taker)
    take = controls(home)[OncallActions.cover_take]
    assert "school run" in json.dumps(home)
    assert OncallActions.cover_take not in json.dumps(fake_slack.published_home(requester))  # nobody takes their own
    published = len(fake_slack.calls("views.publish"))
    press_in_home(runtime, signed, taker, home, take["action_id"], take["value"])
    fake_slack.wait_for("views.publish", published + len(TEAM))
    wait_until(lambda: OncallActions.cover_take not in json.dumps(fake_slack.published_home(taker)))
    rotation = rotations.load_rotation("T0DEMO", "social")
    assert [o.user_id for o in rotation.layers.overrides] == [taker]
    assert runtime.deps.audit.entries()[-1].action == "cover_taken"


def test_requester_is_told_when_cover_is_taken_from_the_home(runtime, signed, fake_slack, rotations, team):
    """Taking cover from the Home DMs the requester, as a Take on the channel card does."""
    requester = primary_now(rotations).primary
    taker = next(u for u in TEAM if u != requester)
    request_id = rotations.create_cover_request(team_id=team, requester=requester, start=runtime.clock(), end=runtime.clock() + timedelta(hours=2), note="", now=runtime.clock())
    home = open_home(runtime, signed, fake_slack, taker, "EvA5")
    press_in_home(runtime, signed, taker, home, OncallActions.cover_take, str(request_id))
    # Two DMs (no response_url in a Home click): the requester is told, and the taker is thanked.
    dms = fake_slack.wait_for("chat.postMessage", 2, timeout=10)
    assert any(f"<@{taker}> took your cover request" in c.args["text"] for c in dms)
    assert any("Thank you!" in c.args["text"] for c in dms)


def test_delivery_button_persists_the_setting_and_rerenders_the_home(runtime, signed, fake_slack, team):
    """Pressing Channel mention stores it and the republished Home highlights it."""
    view = open_home(runtime, signed, fake_slack, CHLOE, "EvA6")
    assert controls(view)[HomeActions.page_dm].get("style") == "primary"
    published = len(fake_slack.calls("views.publish"))
    press_in_home(runtime, signed, CHLOE, view, HomeActions.page_channel, PageVia.channel.value)
    fake_slack.wait_for("views.publish", published + 1)
    assert MemberSettingsStore(runtime.database).settings_of("T0DEMO", CHLOE).page_via is PageVia.channel
    after = fake_slack.published_home(CHLOE)
    assert controls(after)[HomeActions.page_channel].get("style") == "primary"
    assert runtime.deps.audit.entries()[-1].action == "settings_changed"


def test_zone_and_quiet_hour_selects_persist_and_show(runtime, signed, fake_slack, team):
    """Choosing a zone and a quiet-hours start from the selects stores them and the Home shows the range in that zone."""
    view = open_home(runtime, signed, fake_slack, PRIYA, "EvA7")
    published = len(fake_slack.calls("views.publish"))
    select_in_home(runtime, signed, PRIYA, view, HomeActions.tz, "Asia/Tokyo")
    select_in_home(runtime, signed, PRIYA, view, HomeActions.quiet_start, "23:00")
    fake_slack.wait_for("views.publish", published + 2)
    stored = MemberSettingsStore(runtime.database).settings_of("T0DEMO", PRIYA)
    assert (stored.tz, f"{stored.quiet_start:%H:%M}", f"{stored.quiet_end:%H:%M}") == ("Asia/Tokyo", "23:00", "08:00")
    wait_until(lambda: "23:00–08:00 (Asia/Tokyo)" in json.dumps(fake_slack.published_home(PRIYA), ensure_ascii=False))


def test_open_crises_show_on_the_home_with_acknowledge(runtime, signed, fake_slack, team):
    """A declared crisis is listed on a member's Home with its Acknowledge button."""
    body = runtime.app.dispatch(signed.slash_command("/crisis", "declare acme sev2 complaints rising", user_id=GIULIA, channel_id="C0DEMOTEAM").as_bolt_request())
    assert body.status == 200
    view = open_home(runtime, signed, fake_slack, CHLOE, "EvCrisisHome")
    assert "acme" in json.dumps(view)
    assert "crisis-ack" in json.dumps(view)


def test_refreshing_a_teams_homes_reads_its_pages_once(runtime, fake_slack, team):
    """Rebuilding every member's Home shares one page query for the team instead of one per member."""
    asked = []

    class CountingPages:
        def __getattr__(self, name):
            return getattr(runtime.deps.burnout, name)

        def pages(self, *, team_id, since, until):
            asked.append(team_id)
            return runtime.deps.burnout.pages(team_id=team_id, since=since, until=until)

    published = len(fake_slack.calls("views.publish"))
    republish_team_homes(replace(runtime.deps, burnout=CountingPages()), team)
    assert len(fake_slack.calls("views.publish")) - published >= len(TEAM)
    assert asked == [team]


def test_holiday_calendar_is_the_persons_own_choice_else_the_teams(runtime, signed, fake_slack, rotations, team):
    """The team's default calendar (IT) applies to everyone; Priya picks US on her Home: her calendar is US, audited,
    and picking "My team's default" again gives her IT back. Nothing is guessed from Slack's language."""
    from storage.tables import Team

    with runtime.database.session_scope() as session:
        row = session.get(Team, team)
        row.observe_holidays, row.holiday_country = True, "IT"
    rotations.forget_cached()
    calendars = lambda: {m.user_id: m.country for m in rotations.load_rotation("T0DEMO", "social").spec.members}  # noqa: E731
    assert calendars() == {user: "IT" for user in TEAM}
    view = open_home(runtime, signed, fake_slack, PRIYA, "EvHol1")
    select = controls(view)[HomeActions.holiday_country]
    assert select["initial_option"]["value"] == "team" and all(len(g["options"]) <= 100 for g in select["option_groups"])
    assert any(o["value"] == "US" for g in select["option_groups"] for o in g["options"])
    published = len(fake_slack.calls("views.publish"))
    select_in_home(runtime, signed, PRIYA, view, HomeActions.holiday_country, "US")
    fake_slack.wait_for("views.publish", published + 1)
    assert calendars()[PRIYA] == "US" and calendars()[MARCUS] == "IT"
    assert runtime.deps.audit.entries()[-1].after["holiday_country"] == "US"
    wait_until(lambda: "the US calendar" in json.dumps(fake_slack.published_home(PRIYA)))
    select_in_home(runtime, signed, PRIYA, view, HomeActions.holiday_country, "team")
    assert calendars()[PRIYA] == "IT"
