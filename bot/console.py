"""Console mode: the real Bolt app, handlers and database, talking to an in-process Slack stand-in.

A person types what they would type in Slack; each request is signed and dispatched through Bolt
(signature check included), and everything the bot sends to the stand-in is printed from its Block Kit.
"""

from __future__ import annotations

import json
import os
import random
import urllib.error
import urllib.request
import uuid
import re
import secrets
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event

from bot import crisis, jobs, mentions
from bot.app import Runtime, create_runtime
from bot.blocks.text_render import Button, plain, render_blocks, render_view
from bot.leadership import Role
from bot.standin.clock import ClockDrivenScheduler, ConsoleClock, DriveResult, clock_driven_scheduler
from bot.when import WhenError, describe, parse_when
from bot.config import Settings, default_data_dir
from bot.reports import ReportDelivery
from bot.rotation import HandoffRule, ScheduleIndex, next_handoff
from bot.spikes import Severity
from bot.standin.signed_requests import SignedRequests
from bot.standin.web_api import RecordedCall, RecordedResponse, SlackStandIn
from bot.standin.providers import ProviderStandIn
from bot.reach import ProvidersConfigured
from bot.standin.workspace import Workspace, demo_workspace
from bot.server import BackgroundServer, build_asgi_app
from storage.crises import Crises
from storage.mentions import Mentions
from storage.rotations import Rotations
from storage.reports import Reports
from storage.session import Database, sqlite_url

CONSOLE_HELP = """Type what you would type in Slack:
  /oncall help          any slash command (/oncall …, /crisis …)
  press N               press button N of the messages shown
  pick N <option>       choose an option of menu N (the Home's time zone, holiday calendar, quiet hours…);
                        `pick N` alone lists its options
  submit [block=value; …]
                        submit the last form shown, as prefilled or with these fields changed (\\n starts a new line;
                        people as @giulia,@marcus, channels as #social-crisis, checkboxes as yes/no or option names)
  /home                 open the App Home tab
  clock                 the console's time (it passes as you type, and jumps when you say)
  clock +6m | +2h | +3d | 2027-03-28 08:00 | tomorrow 09:00
                        move time forward (read in your zone; add UTC for UTC): every job due meanwhile
                        (escalations, handoffs, reminders, user-group syncs, reports) runs in order, at its own time
  as @name              act as another demo person (people lists them)
  people                the demo workspace's people and channels
  /simulate mentions [topic] [count] [negative-share]
                        post synthetic mentions to the local webhook (same path as a listening tool)
  /simulate spike [topic]
                        a burst of negative mentions and the crisis it opens (card, DM, buttons)
  /simulate report       the weekly report the last handoff posts (where `/oncall report settings` says)
  help                  this text;  quit  leaves (Ctrl-D too)"""


_PERSON_NAME = re.compile(r"(?<![<\w])@([a-z0-9._-]+)")
_CHANNEL_NAME = re.compile(r"(?<![<\w])#([a-z0-9_-]+)")


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that can wait until every submitted task has finished (so output stays in order)."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="console-listener")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - Executor's signature
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_idle(self, timeout: float = 10.0) -> list[BaseException]:
        """Wait for every task submitted so far (and those they submit); return what the failed ones raised."""
        failures: list[BaseException] = []
        waited: set[Future[Any]] = set()
        while True:
            with self._lock:
                pending = [future for future in self._pending if future not in waited]
            if not pending:
                return failures
            for future in pending:
                waited.add(future)
                error = future.exception(timeout=timeout)  # the app's wrapper has logged it with its traceback
                if error is not None:
                    failures.append(error)


@dataclass
class ShownButton:
    button: Button
    channel: str | None
    message: dict[str, Any] | None
    view: dict[str, Any] | None


class ButtonNumbers:
    """`press N` numbers: each shown button gets the next number, and a message updated in place keeps its numbers."""

    def __init__(self) -> None:
        self.shown: dict[int, ShownButton] = {}
        self.last = 0
        self.gone: set[int] = set()  # numbers an update took off its message
        self.by_place: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (channel, ts) or ("view", id) -> (number, action_id)

    def for_place(self, place: tuple[str, str] | None) -> PlaceNumbering:
        """Number one rendering of the message or view at `place` (None: something never updated, numbered afresh)."""
        return PlaceNumbering(self, place)


class PlaceNumbering:
    """The numbers of one rendering: an update reuses the numbers its earlier rendering gave the same actions."""

    def __init__(self, numbers: ButtonNumbers, place: tuple[str, str] | None) -> None:
        self._numbers, self._place = numbers, place
        self._unused = list(numbers.by_place.get(place, [])) if place else []
        self._given: list[tuple[int, str]] = []

    def __call__(self, button: Button) -> int:
        reused = next((pair for pair in self._unused if pair[1] == button.action_id), None)
        if reused is not None:
            self._unused.remove(reused)
            number = reused[0]
        else:
            self._numbers.last += 1
            number = self._numbers.last
        self._given.append((number, button.action_id))
        return number

    def keep(self, buttons: list[Button], **where: Any) -> None:
        """Make each number press its button from this rendering; numbers the update dropped press nothing now."""
        for (number, _), button in zip(self._given, buttons, strict=True):
            self._numbers.shown[number] = ShownButton(button=button, **where)
            self._numbers.gone.discard(number)
        if self._place:
            self._numbers.by_place[self._place] = self._given
            for number, _ in self._unused:
                self._numbers.shown.pop(number, None)
                self._numbers.gone.add(number)


