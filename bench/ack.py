"""Benchmark slash-command ack latency over real, signed HTTP: socialops against bare Bolt apps, side by side.

What is measured: the time from sending a correctly signed `/oncall` slash command (POST /slack/events)
to receiving the complete HTTP 200 ack, and the requests per second, at several client concurrencies
(default 1, 10 and 50), for three servers, each a uvicorn with one worker in its own subprocess:

  bare-sync   a bare `slack_bolt.App` acking a fixed string, behind Bolt's ASGI adapter
  bare-async  a bare `slack_bolt.async_app.AsyncApp` acking a fixed string, behind Bolt's async ASGI adapter
  socialops   the product (`create_runtime` + `build_asgi_app`, scheduler running, SQLite in a temp dir)
              answering `/oncall help` (and `/oncall who` against a seeded team, once the grammar has it)

The bare apps use the same Bolt settings as the product (process_before_response=True, no token check at
start-up, signature verification on) and bare-sync the same HTTP stack (uvicorn, Bolt's ASGI adapter, which
bot.server puts in front of Slack's path), so the comparison isolates what socialops adds. Every server talks to a local Slack stand-in
started in its own process; response URLs point at a closed local port, so nothing can reach Slack.
Each server gets a warm-up, then each concurrency level is measured in interleaved rounds: every round
sends each row a short slice of its requests (5 per connection: 5 at concurrency 1, 250 at 50), the row
order rotating from round to round, and a row's latencies are pooled over its rounds. On a shared machine
other processes come and go; measuring the rows one after the other in long blocks let a noisy second
land on one row only, and the ratios swung by 0.3x and more between runs. At high concurrency one stall
of the server process (another process taking the core) delays every request in flight at once, so the
p99 of a few thousand requests is decided by one or two stalls: a level gets at least 200 requests per
connection (10000 at 50) to keep its p99 from hanging on a single one. Even so, 4000 requests at
concurrency 10 leave only 40 in the 1% tail, arriving in clumps of up to 10 (one stall delays every request
in flight): the two bare apps, identical in what they do per request, differed by up to 1.32x in p99 from
one run to the next, more than the 1.3x the target allows. 20000 per row and level (the default) put 200
requests in the tail; the bare-vs-bare p99 spread fell to 1.07x or less in the same runs (bare spread row).
Every response must be HTTP 200 with the expected text; failures are counted, printed, and make the run
exit 1. The target is socialops' p50, p95 and p99 within 1.3x of the better bare app at every level; missing
it exits 2. Where /proc exists, each row also shows its server's CPU time per request (all threads): the
least noisy view of what each request costs, and what bounds throughput at high concurrency.

Run from the checkout with the project's virtualenv active:

    python bench/ack.py                          # 20000 requests per row and level, levels 1,10,50 (about 3 min)
    python bench/ack.py --requests 4000 --levels 1,50   # a quicker, noisier look

bare-async needs aiohttp (Bolt's AsyncApp imports it); without it that row is skipped, loudly.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without installing

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
BARE_ACK = "bench: Giulia is on call"
USER_ID = "U0DEMO0001"
CHANNEL_ID = "C0DEMOTEAM"
# Port 9 (discard) has no listener here: a response_url post, should anything try one, fails locally.
DEAD_RESPONSE_URL = "http://127.0.0.1:9/response/{}"
TARGET_RATIO = 1.3
# A round's slice per connection: short rounds spread outside noise evenly over the rows; every row's
# slice starts with the same burst and ends with the same drain, so the comparison stays like for like.
SLICE_PER_CONNECTION = 5
# Requests per connection a level gets at least, whatever --requests says (see the module docstring).
MIN_REQUESTS_PER_CONNECTION = 200
SERVERS = ("bare-sync", "bare-async", "socialops")
BARE_SERVERS = ("bare-sync", "bare-async")
READY_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30
# Bolt, and so every server, reads these from the environment; a developer's real values must not leak in.
SCRUBBED_ENV = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
                "SLACK_CLIENT_SECRET", "SLACK_SCOPES", "SLACK_API_URL", "DATABASE_URL", "SOCIALOPS_ADMINS", "PORT")
# Texts that mean the product answered with an error reply (handlers.replies) rather than the command.
ERROR_MARKERS = ("I don't know", "Something went wrong", "needs different arguments")


# ----- servers (run in the subprocess) -------------------------------------------------------


def bare_sync_app(api_url: str) -> Any:
    """Return Bolt's sync ASGI adapter around an App that only acks /oncall."""
    from slack_bolt import Ack, App
    from slack_bolt.adapter.asgi import SlackRequestHandler
    from slack_sdk import WebClient

    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/oncall")
    def oncall(ack: Ack) -> None:
        ack(BARE_ACK)

    return SlackRequestHandler(app)


