"""/oncall changes end to end: cover + Take (with a 20-press race), swaps, time off, pauses, overrides,
offboarding, the setup modal and the calendar feed — signed requests in, spec-checked Slack calls out."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from bot.blocks.oncall import OncallActions
from bot.blocks.setup import SETUP_CALLBACK
from bot.rotation import HandoffRule, ScheduleIndex, next_handoff
from bot.server import BackgroundServer, build_asgi_app
from storage.rotations import Rotations

GIULIA, MARCUS, CHLOE, PRIYA = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004"  # giulia is the admin


@pytest.fixture
def rotations(runtime):
    return Rotations(runtime.database)


@pytest.fixture
def team(runtime, rotations):
    """A weekly team whose rotation started two handoffs ago, announcing in #social-announcements."""
    now = runtime.clock()
    epoch = next_handoff(HandoffRule(0, datetime.min.time().replace(hour=9), ZoneInfo("Europe/Rome")), now - timedelta(days=14))
    team_id = rotations.create_team(workspace_id="T0DEMO", name="social", tz="Europe/Rome", epoch=epoch, now=now,
                                    roster=[GIULIA, MARCUS, CHLOE, PRIYA], announce_channel="C0DEMOANNOUNCE")
    rotations.set_team_accounts(team_id=team_id, names=["Instagram @acme", "Sprout Social"])
    return team_id