# A `clock` move longer than this says up front that it takes a while (about 2 s of work per simulated week).
LONG_JUMP = timedelta(days=14)

DEMO_TEAM = "social"
DEMO_TEAM_TZ = "Europe/Rome"


def seed_demo_team(rotations: Rotations, workspace: Workspace, now: datetime) -> bool:
    """Create the demo team (weekly, Monday 09:00 Rome) once; return whether it was created."""
    if rotations.team_names(workspace.team_id):
        return False
    rule = HandoffRule(weekday=0, at=time(9, 0), tz=ZoneInfo(DEMO_TEAM_TZ))
    epoch = next_handoff(rule, now - timedelta(days=21))  # a rotation already under way
    people = workspace.people
    crisis = workspace.channel_by_name("social-crisis")
    announce = workspace.channel_by_name("social-announcements")
    team_id = rotations.create_team(
        workspace_id=workspace.team_id, name=DEMO_TEAM, tz=DEMO_TEAM_TZ, epoch=epoch, now=now,
        roster=[p.id for p in people], member_zones={p.id: p.tz for p in people},
        crisis_channel=crisis.id if crisis else None, announce_channel=announce.id if announce else None,
    )
    stored = rotations.team_form(workspace.team_id, DEMO_TEAM)
    if workspace.usergroups and stored is not None:
        # The on-call user group: kept to primary + backup at each handoff, and paged by the escalation's group step.
        rotations.save_team(workspace_id=workspace.team_id, team_id=team_id, form=replace(stored[1], usergroup_id=workspace.usergroups[0].id),
                            epoch=epoch, now=now)
    return True


DEMO_TOPICS = (("acme", "acme, acme phone, #acmefail"), ("acme-campaign", "#acmesummer, summer sale"))
DEMO_SOURCE = "demo-tool"


def seed_demo_listening(store: Mentions, workspace: Workspace, now: datetime) -> str:
    """Create the demo topics and the demo webhook source; return a fresh token (only its hash is stored)."""
    for name, terms in DEMO_TOPICS:
        if not any(t.name == name for t in store.topics(workspace.team_id)):
            keywords, hashtags = mentions.parse_terms(terms)
            store.save_topic(workspace_id=workspace.team_id, name=name, keywords=keywords, hashtags=hashtags, now=now)
    token = mentions.new_token()
    if store.source_by_name(DEMO_SOURCE, workspace_id=workspace.team_id) is None:
        default = store.topic_by_name(workspace_id=workspace.team_id, name=DEMO_TOPICS[0][0])
        store.add_source(name=DEMO_SOURCE, vendor="generic", workspace_id=workspace.team_id, token_hash=mentions.hash_token(token),
                         now=now, default_topic_id=default.id)
    else:
        store.update_source(name=DEMO_SOURCE, workspace_id=workspace.team_id, token_hash=mentions.hash_token(token))
    return token


_SIMULATED_NEGATIVE = ("{t} is down again, worst service ever", "I hate the new {t} update, totally broken", "{t} support never answers. awful")
_SIMULATED_OTHER = ("just got my {t} order, love it", "{t} event today", "trying {t} for the first time, pretty good")


def synthetic_mentions(topic: str, count: int, negative_share: float, now: datetime) -> list[dict[str, Any]]:
    """Return `count` generic-schema mentions of `topic`, about `negative_share` of them negative, over the last minutes."""
    rng = random.Random()
    rows = []
    for _ in range(count):
        templates = _SIMULATED_NEGATIVE if rng.random() < negative_share else _SIMULATED_OTHER
        rows.append({"id": f"sim-{uuid.uuid4().hex}", "topic": topic, "text": rng.choice(templates).format(t=topic),
                     "author": f"demo{rng.randrange(500)}", "author_reach": rng.choice([None, 50, 800, 12000, 250000]),
                     "language": "en", "created_at": (now - timedelta(seconds=rng.randrange(300))).isoformat()})
    return rows