def bare_async_app(api_url: str) -> Any:
    """Return Bolt's async ASGI adapter around an AsyncApp that only acks /oncall."""
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,  # AsyncApp never calls auth.test at start-up: no switch needed
    )

    @app.command("/oncall")
    async def oncall(ack: AsyncAck) -> None:
        await ack(BARE_ACK)

    return AsyncSlackRequestHandler(app)


def seed_team(runtime: Any, standin: Any) -> None:
    """Create one team with a roster and a shadow, so `/oncall who` answers from real rotation data."""
    if not hasattr(runtime.deps, "rotations"):
        return  # an older build without rotations: only `/oncall help` is measured
    from datetime import UTC, datetime, time as clock_time, timedelta
    from zoneinfo import ZoneInfo

    from bot.rotation import HandoffRule, next_handoff

    now = datetime.now(UTC)
    # The epoch must itself be a handoff (Monday 09:00 in the team's zone), two weeks back.
    epoch = next_handoff(HandoffRule(0, clock_time(9), ZoneInfo("Europe/Rome")), now - timedelta(days=15))
    people = [user.id for user in standin.workspace.people]
    runtime.deps.rotations.create_team(
        workspace_id=standin.workspace.team_id, name="social", tz="Europe/Rome", epoch=epoch, now=now,
        roster=people[:3], shadows=tuple(people[3:4]),
    )


def serve(name: str, port: int) -> int:
    """Run one server on 127.0.0.1:port until SIGTERM/SIGINT, with its own Slack stand-in."""
    import uvicorn

    from bot.standin.web_api import SlackStandIn

    standin = SlackStandIn().start()
    runtime = None
    data_dir = tempfile.TemporaryDirectory(prefix="socialops-bench-")
    try:
        if name == "bare-sync":
            asgi_app = bare_sync_app(standin.base_url)
        elif name == "bare-async":
            asgi_app = bare_async_app(standin.base_url)
        else:
            from bot.app import create_runtime
            from bot.config import load_settings
            from bot.server import build_asgi_app
            from storage.session import sqlite_url

            settings = load_settings({
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": standin.base_url,
                "SOCIALOPS_ADMINS": ",".join(user.id for user in standin.workspace.people if user.is_admin),
                "DATABASE_URL": sqlite_url(Path(data_dir.name) / "socialops.db"),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "LOG_LEVEL": "WARNING",
            })
            runtime = create_runtime(settings)
            seed_team(runtime, standin)
            # As in production (bot.server.serve): the scheduler runs alongside the HTTP server.
            runtime.start()
            asgi_app = build_asgi_app(runtime)
        # Every server freezes its start-up heap, as bot.server.serve does (Runtime.freeze_startup_heap), so no
        # row pays for rescanning long-lived objects in full collections; the bare apps get the same treatment.
        gc.freeze()
        uvicorn.run(asgi_app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)
    finally:
        if runtime is not None:
            runtime.stop()
        standin.stop()
        data_dir.cleanup()
    return 0