def responses(fake_slack, name, count=1, timeout=5.0):
    """Wait for `count` posts to a response URL (answers to buttons are sent after the ack)."""
    deadline = time.monotonic() + timeout
    while len(fake_slack.responses(name)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake_slack.responses(name)


def slash(runtime, signed, text, user):
    response = runtime.app.dispatch(signed.slash_command("/oncall", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    return json.loads(response.body)


def primary_now(rotations, at=None):
    rotation = rotations.load_rotation("T0DEMO", "social")
    return ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(at or datetime.now(UTC))


def test_cover_request_card_take_updates_in_place_and_tells_requester(runtime, signed, fake_slack, rotations, team):
    """The primary asks for cover; Marcus presses Take; the card shows who took it; the override holds."""
    requester = primary_now(rotations).primary
    taker = next(u for u in (MARCUS, CHLOE, PRIYA) if u != requester)
    body = slash(runtime, signed, "cover now +3h school run", requester)
    assert "Cover request posted in <#C0DEMOANNOUNCE>" in body["text"]
    (card,) = fake_slack.wait_for("chat.postMessage", 1)
    assert card.args["channel"] == "C0DEMOANNOUNCE"
    take = card.json_arg("blocks")[-1]["elements"][0]
    assert take["action_id"] == OncallActions.cover_take
    pressed = runtime.app.dispatch(signed.block_action(user_id=taker, action_id=take["action_id"], value=take["value"],
                                                       channel_id="C0DEMOANNOUNCE", message_ts=card.response["ts"]).as_bolt_request())
    assert pressed.status == 200
    (update,) = fake_slack.wait_for("chat.update", 1)
    assert f"Taken by <@{taker}>" in json.dumps(update.json_arg("blocks"))
    assert all(b["type"] != "actions" for b in update.json_arg("blocks"))
    assert primary_now(rotations, datetime.now(UTC) + timedelta(minutes=5)).primary == taker
    dms = fake_slack.wait_for("chat.postMessage", 2, timeout=10)
    assert any(f"<@{taker}> took your cover request" in c.args["text"] for c in dms)
    assert [e.action for e in runtime.deps.audit.entries()] [-2:] == ["cover_requested", "cover_taken"]


def test_twenty_concurrent_takes_give_exactly_one_override(runtime, signed, fake_slack, rotations, team):
    """Twenty people press Take at once over HTTP: one override, and every presser gets an answer."""
    requester = primary_now(rotations).primary
    slash(runtime, signed, "cover now +2h", requester)
    (card,) = fake_slack.wait_for("chat.postMessage", 1)
    value = card.json_arg("blocks")[-1]["elements"][0]["value"]
    pressers = [f"U0RACE{i:04d}" for i in range(20)]
    statuses: list[int] = []
    with BackgroundServer(build_asgi_app(runtime)) as server:
        barrier = threading.Barrier(len(pressers))

        def press(user: str) -> None:
            request = signed.block_action(user_id=user, action_id=OncallActions.cover_take, value=value,
                                          channel_id="C0DEMOANNOUNCE", message_ts=card.response["ts"], response_url=fake_slack.response_url(user))
            barrier.wait()
            statuses.append(httpx.post(f"{server.url}/slack/events", content=request.body.encode(), headers=request.headers_for_http(), timeout=20).status_code)

        threads = [threading.Thread(target=press, args=(u,)) for u in pressers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 20
    rotation = rotations.load_rotation("T0DEMO", "social")
    assert len(rotation.layers.overrides) == 1
    winner = rotation.layers.overrides[0].user_id
    answers = {r.name: r.body["text"] for r in responses(fake_slack, None, 20)}
    assert set(answers) == set(pressers)
    assert sum("Thank you" in text for text in answers.values()) == 1
    assert all(f"Already taken by <@{winner}>" in text for name, text in answers.items() if name != winner)


def test_requester_cannot_take_their_own_request(runtime, signed, fake_slack, rotations, team):
    """Pressing Take on your own request is refused with a reason."""
    requester = primary_now(rotations).primary
    slash(runtime, signed, "cover now +1h", requester)
    (card,) = fake_slack.wait_for("chat.postMessage", 1)
    value = card.json_arg("blocks")[-1]["elements"][0]["value"]
    runtime.app.dispatch(signed.block_action(user_id=requester, action_id=OncallActions.cover_take, value=value, channel_id="C0DEMOANNOUNCE",
                                             message_ts=card.response["ts"], response_url=fake_slack.response_url("self")).as_bolt_request())
    assert "someone else has to take it" in responses(fake_slack, "self")[0].body["text"]
    assert rotations.load_rotation("T0DEMO", "social").layers.overrides == ()


def test_cover_when_not_on_call_is_refused(runtime, signed, rotations, team):
    """Asking cover for time you are not on call gets a usage answer."""
    off_duty = primary_now(rotations)
    nobody = next(u for u in (GIULIA, MARCUS, CHLOE, PRIYA) if u not in (off_duty.primary, off_duty.backup))
    assert "not on call in that range" in slash(runtime, signed, "cover now +1h", nobody)["text"]


def test_swap_request_accepted_changes_the_schedule(runtime, signed, fake_slack, rotations, team):
    """Marcus offers his next primary week to Chloe for hers; she accepts; the weeks trade places."""
    rotation = rotations.load_rotation("T0DEMO", "social")
    index = ScheduleIndex(rotation.spec, rotation.layers)
    now = datetime.now(UTC)
    requester_week = next(s for s in index.next_shifts(MARCUS, now, 10) if s.role.value == "primary")
    other_week = next(s for s in index.next_shifts(CHLOE, requester_week.end, 10) if s.role.value == "primary")
    at = other_week.start + timedelta(hours=2)
    body = slash(runtime, signed, f"swap <@{CHLOE}|chloe> {at.astimezone(ZoneInfo('America/New_York')):%Y-%m-%d %H:%M}", MARCUS)
    assert "Asked <@U0DEMO0003> to swap" in body["text"]
    dm = fake_slack.wait_for("chat.postMessage", 1, timeout=10)[0]
    accept = dm.json_arg("blocks")[-1]["elements"][0]
    runtime.app.dispatch(signed.block_action(user_id=CHLOE, action_id=accept["action_id"], value=accept["value"], channel_id=dm.args["channel"],
                                             message_ts=dm.response["ts"], response_url=fake_slack.response_url("accept")).as_bolt_request())
    assert responses(fake_slack, "accept")[0].body["text"] == "Swap accepted."
    after = rotations.load_rotation("T0DEMO", "social")
    swapped = ScheduleIndex(after.spec, after.layers)
    assert swapped.who_is_on_call(max(requester_week.start, now) + timedelta(minutes=1)).primary == CHLOE
    assert swapped.who_is_on_call(at).primary == MARCUS


def test_only_the_person_asked_can_answer_a_swap(runtime, signed, fake_slack, rotations, team):
    """Someone else pressing Accept gets told who can answer."""
    rotation = rotations.load_rotation("T0DEMO", "social")
    index = ScheduleIndex(rotation.spec, rotation.layers)
    other_week = next(s for s in index.next_shifts(CHLOE, datetime.now(UTC), 10) if s.role.value == "primary")
    slash(runtime, signed, f"swap <@{CHLOE}|chloe> +{int((other_week.start - datetime.now(UTC)).total_seconds() // 3600) + 2}h", MARCUS)
    dm = fake_slack.wait_for("chat.postMessage", 1, timeout=10)[0]
    accept = dm.json_arg("blocks")[-1]["elements"][0]
    runtime.app.dispatch(signed.block_action(user_id=PRIYA, action_id=accept["action_id"], value=accept["value"], channel_id=dm.args["channel"],
                                             message_ts=dm.response["ts"], response_url=fake_slack.response_url("intruder")).as_bolt_request())
    assert "Only <@U0DEMO0003> can answer" in responses(fake_slack, "intruder")[0].body["text"]


def test_time_off_skips_the_person_and_back_ends_it(runtime, signed, rotations, team):
    """`away` removes the primary from now on; `back` restores them."""
    primary = primary_now(rotations).primary
    assert "Time off #1 recorded" in slash(runtime, signed, "away now +2d", primary)["text"]
    assert primary_now(rotations, datetime.now(UTC) + timedelta(minutes=1)).primary != primary
    assert "Welcome back" in slash(runtime, signed, "back", primary)["text"]
    assert primary_now(rotations, datetime.now(UTC) + timedelta(minutes=1)).primary == primary
    assert "not on time off" in slash(runtime, signed, "back", primary)["text"]


def test_pause_others_needs_an_admin_and_is_audited(runtime, signed, rotations, team):
    """A member may pause themselves, not others; an admin may; each change is audited."""
    assert "Only admins can pause someone else" in slash(runtime, signed, f"pause <@{PRIYA}|priya>", MARCUS)["text"]
    assert "is paused" in slash(runtime, signed, f"pause <@{PRIYA}|priya>", GIULIA)["text"]
    assert {m.user_id: m.paused for m in rotations.load_rotation("T0DEMO", "social").spec.members}[PRIYA]
    assert "back in the rotation" in slash(runtime, signed, "resume", PRIYA)["text"]
    actions = [(e.actor, e.action, e.before, e.after["paused"]) for e in runtime.deps.audit.entries() if e.action.startswith("member_")]
    assert actions == [(GIULIA, "member_paused", {"paused": False}, True), (PRIYA, "member_resumed", {"paused": True}, False)]


def test_override_is_for_admins(runtime, signed, rotations, team):
    """Members are refused with the admin named; an admin's override takes effect."""
    assert "Only admins can add overrides. Ask <@U0DEMO0001>." in slash(runtime, signed, f"override <@{PRIYA}|priya> now +4h", MARCUS)["text"]
    assert "is primary for *social*" in slash(runtime, signed, f"override <@{PRIYA}|priya> now +4h", GIULIA)["text"]
    assert primary_now(rotations, datetime.now(UTC) + timedelta(minutes=1)).primary == PRIYA


@pytest.mark.parametrize(("text", "expected"), [
    ("cover", "Usage: `/oncall cover"),
    ("cover someday never", "couldn't read"),
    ("away +2d now", "not after the start"),
    ("swap chloe friday", "is not a person"),
    ("override", "Usage: `/oncall override"),
])
def test_malformed_changes_get_usage(runtime, signed, team, text, expected):
    """Wrong arguments are answered with an ephemeral usage message."""
    body = slash(runtime, signed, text, MARCUS)
    assert body["response_type"] == "ephemeral" and expected in body["text"]


def test_offboarding_removes_them_and_sends_a_checklist_admins_confirm(runtime, signed, fake_slack, rotations, team):
    """Offboard re-flows the rotation; each admin gets a checklist whose buttons record who confirmed."""
    body = slash(runtime, signed, f"offboard <@{CHLOE}|chloe>", GIULIA)
    assert "out of social" in body["text"] and "checklist of 2 account(s)" in body["text"]
    assert CHLOE not in rotations.load_rotation("T0DEMO", "social").spec.roster
    (dm,) = fake_slack.wait_for("chat.postMessage", 1, timeout=10)
    button = dm.json_arg("blocks")[1]["accessory"]
    runtime.app.dispatch(signed.block_action(user_id=MARCUS, action_id=button["action_id"], value=button["value"], channel_id=dm.args["channel"],
                                             message_ts=dm.response["ts"], response_url=fake_slack.response_url("member")).as_bolt_request())
    assert "Only admins can confirm" in responses(fake_slack, "member")[0].body["text"]
    signed.team_id = "T0OTHER"  # an admin's press carrying this workspace's task id from another workspace
    runtime.app.dispatch(signed.block_action(user_id=GIULIA, action_id=button["action_id"], value=button["value"], channel_id=dm.args["channel"],
                                             message_ts=dm.response["ts"], response_url=fake_slack.response_url("elsewhere")).as_bolt_request())
    assert "no longer exists" in responses(fake_slack, "elsewhere")[0].body["text"]
    signed.team_id = "T0DEMO"
    runtime.app.dispatch(signed.block_action(user_id=GIULIA, action_id=button["action_id"], value=button["value"], channel_id=dm.args["channel"],
                                             message_ts=dm.response["ts"], response_url=fake_slack.response_url("admin")).as_bolt_request())
    updated = responses(fake_slack, "admin")[0].body
    assert updated["replace_original"] is True and "confirmed by <@U0DEMO0001>" in json.dumps(updated["blocks"])
    assert [(e.action, e.team_id) for e in runtime.deps.audit.entries()][-2:] == [("offboarded", "T0DEMO"), ("offboarding_confirmed", "T0DEMO")]


def test_deactivated_user_event_offboards_them(runtime, signed, fake_slack, rotations, team):
    """Slack's user_change with deleted=true takes the person out of every rotation."""
    event = {"type": "user_change", "user": {"id": PRIYA, "team_id": "T0DEMO", "deleted": True, "tz": "Asia/Kolkata"}}
    assert runtime.app.dispatch(signed.event(event, event_id="EvGone").as_bolt_request()).status == 200
    deadline = time.monotonic() + 15
    while not runtime.deps.audit.entries(action="offboarded") and time.monotonic() < deadline:
        time.sleep(0.05)  # the offboarding runs after the ack; its audit record is written last
    assert PRIYA not in rotations.load_rotation("T0DEMO", "social").spec.roster
    assert runtime.deps.audit.entries(action="offboarded")[0].actor == "system"


def test_setup_modal_opens_for_admins_and_creates_a_team(runtime, signed, fake_slack, rotations):
    """An admin opens the modal (views.open) and saving it creates a working rotation."""
    assert "Opening the team setup form" in slash(runtime, signed, "setup", GIULIA)["text"]
    (opened,) = fake_slack.wait_for("views.open", 1)
    assert opened.json_arg("view")["callback_id"] == SETUP_CALLBACK
    values = {
        "name": {"value": "brand-us"}, "tz": {"value": "America/New_York"},
        "handoff_weekday": {"value": {"type": "static_select", "selected_option": {"value": "0"}}},
        "handoff_at": {"value": "09:00"}, "length_days": {"value": "7"},
        "roster": {"value": {"type": "multi_users_select", "selected_users": [MARCUS, PRIYA]}},
        "accounts": {"value": "X @acme_us"},
    }
    response = runtime.app.dispatch(signed.view_submission(user_id=GIULIA, callback_id=SETUP_CALLBACK, values=values).as_bolt_request())
    assert response.status == 200 and not response.body
    assert "On call for *brand-us*" in slash(runtime, signed, "who brand-us", MARCUS)["text"]
    assert rotations.team_accounts(rotations.load_rotation("T0DEMO", "brand-us").team.id) == ["X @acme_us"]
    # Members' own zones come from Slack's users.info after the save (the stand-in knows Priya is in Kolkata).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        zones = {m.user_id: m.tz for m in rotations.load_rotation("T0DEMO", "brand-us").spec.members}
        if zones[PRIYA] == "Asia/Kolkata":
            break
        time.sleep(0.05)
    assert zones == {MARCUS: "America/New_York", PRIYA: "Asia/Kolkata"}


def test_setup_form_errors_are_shown_next_to_the_fields(runtime, signed):
    """Bad values come back as response_action=errors keyed by block."""
    values = {"name": {"value": "Bad Name!"}, "tz": {"value": "Mars/Olympus"}, "handoff_at": {"value": "25:00"},
              "handoff_weekday": {"value": {"type": "static_select", "selected_option": {"value": "0"}}},
              "length_days": {"value": "7"}, "roster": {"value": {"type": "multi_users_select", "selected_users": []}}}
    response = runtime.app.dispatch(signed.view_submission(user_id=GIULIA, callback_id=SETUP_CALLBACK, values=values).as_bolt_request())
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"name", "tz", "handoff_at", "roster"}


def test_setup_is_refused_to_members(runtime, signed, fake_slack):
    """A member asking for setup is told who can, and no modal opens."""
    assert "Only admins can set up teams" in slash(runtime, signed, "setup", MARCUS)["text"]
    assert fake_slack.calls("views.open") == []


def test_calendar_link_serves_the_schedule_and_wrong_tokens_get_404(runtime, signed, team):
    """The personal URL returns a valid iCalendar with one event per shift; a wrong token is 404."""
    text = slash(runtime, signed, "calendar", MARCUS)["text"]
    url = next(word for word in text.split() if "/calendar/" in word)
    path = url.split("localhost:3000", 1)[1]
    with BackgroundServer(build_asgi_app(runtime)) as server:
        feed = httpx.get(server.url + path)
        mine = httpx.get(server.url + path + "&mine=1")
        wrong = httpx.get(server.url + path.split("token=")[0] + "token=nope")
        other_team = httpx.get(server.url + path.replace("/social.ics", "/other.ics"))
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert len(events) >= 26
    assert all(str(e["DTSTART"].dt.tzinfo) == "Europe/Rome" for e in events)
    assert {e["DTSTART"].dt.hour for e in events[1:]} == {9}  # handoffs stay at 09:00 local across DST
    my_events = Calendar.from_ical(mine.content).walk("VEVENT")
    assert 0 < len(my_events) < len(events)
    assert wrong.status_code == 404 and other_team.status_code == 404


def test_open_cover_requests_are_reminded_in_the_card_thread_until_taken(runtime, signed, fake_slack, rotations, team):
    """A reminder goes to the card's thread while open, and stops once someone takes it."""
    from bot import jobs
    from bot.flows.rotation_messages import COVER_REMINDER_EVERY

    rotation = rotations.load_rotation("T0DEMO", "social")
    week = next(s for s in ScheduleIndex(rotation.spec, rotation.layers).next_shifts(MARCUS, datetime.now(UTC), 10) if s.start > datetime.now(UTC) + timedelta(hours=12))
    start = week.start + timedelta(hours=1)
    slash(runtime, signed, f"cover {start:%Y-%m-%dT%H:%MZ} +3h", MARCUS)
    (card,) = fake_slack.wait_for("chat.postMessage", 1)
    job_id = f"cover-remind:{card.json_arg('blocks')[-1]['elements'][0]['value']}"
    deadline = time.monotonic() + 5
    while runtime.scheduler.get_job(job_id) is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the card is posted, then the reminder planned, after the ack
    reminder = runtime.scheduler.get_job(job_id)
    assert reminder is not None and reminder.next_run_time <= datetime.now(UTC) + COVER_REMINDER_EVERY
    request_id = int(card.json_arg("blocks")[-1]["elements"][0]["value"])
    jobs.remind_cover_request(request_id)
    nudges = fake_slack.wait_for("chat.postMessage", 2, timeout=10)
    assert nudges[-1].args["thread_ts"] == card.response["ts"] and "Still looking for cover" in nudges[-1].args["text"]
    rotations.take_cover_request(request_id=request_id, user_id=CHLOE, role="primary", now=datetime.now(UTC))
    jobs.remind_cover_request(request_id)
    time.sleep(0.5)
    assert len(fake_slack.calls("chat.postMessage")) == 2


@pytest.mark.parametrize(("hours_to_start", "expected_hours"), [(30, 4.0), (3, 1.0), (1.4, None)])
def test_reminders_slow_down_near_the_start_and_stop_in_the_last_hour(hours_to_start, expected_hours):
    """Every 4 h at most, halving near the deadline, none within the last hour (or half hour before it)."""
    from bot.flows.rotation_messages import next_cover_reminder

    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    when = next_cover_reminder(start=now + timedelta(hours=hours_to_start), now=now)
    assert (None if when is None else (when - now).total_seconds() / 3600) == expected_hours


def test_offboarding_hands_their_open_crises_to_the_current_primary(runtime, signed, fake_slack, rotations, team):
    """A crisis the leaver acknowledged pages whoever is primary now."""
    primary = primary_now(rotations).primary
    leaver = next(u for u in (MARCUS, CHLOE, PRIYA) if u != primary)
    assert runtime.app.dispatch(signed.slash_command("/crisis", "declare acme sev2 complaints", user_id=GIULIA, channel_id="C0DEMOTEAM").as_bolt_request()).status == 200
    (crisis,) = runtime.deps.crises.list_crises(workspace_id="T0DEMO", open_only=True)
    runtime.deps.crises.record_ack(crisis_id=crisis.id, user_id=leaver, at=datetime.now(UTC), via="button")
    body = slash(runtime, signed, f"offboard <@{leaver}|x>", GIULIA)
    assert "1 open crisis(es) they held were handed to the current primary" in body["text"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and primary not in runtime.deps.crises.get_crisis(crisis.id).paged:
        time.sleep(0.05)
    assert primary in runtime.deps.crises.get_crisis(crisis.id).paged