@dataclass
class LocalWebhook:
    """The console's own listening tool: posts JSON to the webhook served beside console mode."""

    url: str
    token: str

    def post(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        request = urllib.request.Request(self.url, data=json.dumps(rows).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own 127.0.0.1 server
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return {"rejected": len(rows), "error": error.read().decode(errors="replace")}


def console_db_path(explicit: str | None = None) -> Path:
    return Path(explicit) if explicit else default_data_dir() / "console.db"


class Console:
    """Reads lines, drives the app, prints what Slack would show."""

    def __init__(self, runtime: Runtime, standin: SlackStandIn, workspace: Workspace, out: TextIO, executor: TrackingExecutor,
                 *, clock: ConsoleClock | None = None, files_dir: Path | None = None, state: ConsoleState | None = None) -> None:
        self.runtime = runtime
        self.standin = standin
        self.workspace = workspace
        self.out = out
        self.executor = executor
        self.clock = clock
        self.files_dir = files_dir
        self.state = state
        admins = [u for u in workspace.people if u.is_admin]
        self.user = admins[0] if admins else workspace.people[0]
        self.channel = workspace.channel_by_name("social-team") or workspace.channels[0]
        self.buttons = ButtonNumbers()
        self.names = {u.id: u.name for u in workspace.users} | {c.id: c.name for c in workspace.channels} \
            | {g.id: g.handle for g in workspace.usergroups}
        self.webhook: LocalWebhook | None = None
        self.requests = SignedRequests.for_workspace(
            runtime.settings.slack_signing_secret, workspace, response_url_for=standin.response_url
        )
        self._print_lock = threading.RLock()
        self.modal: dict[str, Any] | None = None  # the last modal opened, for `submit`
        # Refreshes publish every member's Home; only the Home the typist asked for is printed, the rest in one line.
        self._home_wanted: str | None = None
        self._homes_refreshed: list[str] = []
        # While the clock moves, output is headed by the console time it happened at (printed once per instant).
        self._moving = False
        self._time_shown: datetime | None = None
        self._saved_calls = -1
        standin.on_call.append(self._show_call)
        standin.on_response.append(self._show_response)

    # ----- output ------------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.user.tz)

    def _time_heading(self) -> None:
        """Print the console time once before the first output of each instant a moving clock stops at (lock held)."""
        if self._moving and self.clock is not None and self.clock() != self._time_shown:
            self._time_shown = self.clock()
            print(f"── {describe(self._time_shown, self._zone())} ──", file=self.out)

    def say(self, *lines: str) -> None:
        with self._print_lock:
            self._time_heading()
            for line in lines:
                print(line, file=self.out)
            self.out.flush()

    def show_message(self, heading: str, text: str, blocks: list[dict[str, Any]] | None, *, channel: str | None,
                     message: dict[str, Any] | None, place: tuple[str, str] | None = None) -> None:
        with self._print_lock:
            numbering = self.buttons.for_place(place)
            rendered = render_blocks(blocks or [], self.names, numbering=numbering)
            numbering.keep(rendered.buttons, channel=channel, message=message, view=None)
            lines = rendered.lines if blocks else plain(text, self.names).splitlines()
            self._time_heading()
            print(heading, file=self.out)
            for line in lines:
                print("  " + line, file=self.out)
            self.out.flush()

    def show_view(self, heading: str, view: dict[str, Any], *, place: tuple[str, str] | None = None) -> None:
        with self._print_lock:
            numbering = self.buttons.for_place(place)
            rendered = render_view(view, self.names, numbering=numbering)
            numbering.keep(rendered.buttons, channel=None, message=None, view=view)
            self._time_heading()
            print(heading, file=self.out)
            for line in rendered.lines:
                print("  " + line, file=self.out)
            self.out.flush()

    def _where(self, channel: str) -> str:
        if channel.startswith("D"):
            # The stand-in's DM with U… is D…: name whose DM it is, since the console shows everyone's.
            return f"DM to @{self.names.get('U' + channel[1:], channel)}"
        return "#" + self.names.get(channel, channel)

    def _show_call(self, call: RecordedCall) -> None:
        args = call.args
        blocks = call.json_arg("blocks")
        channel = str(args.get("channel", ""))
        answered = call.response or {}
        if call.failed:
            return  # Slack said no: nothing appeared (the bot's own handling says what happens next)
        channel = str(answered.get("channel") or channel)
        if call.method == "chat.postMessage":
            thread = " (in thread)" if args.get("thread_ts") else ""
            ts = answered.get("ts")
            self.show_message(f"[{self._where(channel)}{thread}] socialops:", str(args.get("text", "")), blocks, channel=channel,
                              message={"ts": ts, "blocks": blocks}, place=(channel, str(ts)) if ts else None)
        elif call.method == "chat.update":
            if call.recreated:
                self.say(f"[{self._where(channel)}] (this message was posted before the console restarted and its copy was lost; shown again as updated)")
            ts = str(args.get("ts"))
            self.show_message(f"[{self._where(channel)}] socialops (message updated):", str(args.get("text", "")), blocks, channel=channel,
                              message={"ts": ts, "blocks": blocks}, place=(channel, ts))
        elif call.method == "chat.postEphemeral":
            self.show_message(f"[{self._where(channel)}] socialops (only @{self.names.get(str(args.get('user')), args.get('user'))} sees this):", str(args.get("text", "")), blocks, channel=channel, message=None)
        elif call.method in {"views.open", "views.push", "views.update"}:
            self.modal = call.json_arg("view") or {}
            view_id = (answered.get("view") or {}).get("id")
            self.show_view(f"[modal opened for @{self.user.name}]", self.modal, place=("view", view_id) if view_id else None)
        elif call.method == "views.publish":
            user_id = str(args.get("user_id"))
            if user_id == self._home_wanted:
                self.show_view(f"[App Home of @{self.names.get(user_id, user_id)}]", call.json_arg("view") or {}, place=("home", user_id))
            else:
                with self._print_lock:
                    self._homes_refreshed.append(user_id)
        elif call.method == "usergroups.users.update":
            members = ", ".join("@" + self.names.get(u, u) for u in str(args.get("users", "")).split(",") if u)
            self.say(f"[user group @{self.names.get(str(args.get('usergroup')), args.get('usergroup'))} is now {members}]")
        elif call.method == "files.completeUploadExternal":
            saved = [self._save_file(f) for f in answered.get("files", [])]
            where = self._where(str(args.get("channel_id", "") or args.get("channels", "")))
            self.say(*[f"[{where}] socialops uploaded: {title} — saved at {path}" for title, path in saved])

    def _save_file(self, info: dict[str, Any]) -> tuple[str, str]:
        """Write an uploaded file (a chart PNG, an export CSV) where the typist can open it; return its title and path."""
        title = str(info.get("title") or info.get("name") or info.get("id"))
        content = self.standin.uploaded_files.get(str(info.get("id")))
        if self.files_dir is None or content is None:
            return title, "(not kept)"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", str(info.get("name") or "file")).strip("-") or "file"
        path = self.files_dir / f"{info.get('id')}-{safe}"
        path.write_bytes(content)
        return title, str(path)

    def _show_response(self, response: RecordedResponse) -> None:
        body = response.body
        self.show_message("socialops (only you):", str(body.get("text", "")), body.get("blocks"), channel=self.channel.id, message=None)

    # ----- input -------------------------------------------------------------------------

    def handle_line(self, line: str) -> bool:
        """Act on one typed line, then let everything it set off finish; return False when the person wants to leave."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        lowered = line.lower()
        if lowered in {"quit", "exit", "/quit"}:
            return False
        if self.clock is not None:
            self.clock.follow_wall_clock()  # the time the typist took passes in the console too
        if lowered in {"help", "?"}:
            self.say(CONSOLE_HELP)
        elif lowered == "people":
            self.say(*[f"  @{u.name} ({u.real_name}, {u.tz}){' — admin' if u.is_admin else ''}" for u in self.workspace.people],
                     *[f"  #{c.name}" for c in self.workspace.channels])
        elif lowered.startswith("as "):
            self.switch_user(line[3:].strip().lstrip("@"))
        elif lowered == "clock" or lowered.startswith("clock "):
            self.move_clock(line[5:].strip())
        elif lowered.startswith("press"):
            self.press(line[5:].strip())
        elif lowered.startswith("pick"):
            self.pick(line[4:].strip())
        elif lowered == "submit" or lowered.startswith("submit "):
            self.submit(line[6:].strip())
        elif lowered.startswith("/simulate"):
            self.simulate(line.split()[1:])
        elif lowered == "/home":
            self._home_wanted = self.user.id
            self.dispatch(self.requests.event({"type": "app_home_opened", "user": self.user.id, "channel": "D" + self.user.id[1:], "tab": "home", "event_ts": "1"}))
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            self.dispatch(self.requests.slash_command(command, self.escape_mentions(text.strip()), user_id=self.user.id, channel_id=self.channel.id,
                                                      user_name=self.user.name, channel_name=self.channel.name))
        else:
            self.say(f"Not a command: {line!r}. Type `help` for what you can do.")
        self.settle()
        return True

    # ----- time --------------------------------------------------------------------------

    @property
    def scheduler(self) -> ClockDrivenScheduler | None:
        scheduler = self.runtime.scheduler
        return scheduler if isinstance(scheduler, ClockDrivenScheduler) else None

    def settle(self, until: datetime | None = None) -> None:
        """Finish background work and run the jobs due by `until` (default: now), so all output precedes the prompt."""
        self._report_failures(self.executor.wait_idle())
        scheduler = self.scheduler
        if scheduler is not None and self.runtime.scheduler_role is Role.leader:
            result = scheduler.run_due(until, after_each=self._after_job)
            self._report_jobs(result)
        self._home_wanted = None
        self.report_home_refreshes()
        self.save_state()

    def _after_job(self) -> None:
        """Let the background work a job started finish and be reported before the next job runs."""
        self._report_failures(self.executor.wait_idle())
        self.report_home_refreshes()

    def _report_failures(self, failures: list[BaseException]) -> None:
        for error in failures:
            self.say(f"[background work failed: {type(error).__name__}: {error}] (details in the log)")

    def _report_jobs(self, result: DriveResult) -> None:
        for failed in result.failed:
            self.say(f"[scheduled job failed: {failed}] (details in the log)")
        if result.missed:
            self.say(f"[{len(result.missed)} scheduled job{'s' if len(result.missed) != 1 else ''} skipped: due more than "
                     f"6 h before the console's time, as the scheduler skips them after an outage]")

    def move_clock(self, argument: str) -> None:
        """`clock` tells the console's time; `clock <when>` moves it forward and runs what falls due on the way."""
        if self.clock is None:
            self.say("This console runs on the wall clock.")
            return
        now = self.clock()
        if not argument:
            self.say(f"Console time: {describe(now, self._zone())}. It passes as you type; jump ahead with "
                     "clock +6m, clock +2h, clock 2027-03-28 08:00.")
            return
        if argument.startswith("-"):
            self.say(f"The console's clock only moves forward (it is {describe(now, self._zone())}); try clock +6m.")
            return
        words = argument.split()
        zone = self._zone()
        if words[-1].lower() in {"utc", "z"}:
            words, zone = words[:-1], ZoneInfo("UTC")
        try:
            target = parse_when(" ".join(words), tz=zone, now=now)
        except WhenError as error:
            self.say(f"{error} e.g. clock +6m, clock +2h, clock 2027-03-28 08:00 (read in your zone, {self.user.tz}).")
            return
        if target < now:
            self.say(f"The console's clock only moves forward: {describe(target, self._zone())} is before its time, "
                     f"{describe(now, self._zone())}. Start afresh with --reset to go back.")
            return
        if target == now:
            self.say(f"It is already {describe(now, self._zone())}.")
            return
        if self.runtime.scheduler_role is not Role.leader:
            self.say("Another console holds this database's scheduler, so no job would run here; close it first.")
            return
        if target - now > LONG_JUMP:
            self.say(f"Moving {(target - now).days} days: every job on the way runs at its own time, so this takes a moment.")
        with self._print_lock:
            self._moving, self._time_shown = True, now
        try:
            self.settle(until=target)
        finally:
            with self._print_lock:
                self._moving = False
        self.say(f"[clock] It is now {describe(self.clock(), self._zone())}.")

    def save_state(self) -> None:
        """Keep the console's time and the stand-in's messages beside the database (after anything changed)."""
        if self.state is None or self.clock is None:
            return
        calls = len(self.standin.calls())
        if calls == self._saved_calls and self.state.saved_clock == self.clock():
            return
        self.state.save(clock=self.clock(), slack=self.standin.snapshot())
        self._saved_calls = calls

    def escape_mentions(self, text: str) -> str:
        """Turn `@name` into `<@U…|name>` and `#channel` into `<#C…|channel>`, as Slack does for escaped commands."""
        def person(match: re.Match[str]) -> str:
            user = self.workspace.user_by_name(match.group(1))
            return f"<@{user.id}|{user.name}>" if user else match.group(0)

        def channel(match: re.Match[str]) -> str:
            found = self.workspace.channel_by_name(match.group(1))
            return f"<#{found.id}|{found.name}>" if found else match.group(0)

        return _CHANNEL_NAME.sub(channel, _PERSON_NAME.sub(person, text))

    def simulate(self, words: list[str]) -> None:
        """Post synthetic mentions through the webhook, so counts move exactly as a listening tool would move them."""
        if words and words[0].lower() == "spike":
            self.simulate_spike(words[1:])
            return
        if words and words[0].lower() == "report":
            self.simulate_report()
            return
        if not words or words[0].lower() != "mentions" or self.webhook is None:
            self.say("Usage: /simulate mentions [topic] [count] [negative-share], e.g. /simulate mentions acme 200 0.6")
            return
        try:
            topic = words[1] if len(words) > 1 else DEMO_TOPICS[0][0]
            count = int(words[2]) if len(words) > 2 else 100
            share = float(words[3]) if len(words) > 3 else 0.3
        except ValueError:
            self.say("Count is a whole number and negative-share a fraction (0.6 = 60% negative).")
            return
        if not (1 <= count <= 10_000 and 0.0 <= share <= 1.0):
            self.say("Count must be 1..10000 and negative-share 0..1.")
            return
        totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
        rows = synthetic_mentions(topic, count, share, self.runtime.clock())
        for start in range(0, len(rows), 500):
            body = self.webhook.post(rows[start:start + 500])
            for key in totals:
                totals[key] += int(body.get(key, 0))
        self.say(f"Posted {count} synthetic mentions of {topic} to {self.webhook.url}: {totals['accepted']} accepted, "
                 f"{totals['duplicate']} duplicate, {totals['rejected']} rejected. See /crisis sources for the last hour.")

    def simulate_spike(self, words: list[str]) -> None:
        """Post a burst of negative mentions, then open the crisis the detector opens on a spike (it needs a day of history to do it alone)."""
        topic_name = words[0] if words else DEMO_TOPICS[0][0]
        now = self.runtime.clock()
        store = Mentions(self.runtime.database)
        topic = next((t for t in store.topics(self.workspace.team_id) if t.name.lower() == topic_name.lower()), None)
        rotation = Rotations(self.runtime.database).load_rotation(self.workspace.team_id, DEMO_TEAM)
        if topic is None or rotation is None:
            self.say(f"No topic called {topic_name!r} (or no demo team); see /crisis sources.")
            return
        if self.webhook is not None:
            self.webhook.post(synthetic_mentions(topic.name, 300, 0.9, now))
        crises = Crises(self.runtime.database)
        if crises.team_for_topic(topic.id) is None:
            crises.watch_topic(topic_id=topic.id, team_id=rotation.team.id, now=now)
        minute = now.replace(second=0, microsecond=0)
        buckets = crisis.minutes_between(minute - timedelta(minutes=59), minute + timedelta(minutes=1),
                                         store.buckets(topic_id=topic.id, since=minute - timedelta(minutes=59), until=minute + timedelta(minutes=1)))
        opened = jobs.open_spike_crisis(topic_id=topic.id, team_id=rotation.team.id, topic=topic.name, severity=Severity.SEV2,
                                        expected_per_minute=1.0, buckets=buckets)
        self._report_failures(self.executor.wait_idle())
        if opened is None:
            self.say(f"{topic.name} already has an open crisis: /crisis list.")
        else:
            first_wait = crises.policy(rotation.team.id).steps[0].wait
            self.say(f"Spike on {topic.name}: crisis #{opened.id} opened. `press N` on Acknowledge, or move time on and watch it "
                     f"escalate: clock +{int(first_wait.total_seconds() // 60)}m pages the next step.")

    def simulate_report(self) -> None:
        """Post the demo team's weekly report for the weeks up to its last handoff, as the job after a handoff does."""
        rotation = Rotations(self.runtime.database).load_rotation(self.workspace.team_id, DEMO_TEAM)
        if rotation is None:
            self.say("No demo team; start afresh with --reset.")
            return
        now = self.runtime.clock()
        handoff = ScheduleIndex(rotation.spec, rotation.layers).handoffs(now - rotation.spec.length, now)[-1]
        delivery = Reports(self.runtime.database).report_delivery(rotation.team.id)
        # A fresh key each time: in the console the same handoff's report may be asked for again.
        jobs.post_weekly_report(rotation, handoff, delivery=delivery, key=f"console-report:{uuid.uuid4().hex}")
        self._report_failures(self.executor.wait_idle())
        if delivery is ReportDelivery.off:
            self.say("The weekly report is off for this team (`/oncall report settings channel` turns it on).")

    def switch_user(self, name: str) -> None:
        person = self.workspace.user_by_name(name)
        if person is None:
            self.say(f"No demo person called @{name}; try `people`.")
            return
        self.user = person
        self.say(f"You are now @{person.name} ({person.tz}).")

    def press(self, argument: str) -> None:
        numbers = self.buttons
        if argument.isdigit() and int(argument) in numbers.gone:
            self.say(f"Button {argument} is no longer there: its message was updated. Press one of the buttons it shows now.")
            return
        if not argument.isdigit() or int(argument) not in numbers.shown:
            self.say(f"Press what? Give a button number between 1 and {numbers.last}." if numbers.last else "There is no button to press yet.")
            return
        shown = numbers.shown[int(argument)]
        if shown.button.is_menu:
            self.say(f"{argument} is a menu: `pick {argument} <option>` chooses one ({self._option_list(shown.button)}).")
            return
        if shown.button.url:
            self.say(f"That button opens {shown.button.url}")
            return
        message = shown.message or {}
        if shown.view is not None and shown.view.get("type") == "home":
            self._home_wanted = self.user.id  # a click in the Home re-renders it: show the result
        request = self.requests.block_action(
            user_id=self.user.id, action_id=shown.button.action_id, value=shown.button.value, block_id=shown.button.block_id,
            channel_id=shown.channel, message_ts=message.get("ts"), message=message or None, view=shown.view,
        )
        self.dispatch(request)

    def pick(self, argument: str) -> None:
        """Choose an option of a menu (a select in a message or the Home): `pick N <option label or value>`."""
        number, _, wanted = argument.partition(" ")
        shown = self.buttons.shown.get(int(number)) if number.isdigit() else None
        if shown is None or not shown.button.is_menu:
            self.say("Pick what? `pick N <option>`, N being the number a menu shows as (pick N …).")
            return
        menu, wanted = shown.button, wanted.strip()
        if not wanted:
            self.say(f"Options of menu {number}: {self._option_list(menu, limit=None)}.")
            return
        folded = wanted.casefold()
        exact = [o for o in menu.options if folded in (o[0].casefold(), o[1].casefold())]
        matches = exact or [o for o in menu.options if o[0].casefold().startswith(folded)]
        if len(matches) != 1:
            self.say(f"{'No' if not matches else 'More than one'} option of menu {number} matches {wanted!r}; "
                     f"its options: {self._option_list(menu)}.")
            return
        label, value = matches[0]
        message = shown.message or {}
        if shown.view is not None and shown.view.get("type") == "home":
            self._home_wanted = self.user.id  # a choice in the Home re-renders it: show the result
        self.dispatch(self.requests.block_action(
            user_id=self.user.id, action_id=menu.action_id, block_id=menu.block_id, action_type=menu.kind,
            selected_option={"text": {"type": "plain_text", "text": label}, "value": value},
            channel_id=shown.channel, message_ts=message.get("ts"), message=message or None, view=shown.view,
        ))

    @staticmethod
    def _option_list(menu: Button, limit: int | None = 12) -> str:
        labels = [label for label, _ in menu.options]
        shown = labels if limit is None else labels[:limit]
        return ", ".join(shown) + (f", … ({len(labels)} in all; `pick N` alone lists them)" if len(labels) > len(shown) else "")

    def submit(self, argument: str) -> None:
        """Submit the last modal: each input keeps its prefilled value unless `block=value` changes it."""
        if self.modal is None:
            self.say("There is no form to submit yet.")
            return
        changes: dict[str, str] = {}
        for part in (p for p in argument.split(";") if p.strip()):
            block_id, sep, value = part.partition("=")
            if not sep:
                self.say(f"Give fields as block=value; {part.strip()!r} has no '='.")
                return
            changes[block_id.strip()] = value.strip().replace("\\n", "\n")
        try:
            values = form_state(self.modal, changes, self.workspace)
        except FormInputError as error:
            self.say(f"Not submitted: {error}")
            return
        unknown = set(changes) - set(values)
        if unknown:
            self.say(f"The form has no field {', '.join(sorted(unknown))}; its fields are {', '.join(values)}.")
            return
        modal, self.modal = self.modal, None
        response = self.runtime.app.dispatch(self.requests.view_submission(
            user_id=self.user.id, callback_id=modal.get("callback_id", ""), values=values,
            private_metadata=modal.get("private_metadata", "")).as_bolt_request())
        body = json.loads(response.body) if response.body else {}
        if body.get("response_action") == "errors":
            self.modal = modal  # Slack keeps the form open with the errors next to the fields
            self.say("The form was not saved:", *[f"  {block}: {message}" for block, message in body.get("errors", {}).items()])
        else:
            self.say("[form submitted]")
        self._report_failures(self.executor.wait_idle())

    def dispatch(self, signed) -> None:  # noqa: ANN001 - a SignedRequest
        response = self.runtime.app.dispatch(signed.as_bolt_request())
        if response.status != 200:
            self.say(f"(Slack would show an error: HTTP {response.status} {response.body})")
        elif response.body:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = {"text": response.body}
            if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
                self.show_message("socialops (only you):", str(body.get("text", "")), body.get("blocks"), channel=self.channel.id, message=None)
        # Lazy listeners and their Web API calls finish before anything else runs, so output stays in order.
        self._report_failures(self.executor.wait_idle())

    def report_home_refreshes(self) -> None:
        """Say in one line whose App Homes were republished since the last prompt (views.publish still went to each)."""
        with self._print_lock:
            people = list(dict.fromkeys(self._homes_refreshed))
            self._homes_refreshed.clear()
        if people:
            names = ", ".join("@" + self.names.get(u, u) for u in people)
            self.say(f"[App Home refreshed for {len(people)} member{'s' if len(people) != 1 else ''}: {names} — /home shows yours]")

    def run(self, stdin: TextIO) -> int:
        interactive = stdin.isatty()
        while True:
            if interactive:
                self.out.write(f"@{self.user.name} in #{self.channel.name}> ")
                self.out.flush()
            line = stdin.readline()
            if not line:
                return 0
            if not self.handle_line(line):
                return 0


class FormInputError(ValueError):
    """A typed field value the form cannot hold (an unknown person, channel or option); the message says which."""


_PEOPLE_PICKERS = {"multi_users_select": "selected_users", "users_select": "selected_user"}
_PLACE_PICKERS = {"conversations_select": "selected_conversation", "channels_select": "selected_channel",
                  "multi_conversations_select": "selected_conversations", "multi_channels_select": "selected_channels"}
_INITIAL = {"multi_users_select": "initial_users", "users_select": "initial_user", "conversations_select": "initial_conversation",
            "channels_select": "initial_channel", "multi_conversations_select": "initial_conversations",
            "multi_channels_select": "initial_channels"}
_NO = {"", "no", "none", "off", "false"}


def _typed_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]


def _person_id(name: str, workspace: Workspace | None) -> str:
    found = workspace.user_by_name(name.lstrip("@")) if workspace else None
    if found is not None:
        return found.id
    if re.fullmatch(r"<?@?[UW][A-Z0-9]+(\|[^>]*)?>?", name):
        return re.sub(r"^<?@?|(\|[^>]*)?>?$", "", name)
    raise FormInputError(f"no person called {name} (type `people`)")


def _place_id(name: str, workspace: Workspace | None) -> str:
    found = workspace.channel_by_name(name.lstrip("#")) if workspace else None
    if found is not None:
        return found.id
    if re.fullmatch(r"[CGD][A-Z0-9]+", name):
        return name
    raise FormInputError(f"no channel called {name} (type `people` for the channels)")


def _chosen_options(element: dict[str, Any], typed: str, block_id: str) -> list[dict[str, Any]]:
    """Return the options `typed` names, by value or label; yes/on picks a lone checkbox, no/none picks nothing."""
    options = element.get("options", [])
    if typed.strip().lower() in _NO:
        return []
    if typed.strip().lower() in {"yes", "on", "true", "x"} and len(options) == 1:
        return list(options)
    chosen = []
    for word in (w.strip() for w in typed.split(",") if w.strip()):
        option = next((o for o in options if o.get("value") == word or str((o.get("text") or {}).get("text", "")).lower() == word.lower()), None)
        if option is None:
            values = ", ".join(str(o.get("value")) for o in options)
            raise FormInputError(f"{block_id}: {word!r} is not one of its options ({values})")
        chosen.append(option)
    return chosen


def form_state(view: dict[str, Any], changes: dict[str, str], workspace: Workspace | None = None) -> dict[str, dict[str, Any]]:
    """Return a view_submission's state values: each input's initial value, or its entry in `changes`.

    People are typed as @name lists, channels as #name, checkboxes as option values or labels (or yes/no).
    """
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block.get("element", {})
        kind, action_id, block_id = element.get("type"), element.get("action_id", "value"), block["block_id"]
        typed = changes.get(block_id)
        if kind in {"static_select", "radio_buttons"}:
            if typed is not None:  # an empty value clears the choice
                matched = next((o for o in element.get("options", []) if str((o.get("text") or {}).get("text", "")).lower() == typed.lower()), None)
                option = (matched or {"value": typed}) if typed else None
            else:
                option = element.get("initial_option")
            state: dict[str, Any] = {"type": kind, "selected_option": option}
        elif kind in {"plain_text_input", "number_input"}:
            state = {"type": kind, "value": typed if typed is not None else element.get("initial_value")}
        elif kind in {"checkboxes", "multi_static_select"}:
            chosen = _chosen_options(element, typed, block_id) if typed is not None else element.get("initial_options", [])
            state = {"type": kind, "selected_options": chosen}
        elif kind in _PEOPLE_PICKERS or kind in _PLACE_PICKERS:
            key = _PEOPLE_PICKERS.get(kind) or _PLACE_PICKERS[kind]
            if typed is None:
                picked: Any = element.get(_INITIAL[kind])
            else:
                resolve = _person_id if kind in _PEOPLE_PICKERS else _place_id
                try:
                    ids = [resolve(name, workspace) for name in _typed_list(typed)]
                except FormInputError as error:
                    raise FormInputError(f"{block_id}: {error}") from None
                if kind.startswith("multi_"):
                    picked = ids
                elif len(ids) > 1:
                    raise FormInputError(f"{block_id} holds one {'person' if kind in _PEOPLE_PICKERS else 'channel'}, not {len(ids)}")
                else:
                    picked = ids[0] if ids else None
            if kind.startswith("multi_"):
                picked = list(picked or [])
            state = {"type": kind, key: picked}
        elif kind in {"datepicker", "timepicker"}:
            key = "selected_date" if kind == "datepicker" else "selected_time"
            state = {"type": kind, key: typed if typed is not None else element.get("initial_date" if kind == "datepicker" else "initial_time")}
        else:
            continue  # an element the console does not know how to fill: Slack would send nothing for it either
        values[block_id] = {action_id: state}
    return values


class ConsoleState:
    """What console mode keeps beside its database: the console's time and the stand-in's Slack-side state (JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved_clock: datetime | None = None
        self.problem: str | None = None  # why a state file could not be read (the console says so and starts fresh)

    def load(self) -> tuple[datetime | None, dict[str, Any] | None]:
        """Return the saved clock and Slack state, or (None, None) for a new database."""
        if not self.path.exists():
            return None, None
        try:
            data = json.loads(self.path.read_text())
            saved = datetime.fromisoformat(data["clock"]).astimezone(UTC)
        except (OSError, ValueError, KeyError, TypeError) as error:
            self.problem = f"{self.path} could not be read ({type(error).__name__}: {error}); the console starts on the wall clock"
            return None, None
        self.saved_clock = saved
        return saved, data.get("slack")

    def save(self, *, clock: datetime, slack: dict[str, Any]) -> None:
        """Write the state atomically (a crash mid-write keeps the previous file)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"version": 1, "clock": clock.isoformat(), "slack": slack}))
        os.replace(temporary, self.path)
        self.saved_clock = clock

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def console_state_path(db: Path) -> Path:
    return Path(str(db) + ".console.json")