# ----- load generator (the main process) -----------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: a server and the command text sent to it."""

    label: str
    server: str
    text: str
    expected: str  # a substring the ack must contain

    def problem(self, status: int, body: str) -> str | None:
        """Return why a response is not the expected ack, or None when it is."""
        if status != 200:
            return f"HTTP {status}: {body[:200]!r}"
        if self.expected not in body:
            return f"ack lacks {self.expected!r}: {body[:200]!r}"
        if not body.strip() or any(marker in body for marker in ERROR_MARKERS):
            return f"error ack: {body[:200]!r}"
        return None


@dataclass
class Result:
    """Latencies (seconds) of the good responses of one row at one level, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float | None = None  # CPU the server process used meanwhile, when /proc tells

    def add(self, other: Result) -> None:
        """Pool another round of the same row into this one."""
        self.latencies += other.latencies
        self.failures += other.failures
        self.wall_s += other.wall_s
        if other.server_cpu_s is not None:
            self.server_cpu_s = (self.server_cpu_s or 0.0) + other.server_cpu_s

    @property
    def cpu_us_per_request(self) -> float:
        done = len(self.latencies) + len(self.failures)
        return self.server_cpu_s / done * 1e6 if self.server_cpu_s is not None and done else float("nan")

    @property
    def rate(self) -> float:
        done = len(self.latencies) + len(self.failures)
        return done / self.wall_s if self.wall_s else 0.0

    def percentile_ms(self, p: int) -> float:
        """Return the p-th percentile in milliseconds (nan without data)."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Server:
    """A server subprocess and where it listens."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float | None:
        """Return the user+system CPU time the server process has used so far (Linux /proc), else None."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 0, utime 11, stime 12
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """Return a port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(name: str, log_dir: Path) -> Server:
    """Spawn `python bench/ack.py --serve NAME --port P`, its output going to a log file."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED_ENV}
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", name, "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=str(ROOT),
        )
    return Server(name, port, process, log_path)


def stop_servers(servers: list[Server]) -> None:
    """Terminate every server subprocess, killing any that does not exit within 10 s."""
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


async def wait_ready(servers: list[Server]) -> None:
    """Poll each server until it accepts connections (uvicorn listens only once the app is built)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    for server in servers:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} not ready after {READY_TIMEOUT_S} s:\n{server.log_tail()}") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            break


class HttpConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams.

    Not httpx.AsyncClient: on this 2-core machine it spends ~4 ms of client CPU per request, ten times
    what a bare ack costs the server, which would bury the differences this benchmark is after.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """Send one POST and return (status, body text); reconnects when the last one was closed."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self._reader is not None
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Length: {len(body)}\r\n"
                   f"{head}\r\n").encode("latin-1") + body
        try:
            # One write per request: header and body in separate segments would meet Nagle/delayed ACK.
            self._writer.write(request)
            await self._writer.drain()
            status_line, *header_lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if "content-length" in fields:
                payload = await self._reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding", "").lower() == "chunked":
                payload = await self._read_chunked()
            else:
                payload = await self._reader.read()
                fields["connection"] = "close"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self.close()  # the next request starts on a fresh connection
            raise
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return int(status_line.split()[1]), payload.decode("utf-8", errors="replace")

    async def _read_chunked(self) -> bytes:
        """Read a chunked body (uvicorn uses it when the app sets no Content-Length)."""
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer, self._reader = self._writer, None, None
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass  # already reset by the server: closed either way


async def run_load(server: Server, row: Row, requests: int, concurrency: int) -> Result:
    """Send `requests` freshly signed commands with `concurrency` in flight; time each to its full response."""
    from bot.standin.signed_requests import SignedRequests

    signer = SignedRequests(SIGNING_SECRET, response_url_for=DEAD_RESPONSE_URL.format)
    connections = [HttpConnection(server.port) for _ in range(concurrency)]
    result = Result()
    try:
        # Open the keep-alive connections first, so connection set-up is not counted as ack latency.
        await _send_batch(connections, row, signer, concurrency, Result())
        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        await _send_batch(connections, row, signer, requests, result)
        result.wall_s = time.perf_counter() - started
        cpu_after = server.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            result.server_cpu_s = cpu_after - cpu_before
    finally:
        for connection in connections:
            await connection.close()
    return result


