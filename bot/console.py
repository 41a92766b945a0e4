"""Console mode: the real Bolt app, handlers and database, talking to an in-process Slack stand-in.

A person types what they would type in Slack; each request is signed and dispatched through Bolt
(signature check included), and everything the bot sends to the stand-in is printed from its Block Kit.
"""

from __future__ import annotations

import json
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
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any, TextIO

from bot import crisis, jobs, mentions
from bot.app import Runtime, create_runtime
from bot.blocks.text_render import Button, plain, render_blocks, render_view
from bot.config import Settings, default_data_dir
from bot.reports import ReportDelivery
from bot.rotation import HandoffRule, ScheduleIndex, next_handoff
from bot.spikes import Severity
from bot.standin.signed_requests import SignedRequests
from bot.standin.web_api import RecordedCall, RecordedResponse, SlackStandIn
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
  submit [block=value; …]
                        submit the last form shown, as prefilled or with these fields changed (\\n starts a new line)
  /home                 open the App Home tab
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

    def wait_idle(self, timeout: float = 10.0) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)


@dataclass
class ShownButton:
    button: Button
    channel: str | None
    message: dict[str, Any] | None
    view: dict[str, Any] | None


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
    rotations.create_team(
        workspace_id=workspace.team_id, name=DEMO_TEAM, tz=DEMO_TEAM_TZ, epoch=epoch, now=now,
        roster=[p.id for p in people], member_zones={p.id: p.tz for p in people},
        crisis_channel=crisis.id if crisis else None, announce_channel=announce.id if announce else None,
    )
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

    def __init__(self, runtime: Runtime, standin: SlackStandIn, workspace: Workspace, out: TextIO, executor: TrackingExecutor) -> None:
        self.runtime = runtime
        self.standin = standin
        self.workspace = workspace
        self.out = out
        self.executor = executor
        admins = [u for u in workspace.people if u.is_admin]
        self.user = admins[0] if admins else workspace.people[0]
        self.channel = workspace.channel_by_name("social-team") or workspace.channels[0]
        self.buttons: list[ShownButton] = []
        self.names = {u.id: u.name for u in workspace.users} | {c.id: c.name for c in workspace.channels}
        self.webhook: LocalWebhook | None = None
        self.requests = SignedRequests.for_workspace(
            runtime.settings.slack_signing_secret, workspace, response_url_for=standin.response_url
        )
        self._print_lock = threading.Lock()
        self.modal: dict[str, Any] | None = None  # the last modal opened, for `submit`
        # Refreshes publish every member's Home; only the Home the typist asked for is printed, the rest in one line.
        self._home_wanted: str | None = None
        self._homes_refreshed: list[str] = []
        standin.on_call.append(self._show_call)
        standin.on_response.append(self._show_response)

    # ----- output ------------------------------------------------------------------------

    def say(self, *lines: str) -> None:
        with self._print_lock:
            for line in lines:
                print(line, file=self.out)
            self.out.flush()

    def _register(self, rendered_buttons: list[Button], **where: Any) -> None:
        for button in rendered_buttons:
            self.buttons.append(ShownButton(button=button, **where))

    def show_message(self, heading: str, text: str, blocks: list[dict[str, Any]] | None, *, channel: str | None, message: dict[str, Any] | None) -> None:
        with self._print_lock:
            rendered = render_blocks(blocks or [], self.names, first_button=len(self.buttons) + 1)
            self._register(rendered.buttons, channel=channel, message=message, view=None)
            lines = rendered.lines if blocks else plain(text, self.names).splitlines()
            print(heading, file=self.out)
            for line in lines:
                print("  " + line, file=self.out)
            self.out.flush()

    def show_view(self, heading: str, view: dict[str, Any]) -> None:
        with self._print_lock:
            rendered = render_view(view, self.names, first_button=len(self.buttons) + 1)
            self._register(rendered.buttons, channel=None, message=None, view=view)
            print(heading, file=self.out)
            for line in rendered.lines:
                print("  " + line, file=self.out)
            self.out.flush()

    def _where(self, channel: str) -> str:
        if channel.startswith("D"):
            return "DM"
        return "#" + self.names.get(channel, channel)

    def _show_call(self, call: RecordedCall) -> None:
        args = call.args
        blocks = call.json_arg("blocks")
        channel = str(args.get("channel", ""))
        if call.method == "chat.postMessage":
            thread = " (in thread)" if args.get("thread_ts") else ""
            self.show_message(f"[{self._where(channel)}{thread}] socialops:", str(args.get("text", "")), blocks, channel=channel, message={"ts": call.response.get("ts") if call.response else None, "blocks": blocks})
        elif call.method == "chat.update":
            self.show_message(f"[{self._where(channel)}] socialops (message updated):", str(args.get("text", "")), blocks, channel=channel, message={"ts": args.get("ts"), "blocks": blocks})
        elif call.method == "chat.postEphemeral":
            self.show_message(f"[{self._where(channel)}] socialops (only @{self.names.get(str(args.get('user')), args.get('user'))} sees this):", str(args.get("text", "")), blocks, channel=channel, message=None)
        elif call.method in {"views.open", "views.push", "views.update"}:
            self.modal = call.json_arg("view") or {}
            self.show_view(f"[modal opened for @{self.user.name}]", self.modal)
        elif call.method == "views.publish":
            user_id = str(args.get("user_id"))
            if user_id == self._home_wanted:
                self.show_view(f"[App Home of @{self.names.get(user_id, user_id)}]", call.json_arg("view") or {})
            else:
                with self._print_lock:
                    self._homes_refreshed.append(user_id)
        elif call.method == "files.completeUploadExternal":
            titles = ", ".join(f.get("title", f.get("id", "")) for f in (call.json_arg("files") or []))
            self.say(f"[{self._where(str(args.get('channel_id', '')))}] socialops uploaded: {titles}")

    def _show_response(self, response: RecordedResponse) -> None:
        body = response.body
        self.show_message("socialops (only you):", str(body.get("text", "")), body.get("blocks"), channel=self.channel.id, message=None)

    # ----- input -------------------------------------------------------------------------

    def handle_line(self, line: str) -> bool:
        """Act on one typed line; return False when the person wants to leave."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        lowered = line.lower()
        if lowered in {"quit", "exit", "/quit"}:
            return False
        if lowered in {"help", "?"}:
            self.say(CONSOLE_HELP)
        elif lowered == "people":
            self.say(*[f"  @{u.name} ({u.real_name}, {u.tz}){' — admin' if u.is_admin else ''}" for u in self.workspace.people],
                     *[f"  #{c.name}" for c in self.workspace.channels])
        elif lowered.startswith("as "):
            self.switch_user(line[3:].strip().lstrip("@"))
        elif lowered.startswith("press"):
            self.press(line[5:].strip())
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
        return True

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
        self.executor.wait_idle()
        if opened is None:
            self.say(f"{topic.name} already has an open crisis: /crisis list.")
        else:
            self.say(f"Spike on {topic.name}: crisis #{opened.id} opened. `press N` on Acknowledge, or wait and watch it escalate (5 min to the backup).")

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
        self.executor.wait_idle()
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
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.buttons):
            self.say(f"Press what? Give a button number between 1 and {len(self.buttons)}." if self.buttons else "There is no button to press yet.")
            return
        shown = self.buttons[int(argument) - 1]
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
        values = form_state(self.modal, changes)
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
        self.executor.wait_idle()

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
        # Lazy listeners and their Web API calls finish before the next prompt, so output stays in order.
        self.executor.wait_idle()
        self._home_wanted = None
        self.report_home_refreshes()

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


def form_state(view: dict[str, Any], changes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Return a view_submission's state values: each input's initial value, or its entry in `changes`."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block.get("element", {})
        kind, action_id = element.get("type"), element.get("action_id", "value")
        if kind in {"static_select", "radio_buttons"}:
            if block["block_id"] in changes:  # an empty value clears the choice
                option = {"value": changes[block["block_id"]]} if changes[block["block_id"]] else None
            else:
                option = element.get("initial_option")
            state: dict[str, Any] = {"type": kind, "selected_option": option}
        elif kind in {"plain_text_input", "number_input"}:
            state = {"type": kind, "value": changes.get(block["block_id"], element.get("initial_value"))}
        else:
            continue  # user and channel pickers keep their Slack-side state; the console does not edit them
        values[block["block_id"]] = {action_id: state}
    return values


def run_console(settings: Settings, *, reset: bool = False, db_path: str | None = None,
                stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Start the demo workspace and read commands until end of input."""
    path = console_db_path(db_path)
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    workspace = demo_workspace()
    executor = TrackingExecutor()
    with SlackStandIn(workspace) as standin:
        console_settings = replace(
            settings,
            slack_bot_token="xoxb-console-demo",
            slack_app_token="",
            slack_signing_secret=secrets.token_hex(16),
            slack_api_url=standin.base_url,
            admins=tuple(u.id for u in workspace.people if u.is_admin) + settings.admins,
        )
        runtime = create_runtime(console_settings, database=Database.from_url(sqlite_url(path)), listener_executor=executor)
        runtime.start()
        seed_demo_team(Rotations(runtime.database), workspace, runtime.clock())
        token = seed_demo_listening(Mentions(runtime.database), workspace, runtime.clock())
        server = BackgroundServer(build_asgi_app(runtime))
        try:
            server.__enter__()
            console = Console(runtime, standin, workspace, out, executor)
            console.webhook = LocalWebhook(f"{server.url}/api/mentions", token)
            console.say(f"Mentions webhook: POST {server.url}/api/mentions with Authorization: Bearer {token}  (demo source, new token each start)")
            console.say(
                f"socialops console — demo workspace {workspace.team_name}, no Slack needed.",
                f"Data: {path}  (start afresh with --reset)",
                f"You are @{console.user.name} ({console.user.tz}) in #{console.channel.name}. Type `help`, or try /oncall, /oncall schedule, /oncall help.",
            )
            return console.run(stdin)
        finally:
            server.__exit__(None, None, None)
            runtime.stop()
            executor.shutdown(wait=True)