def console_files_dir(db: Path) -> Path:
    """Where uploaded charts and exports are written, beside the database."""
    return db.with_name(db.stem + "-files")


def console_database(path: Path) -> Database:
    """The console's SQLite file, committing without waiting for the disk: a long `clock` jump commits thousands of times.

    In WAL mode synchronous=NORMAL cannot corrupt the file; a power cut may only lose the last moments of a demo.
    """
    database = Database.from_url(sqlite_url(path))

    @event.listens_for(database.engine, "connect")
    def _fast_commits(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return database


class _LateAsgiApp:
    """An ASGI app filled in after the server's port is known (the runtime needs that port for its calendar links)."""

    app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def run_console(settings: Settings, *, reset: bool = False, db_path: str | None = None,
                stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Start the demo workspace and read commands until end of input."""
    path = console_db_path(db_path)
    state = ConsoleState(console_state_path(path))
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        state.remove()
    saved_clock, saved_slack = state.load()
    # Console time starts at the wall clock's, passes as lines are typed and jumps with `clock`; a reopened database resumes it.
    clock = ConsoleClock(saved_clock or datetime.now(UTC))
    workspace = demo_workspace()
    executor = TrackingExecutor()
    with SlackStandIn(workspace, clock=clock, recreate_forgotten_messages=True) as standin:
        if saved_slack:
            standin.restore(saved_slack)
        late_app = _LateAsgiApp()
        server = BackgroundServer(late_app)
        console: Console | None = None
        # Calls, SMS and PagerDuty/Opsgenie hand-offs go to a local stand-in that prints each as a line (unless real ones are set).
        providers = ProviderStandIn(on_line=lambda text: console.say(text) if console is not None else None).__enter__()
        console_settings = replace(
            settings,
            slack_bot_token="xoxb-console-demo",
            slack_app_token="",
            slack_signing_secret=secrets.token_hex(16),
            slack_api_url=standin.base_url,
            admins=tuple(u.id for u in workspace.people if u.is_admin) + settings.admins,
            public_url=server.url,  # calendar links point at the server beside the console
            providers=settings.providers if settings.providers.configured != ProvidersConfigured() else providers.settings(),
        )
        runtime = create_runtime(console_settings, clock=clock, database=console_database(path), listener_executor=executor,
                                 scheduler_class=clock_driven_scheduler(clock))
        late_app.app = build_asgi_app(runtime)
        runtime.start()
        seed_demo_team(Rotations(runtime.database), workspace, runtime.clock())
        token = seed_demo_listening(Mentions(runtime.database), workspace, runtime.clock())
        try:
            server.__enter__()
            console = Console(runtime, standin, workspace, out, executor, clock=clock, files_dir=console_files_dir(path), state=state)
            console.webhook = LocalWebhook(f"{server.url}/api/mentions", token)
            console.say(f"Mentions webhook: POST {server.url}/api/mentions with Authorization: Bearer {token}  (demo source, new token each start)")
            console.say(
                f"socialops console — demo workspace {workspace.team_name}, no Slack needed.",
                f"Data: {path}  (start afresh with --reset)",
                f"Console time: {describe(clock(), ZoneInfo(console.user.tz))} — `clock +6m` jumps ahead and runs what falls due.",
                f"You are @{console.user.name} ({console.user.tz}) in #{console.channel.name}. Type `help`, or try /oncall, /oncall schedule, /oncall help.",
            )
            if state.problem:
                console.say(state.problem)
            console.settle()  # what fell due while the console was closed (a restart's catch-up) shows before the prompt
            return console.run(stdin)
        finally:
            if console is not None:
                console.save_state()
            server.__exit__(None, None, None)
            runtime.stop()
            providers.__exit__(None, None, None)
            executor.shutdown(wait=True)