async def _send_batch(connections: list[HttpConnection], row: Row, signer: Any, requests: int, result: Result) -> None:
    """Run one worker per connection, the workers sharing `requests` sends, recording into `result`."""
    remaining = iter(range(requests))  # shared: each send is taken by exactly one worker

    async def worker(connection: HttpConnection) -> None:
        for _ in remaining:
            # Signed right before sending, as Slack does, so the timestamp is always fresh.
            signed = signer.slash_command("/oncall", row.text, user_id=USER_ID, channel_id=CHANNEL_ID)
            body = signed.body.encode()
            started = time.perf_counter()
            try:
                status, text = await asyncio.wait_for(
                    connection.post("/slack/events", body, signed.headers_for_http()), REQUEST_TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
                await connection.close()
                result.failures.append(f"{type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - started
            problem = row.problem(status, text)
            if problem is None:
                result.latencies.append(elapsed)
            else:
                result.failures.append(problem)

    await asyncio.gather(*(worker(connection) for connection in connections))


def build_rows(servers: list[str]) -> list[Row]:
    """Return the table rows: the bare apps, `/oncall help`, and `/oncall who` once it exists."""
    from bot.oncall_query import ONCALL

    rows = [Row(name, name, "help", BARE_ACK) for name in servers if name in BARE_SERVERS]
    if "socialops" in servers:
        rows.append(Row("socialops help", "socialops", "help", "/oncall help"))
        if any(sub.name == "who" for sub in ONCALL.subcommands):
            # Every answer names the people on call; an error reply (no team, crash) names nobody.
            rows.append(Row("socialops who", "socialops", "who", "<@U0DEMO"))
    return rows


def print_level(concurrency: int, requests: int, rounds: int, rows: list[Row], results: dict[str, Result]) -> list[str]:
    """Print one level's table; return the target misses (p50/p95/p99 over TARGET_RATIO x better bare)."""
    print(f"\nconcurrency {concurrency} ({requests} requests per row, in {rounds} interleaved rounds)")
    print(f"{'row':<16}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'cpu us':>8}{'fail':>6}   x better bare (p50 / p95 / p99)")
    bare = [results[row.label] for row in rows if row.server in BARE_SERVERS]
    misses: list[str] = []
    for row in rows:
        result = results[row.label]
        line = (f"{row.label:<16}{result.rate:>9.0f}{result.percentile_ms(50):>9.2f}"
                f"{result.percentile_ms(95):>9.2f}{result.percentile_ms(99):>9.2f}"
                f"{result.cpu_us_per_request:>8.0f}{len(result.failures):>6}")
        if row.server not in BARE_SERVERS and bare:
            ratios = {p: result.percentile_ms(p) / min(b.percentile_ms(p) for b in bare) for p in (50, 95, 99)}
            line += "   " + " / ".join(f"{ratios[p]:.2f}x" for p in (50, 95, 99))
            misses += [f"{row.label} p{p} {ratios[p]:.2f}x at concurrency {concurrency}"
                       for p in (50, 95, 99) if not ratios[p] <= TARGET_RATIO]
        print(line)
    if len(bare) > 1:
        # Two bare apps of the same kind: how far apart they land shows how much of a ratio is this run's noise.
        spread = [max(b.percentile_ms(p) for b in bare) / min(b.percentile_ms(p) for b in bare) for p in (50, 95, 99)]
        print(f"{'(bare spread)':<69}" + " / ".join(f"{ratio:.2f}x" for ratio in spread))
    return misses


def rounds_for(requests: int, concurrency: int) -> int:
    """Return how many interleaved rounds a level gets: one per slice of SLICE_PER_CONNECTION per connection."""
    return max(1, requests // (SLICE_PER_CONNECTION * concurrency))


async def measure_level(by_name: dict[str, Server], rows: list[Row], requests: int, concurrency: int, rounds: int) -> dict[str, Result]:
    """Measure every row at one concurrency in interleaved rounds; return each row's pooled result."""
    results = {row.label: Result() for row in rows}
    for index in range(rounds):
        # Each row's slice: the first rounds take the remainder, so the slices add up to `requests`.
        size = requests // rounds + (1 if index < requests % rounds else 0)
        # Rotating the order keeps a slow first or last slot (turbo, cache, scheduler tick) off one row.
        for row in rows[index % len(rows):] + rows[:index % len(rows)]:
            results[row.label].add(await run_load(by_name[row.server], row, size, concurrency))
    return results


async def benchmark(servers: list[Server], rows: list[Row], levels: list[int], requests: int, warmup: int) -> int:
    """Warm up, measure every row at every level, print the tables and the verdict; return the exit code."""
    await wait_ready(servers)
    by_name = {server.name: server for server in servers}
    for row in rows:
        # The first requests pay for imports, auth.test and the first database connection.
        warm = await run_load(by_name[row.server], row, warmup, 1)
        if warm.failures:
            print(f"!!! warm-up of {row.label} failed: {warm.failures[0]}\n{by_name[row.server].log_tail()}", file=sys.stderr)
            return 1
    misses: list[str] = []
    failures: list[str] = []
    for concurrency in levels:
        level_requests = max(requests, MIN_REQUESTS_PER_CONNECTION * concurrency)
        level_rounds = rounds_for(level_requests, concurrency)
        results = await measure_level(by_name, rows, level_requests, concurrency, level_rounds)
        misses += print_level(concurrency, level_requests, level_rounds, rows, results)
        failures += [f"{label} c={concurrency}: {failure}" for label, result in results.items() for failure in result.failures]
    print()
    if failures:
        print(f"!!! {len(failures)} FAILED REQUESTS: these numbers are not a valid measurement !!!")
        for failure in failures[:20]:
            print(f"    {failure}")
        if len(failures) > 20:
            print(f"    ... and {len(failures) - 20} more")
    if not any(row.server in BARE_SERVERS for row in rows) or not any(row.server == "socialops" for row in rows):
        print("target: not judged (needs socialops and at least one bare app)")
        return 1 if failures else 0
    if misses:
        print(f"target MISSED: socialops is over {TARGET_RATIO}x the better bare app: " + "; ".join(misses))
    else:
        print(f"target HOLDS: socialops p50, p95 and p99 within {TARGET_RATIO}x of the better bare app "
              f"at concurrency {', '.join(map(str, levels))}")
    if failures:
        return 1
    return 2 if misses else 0


def parse_levels(text: str) -> list[int]:
    """Parse "1,10,50" into positive ints."""
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels must be positive integers, e.g. 1,10,50")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="measured requests per row and level (default 20000, enough for a steady p99; at least 200 per connection)")
    parser.add_argument("--levels", type=parse_levels, default=[1, 10, 50], help="concurrency levels (default 1,10,50)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per row before measuring (default 200)")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"which servers to run (default {','.join(SERVERS)})")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)  # internal: run one server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1, --warmup at least 0")
    if args.serve:
        return serve(args.serve, args.port)

    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SERVERS))
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {', '.join(SERVERS)}")
    if "bare-async" in names and importlib.util.find_spec("aiohttp") is None:
        print("!!! bare-async SKIPPED: Bolt's AsyncApp needs aiohttp, which is not installed; "
              "the ratios below are against bare-sync only !!!", file=sys.stderr)
        names.remove("bare-async")
    # SIGTERM should tidy up like Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="socialops-bench-logs-") as log_dir:
        try:
            servers = [start_server(name, Path(log_dir)) for name in names]
            rows = build_rows(names)
            return asyncio.run(benchmark(servers, rows, args.levels, args.requests, args.warmup))
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        except RuntimeError as error:  # a server that died or never came up: its log says why
            print(f"!!! {error}", file=sys.stderr)
            return 1
        finally:
            stop_servers(servers)


if __name__ == "__main__":
    sys.exit(main())
