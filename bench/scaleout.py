"""Scale-out on PostgreSQL: ack throughput of one `socialops serve` against two, side by side in one run (issue 16).

`python bench/scaleout.py [--requests N] [--concurrency N] [--rounds N] [--crises N] [--postgres URL]`

Two real `socialops serve` processes share one PostgreSQL schema (one leads the scheduler, one stands by; both serve
requests). The client sends freshly signed `/oncall who` slash commands (POST /slack/events, a read of the seeded
rotation) over keep-alive connections, `--concurrency` in flight, and times each to its complete HTTP 200 ack:

  one   every connection goes to the leader (a single-instance deployment);
  two   the connections are split between the two instances (a load balancer in front of both).

The rows are measured in interleaved rounds (one, two, then two, one, ...), each round a slice of `--requests`, so a
noisy second on this shared machine lands on both rows rather than on one. Throughput is requests per wall-clock
second; the servers' CPU time per request comes from /proc. The client is bench/ack.py's asyncio HTTP/1.1 client
(httpx costs ten times more client CPU than an ack costs the server). On a 2-core machine the client and PostgreSQL
share the cores with the servers, so two instances cannot reach 2x; the ratio says how much of the second core a second
instance turns into acks. Every response must be a 200 naming someone on call; failures are printed and exit 1.

Then failover: `--crises` SEV1 crises (default 100) are declared through both instances, alternately, none
acknowledged, on a 4-step chain of `--step-wait` seconds (primary, backup, group, managers). Half-way through the
chains the leader is killed with SIGKILL. Printed: the standby's takeover time (target <= 30 s), the lateness of the
first step the new leader ran and the worst lateness of any step, and, from the stand-in's log of Slack calls, every
crisis card, DM page and channel page counted per crisis (target: each exactly once; a duplicate or a missing page
exits 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time as clock_time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without installing
sys.path.insert(0, str(ROOT / "bench"))

from ack import HttpConnection  # noqa: E402 - bench/ack.py's low-overhead client
import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.escalation import Policy, PolicyStep, Target  # noqa: E402

from bot.rotation import HandoffRule, ScheduleIndex, next_handoff  # noqa: E402
from bot.standin.signed_requests import SignedRequests  # noqa: E402
from bot.standin.web_api import SlackStandIn  # noqa: E402
from bot.standin.workspace import demo_workspace  # noqa: E402
from storage import migrate  # noqa: E402
from storage.crises import STEP_RUNNING, Crises  # noqa: E402
from storage.rotations import Rotations  # noqa: E402
from storage.session import Database  # noqa: E402
from storage.tables import CrisisEscalationStep  # noqa: E402
from tests.fakes.serve_process import ServeProcess  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SIGNING_SECRET = "bench-scaleout-secret"
USER_ID, CHANNEL_ID = "U0DEMO0001", "C0DEMOTEAM"
DEAD_RESPONSE_URL = "http://127.0.0.1:9/response/{}"  # nothing listens: no response_url call can leave the machine
EXPECTED = "<@U0DEMO"  # every `/oncall who` answer names the people on call
REQUEST_TIMEOUT_S = 30
CRISIS_CHANNEL = "C0DEMOCRISIS"
CHAIN = (Target.PRIMARY, Target.BACKUP, Target.GROUP, Target.MANAGERS)
_CRISIS_ID = re.compile(r"crisis #(\d+)")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return (len(self.latencies) + len(self.failures)) / self.wall_s if self.wall_s else 0.0

    def ms(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000 if len(self.latencies) > 1 else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # utime and stime after "pid (comm)"
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(ports: list[int], *, requests: int, concurrency: int, tally: Tally, signer: SignedRequests) -> None:
    """Send `requests` signed commands over `concurrency` connections spread round-robin over `ports`."""
    connections = [HttpConnection(ports[i % len(ports)]) for i in range(concurrency)]
    remaining = iter(range(requests))

    async def worker(connection: HttpConnection) -> None:
        for _ in remaining:
            signed = signer.slash_command("/oncall", "who", user_id=USER_ID, channel_id=CHANNEL_ID)
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(connection.post("/slack/events", signed.body.encode(), signed.headers_for_http()),
                                                      REQUEST_TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
                await connection.close()
                tally.failures.append(f"{type(error).__name__}: {error}")
                continue
            if status == 200 and EXPECTED in body:
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.failures.append(f"HTTP {status}: {body[:200]!r}")

    try:
        await asyncio.gather(*(worker(connection) for connection in connections))
    finally:
        for connection in connections:
            await connection.close()


async def measure(instances: dict[str, list[ServeProcess]], *, requests: int, concurrency: int, rounds: int) -> dict[str, Tally]:
    signer = SignedRequests(SIGNING_SECRET, response_url_for=DEAD_RESPONSE_URL.format)
    tallies = {name: Tally() for name in instances}
    for name, serving in instances.items():  # warm-up: connections, caches, the first query plans
        await load([s.port for s in serving], requests=concurrency * 5, concurrency=concurrency, tally=Tally(), signer=signer)
    every = [s for serving in instances.values() for s in serving]
    slice_size = max(concurrency, requests // rounds)
    for round_number in range(rounds):
        order = list(instances) if round_number % 2 == 0 else list(reversed(instances))
        for name in order:
            tally = tallies[name]
            cpu_before = sum(cpu_seconds(s.process.pid) for s in every)
            started = time.perf_counter()
            await load([s.port for s in instances[name]], requests=slice_size, concurrency=concurrency, tally=tally, signer=signer)
            tally.wall_s += time.perf_counter() - started
            tally.cpu_s += sum(cpu_seconds(s.process.pid) for s in every) - cpu_before
    return tallies


def seed(database: Database, workspace) -> int:  # noqa: ANN001 - the stand-in's Workspace
    """One team with a roster, a shadow and a crisis channel, so `/oncall who` answers from real rotation data."""
    now = datetime.now(UTC)
    epoch = next_handoff(HandoffRule(0, clock_time(9), ZoneInfo("Europe/Rome")), now - timedelta(days=15))
    people = [user.id for user in workspace.people]
    return Rotations(database).create_team(workspace_id=workspace.team_id, name="social", tz="Europe/Rome", epoch=epoch, now=now,
                                           roster=people[:3], shadows=tuple(people[3:4]), crisis_channel=CRISIS_CHANNEL)


def _steps(database: Database) -> list[CrisisEscalationStep]:
    with database.session_scope() as session:
        rows = list(session.exec(select(CrisisEscalationStep)).all())
        session.expunge_all()
        return rows


def _ran(step: CrisisEscalationStep) -> bool:
    """Finished: a claimed step stays "running" (ran_at its claim) until its pages are out, or its lease runs out."""
    return step.outcome not in (None, STEP_RUNNING)


def failover(database: Database, standin: SlackStandIn, *, team_id: int, leader: ServeProcess, standby: ServeProcess,
             crises: int, step_wait: float, settle_s: float) -> dict[str, object]:
    """Declare `crises` crises through both instances, kill -9 the leader mid-chain, and count what reached Slack."""
    Crises(database).save_policy(team_id=team_id, policy=Policy(steps=tuple(PolicyStep(t, timedelta(seconds=step_wait)) for t in CHAIN),
                                                                repeat=1), user_id=USER_ID, now=datetime.now(UTC))
    signer = SignedRequests(SIGNING_SECRET, response_url_for=DEAD_RESPONSE_URL.format)
    calls_before = {name: len(standin.calls(name)) for name in ("chat.postMessage", "files.completeUploadExternal")}
    first_declared = time.monotonic()
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for number in range(crises):
            via = (leader, standby)[number % 2]
            request = signer.slash_command("/crisis", f"declare scaleout-{number} sev1 failover run", user_id=USER_ID, channel_id=CHANNEL_ID)
            answer = client.post(f"{via.url}/slack/events", content=request.body.encode(), headers=request.headers_for_http())
            if answer.status_code != 200 or "Declared" not in answer.text:
                raise RuntimeError(f"declare {number} through {via.url}: HTTP {answer.status_code} {answer.text[:200]}")
    declared_s = time.monotonic() - first_declared
    time.sleep(max(0.0, first_declared + 1.5 * step_wait - time.monotonic()))  # between the chains' steps 1 and 2
    ran_before_kill = sum(1 for s in _steps(database) if _ran(s))
    killed_at = datetime.now(UTC)
    leader.kill()
    takeover_s = standby.wait_for_role("leader", timeout=60)
    deadline = time.monotonic() + len(CHAIN) * step_wait + settle_s
    while any(not _ran(s) for s in _steps(database)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(5)  # room for a late duplicate
    steps = _steps(database)
    after = sorted((s for s in steps if _ran(s) and s.ran_at >= killed_at), key=lambda s: s.ran_at)
    posts = [c for c in standin.calls("chat.postMessage")[calls_before["chat.postMessage"]:] if not c.failed]
    rotation = Rotations(database).load_rotation_by_id(team_id)
    shift = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(datetime.now(UTC))
    # DMs per crisis: the primary and the shadow (copied on the first step), the backup, and SOCIALOPS_ADMINS' one admin.
    dm_people = [shift.primary, shift.shadow, shift.backup, USER_ID]
    pages: dict[str, dict[int, int]] = {"card": {}, "DM page": {}, "channel page": {}}
    for call in posts:
        found = _CRISIS_ID.search(str(call.args.get("text", "")))
        if found is None:
            continue
        crisis_id, text_of = int(found.group(1)), str(call.args["text"])
        if str(call.args["channel"]).startswith("D") and text_of.startswith("You are being paged"):
            kind = "DM page"
        elif call.args["channel"] == CRISIS_CHANNEL and "needs an acknowledgement" in text_of:
            kind = "channel page"
        elif call.args["channel"] == CRISIS_CHANNEL and "thread_ts" not in call.args:
            kind = "card"
        else:
            continue
        pages[kind][crisis_id] = pages[kind].get(crisis_id, 0) + 1
    expected = {"card": 1, "DM page": sum(1 for person in dm_people if person), "channel page": len(CHAIN)}  # a line per step
    # Only crises whose every step has run can be judged; the others are reported as still running.
    crisis_ids = sorted({s.crisis_id for s in steps} - {s.crisis_id for s in steps if not _ran(s)})
    return {
        "declared_s": declared_s, "ran_before_kill": ran_before_kill, "takeover_s": takeover_s, "steps": len(steps),
        "steps_run": sum(1 for s in steps if _ran(s)),
        "first_after_takeover_late_s": (after[0].ran_at - after[0].due_at).total_seconds() if after else float("nan"),
        "worst_late_s": max(((s.ran_at - s.due_at).total_seconds() for s in steps if _ran(s)), default=float("nan")),
        "crises": len({s.crisis_id for s in steps}), "finished": len(crisis_ids),
        "counts": {kind: {"expected": expected[kind] * len(crisis_ids), "seen": sum(by_crisis.get(c, 0) for c in crisis_ids),
                          "duplicated": sorted(c for c in crisis_ids if by_crisis.get(c, 0) > expected[kind]),
                          "missing": sorted(c for c in crisis_ids if by_crisis.get(c, 0) < expected[kind])}
                   for kind, by_crisis in pages.items()},
        "uploads": len(standin.calls("files.completeUploadExternal")) - calls_before["files.completeUploadExternal"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000, help="requests per row, over all rounds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--crises", type=int, default=100, help="crises declared for the failover run (0: skip it)")
    parser.add_argument("--step-wait", type=float, default=10.0, help="seconds between escalation steps in the failover run")
    parser.add_argument("--settle", type=float, default=600.0, help="seconds after the last deadline to wait for every step")
    parser.add_argument("--postgres", default=POSTGRES, help=f"an admin URL (default {POSTGRES}); a schema is made and dropped")
    args = parser.parse_args(argv)

    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        print(f"scaleout: no PostgreSQL at {args.postgres}: {error.orig}", file=sys.stderr)
        return 2
    schema = f"socialops_scaleout_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    logs = Path(tempfile.mkdtemp(prefix="scaleout-"))
    started: list[ServeProcess] = []
    try:
        database = Database.from_url(url)
        migrate.upgrade(database.engine)
        with SlackStandIn(demo_workspace()) as standin:
            team_id = seed(database, standin.workspace)

            def start(name: str) -> ServeProcess:
                instance = ServeProcess(database_url=url, slack_api_url=standin.base_url, signing_secret=SIGNING_SECRET,
                                        admins=USER_ID, log_path=logs / f"{name}.log", env={"LOG_LEVEL": "WARNING"})
                started.append(instance)
                return instance

            leader = start("a")
            leader.wait_for_role("leader", timeout=60)
            standby = start("b")
            standby.wait_for_role("standby", timeout=60)
            tallies = asyncio.run(measure({"one": [leader], "two": [leader, standby]}, requests=args.requests,
                                          concurrency=args.concurrency, rounds=args.rounds))
            outcome = failover(database, standin, team_id=team_id, leader=leader, standby=standby, crises=args.crises,
                               step_wait=args.step_wait, settle_s=args.settle) if args.crises else None
            database.dispose()
            for instance in started:  # while the stand-in still answers: late work then fails nowhere
                instance.stop()
    finally:
        for instance in started:
            instance.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    print(f"/oncall who acks on PostgreSQL, {args.requests} requests per row in {args.rounds} interleaved rounds, "
          f"{args.concurrency} in flight, {os.cpu_count()} cores (instance logs in {logs}):")
    print(f"  {'':16} {'acks/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'server CPU ms/ack':>18} {'failures':>9}")
    for name, tally in tallies.items():
        done = len(tally.latencies) + len(tally.failures)
        label = "1 instance" if name == "one" else "2 instances"
        print(f"  {label:16} {tally.rate:8.0f} {tally.ms(50):8.1f} {tally.ms(95):8.1f} {tally.ms(99):8.1f} "
              f"{tally.cpu_s / done * 1000 if done else float('nan'):18.2f} {len(tally.failures):9}")
    ratio = tallies["two"].rate / tallies["one"].rate if tallies["one"].rate else float("nan")
    print(f"  throughput ratio two/one: {ratio:.2f}x")
    failures = [f for tally in tallies.values() for f in tally.failures]
    for failure in sorted(set(failures))[:10]:
        print(f"  failure: {failure}")
    if outcome is not None:
        print(f"\nfailover: {outcome['crises']} SEV1 crises declared through both instances in {outcome['declared_s']:.1f} s, "
              f"{len(CHAIN)} steps {args.step_wait:g} s apart; leader killed -9 after {outcome['ran_before_kill']} of "
              f"{outcome['steps']} steps had run")
        print(f"  takeover: {outcome['takeover_s']:.1f} s (target <= 30 s); steps run: {outcome['steps_run']}/{outcome['steps']} "
              f"({outcome['finished']} of {outcome['crises']} crises finished their chain; only those are counted below)")
        print(f"  lateness of the first step after takeover: {outcome['first_after_takeover_late_s']:.1f} s; "
              f"worst step lateness: {outcome['worst_late_s']:.1f} s")
        for kind, count in outcome["counts"].items():
            print(f"  {kind:13} {count['seen']:5} of {count['expected']:5} expected; duplicated in {len(count['duplicated'])} crises "
                  f"{count['duplicated'][:10]}, missing in {len(count['missing'])} {count['missing'][:10]}")
        print(f"  chart uploads: {outcome['uploads']} (declared crises have no topic counters, so none are due)")
        if outcome["steps_run"] != outcome["steps"] or any(c["duplicated"] or c["missing"] for c in outcome["counts"].values()):
            failures.append("failover")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
