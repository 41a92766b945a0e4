"""A real escalation chain across two `socialops serve` processes on PostgreSQL: the leader is killed -9 mid-chain (between
steps, and inside one), the standby takes over, and every step's pages go out exactly once (issues 16, 18)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from bot.escalation import Policy, PolicyStep, Target
from bot.jobs import CRISIS_SWEEP_EVERY_S
from bot.rotation import ScheduleIndex
from storage import migrate
from storage.crises import STEP_LEASE, Crises
from storage.rotations import Rotations
from storage.session import Database
from storage.tables import CrisisEscalationStep
from tests.conftest import SIGNING_SECRET
from tests.fakes.serve_process import ServeProcess
from tests.handlers.test_crisis_flow import CRISIS_CHANNEL, MARCUS, make_team

# Test (a) kills between steps: 8 s between deadlines leave a step (well under a second) far from its successor's claim.
BETWEEN_STEPS = timedelta(seconds=8)
STEP_WAIT = timedelta(seconds=4)
CHAIN = (Target.PRIMARY, Target.BACKUP, Target.GROUP, Target.MANAGERS)
REPEAT = 2
STEPS = len(CHAIN) * REPEAT
FINAL = {"paged", "skipped"}


def _policy(wait: timedelta) -> Policy:
    return Policy(steps=tuple(PolicyStep(target, wait) for target in CHAIN), repeat=REPEAT)


def _steps(database: Database) -> list[CrisisEscalationStep]:
    with database.session_scope() as session:
        rows = session.exec(select(CrisisEscalationStep).order_by(CrisisEscalationStep.step)).all()
        session.expunge_all()
        return list(rows)


def _channel_pages(fake_slack) -> list[str]:
    """The thread lines that mention whoever a step paged, one per step."""
    return [c.args["text"] for c in fake_slack.calls("chat.postMessage")
            if not c.failed and c.args["channel"] == CRISIS_CHANNEL and "needs an acknowledgement" in c.args["text"]]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)


def _every_page_once(database: Database, fake_slack, *, shift, admins) -> None:
    """Each step ran to its end; each person got one DM page per round of the chain, the thread one mention per step,
    the channel one card."""
    steps = _steps(database)
    assert [s.step for s in steps] == list(range(STEPS)) and {s.outcome for s in steps} == {"paged"}
    posts = [c for c in fake_slack.calls("chat.postMessage") if not c.failed]
    dms = Counter(c.args["channel"] for c in posts if str(c.args["channel"]).startswith("D") and c.args["text"].startswith("You are being paged"))
    assert dms == {f"D{user[1:]}": REPEAT for user in (shift.primary, shift.backup, *admins)}
    channel_pages = _channel_pages(fake_slack)
    assert len(channel_pages) == STEPS
    assert all(count == REPEAT for count in Counter(channel_pages).values())
    assert len([c for c in posts if c.args["channel"] == CRISIS_CHANNEL and "thread_ts" not in c.args]) == 1  # the card


@pytest.fixture
def drill(postgres_url, fake_slack, tmp_path):
    """A team on PostgreSQL whose primary and backup are not admins; yields (database, team id, start a serve process,
    shift, admins) and always disposes the database (a leaked connection fails a later test as a ResourceWarning)."""
    database = Database.from_url(postgres_url)
    started: list[ServeProcess] = []
    try:
        migrate.upgrade(database.engine)
        now = datetime.now(UTC)
        team_id = make_team(database, now=now)
        rotation = Rotations(database).load_rotation("T0DEMO", "social")
        shift = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(now)
        admins = [person.id for person in fake_slack.workspace.people if person.is_admin]
        assert shift.primary and shift.backup and not {shift.primary, shift.backup} & set(admins)

        def start(name: str) -> ServeProcess:
            started.append(ServeProcess(database_url=postgres_url, slack_api_url=fake_slack.base_url, signing_secret=SIGNING_SECRET,
                                        admins=",".join(admins), log_path=tmp_path / f"{name}.log"))
            return started[-1]

        yield database, team_id, start, shift, admins
    finally:
        for process in started:
            process.stop()
        database.dispose()


def _declare(instance: ServeProcess, signed) -> None:
    request = signed.slash_command("/crisis", "declare acme sev1 failover drill", user_id=MARCUS, channel_id="C0DEMOTEAM")
    answer = httpx.post(f"{instance.url}/slack/events", content=request.body.encode(), headers=request.headers_for_http(), timeout=30)
    assert answer.status_code == 200 and "Declared #1" in answer.json()["text"]


@pytest.mark.postgres
def test_a_chain_survives_a_kill_of_the_leader_and_pages_each_step_once(drill, fake_slack, signed):
    """Declared through the standby (which runs step 0 after its ack), steps 1-2 on the leader, kill -9 between steps,
    the standby leads and runs 3-7: every page once."""
    database, team_id, start, shift, admins = drill
    Crises(database).save_policy(team_id=team_id, policy=_policy(BETWEEN_STEPS), user_id="U0DEMO0001", now=datetime.now(UTC))
    leader = start("leader")
    leader.wait_for_role("leader", timeout=60)
    standby = start("standby")
    standby.wait_for_role("standby", timeout=60)
    _declare(standby, signed)
    # Between steps: step 2 finished (its outcome is final only after its pages), step 3 not claimed yet.
    _wait(lambda: [s.outcome for s in _steps(database)][:4] == ["paged", "paged", "paged", None], 60, "steps 0-2 finished")
    leader.kill()
    assert [s.outcome for s in _steps(database)][:4] == ["paged", "paged", "paged", None]  # killed between steps 2 and 3
    takeover = standby.wait_for_role("leader", timeout=30)
    _wait(lambda: all(s.outcome in FINAL for s in _steps(database)), 120, "every step after the takeover")
    time.sleep(3)  # room for a duplicate to show up
    standby.stop()
    assert takeover <= 30
    _every_page_once(database, fake_slack, shift=shift, admins=admins)


@pytest.mark.postgres
def test_a_kill_during_a_step_still_sends_that_steps_pages(drill, fake_slack, signed):
    """Declared through the leader, whose step 0 waits out a 30 s Retry-After on the card when it is killed -9: the
    standby takes over, runs steps 1-7 on time and, once step 0's lease ran out (storage/crises.py STEP_LEASE), step 0
    too: every page still goes out exactly once."""
    database, team_id, start, shift, admins = drill
    Crises(database).save_policy(team_id=team_id, policy=_policy(STEP_WAIT), user_id="U0DEMO0001", now=datetime.now(UTC))
    leader = start("leader")
    leader.wait_for_role("leader", timeout=60)
    standby = start("standby")
    standby.wait_for_role("standby", timeout=60)
    fake_slack.fail("chat.postMessage", status=429, retry_after=30)  # the card of step 0: the client waits 30 s
    _declare(leader, signed)
    _wait(lambda: any(c.failed for c in fake_slack.calls("chat.postMessage")), 30, "the card's 429")
    assert [(s.step, s.outcome) for s in _steps(database) if s.ran_at is not None] == [(0, "running")]  # its runner waiting
    leader.kill()
    standby.wait_for_role("leader", timeout=30)
    timeout = STEP_LEASE.total_seconds() + CRISIS_SWEEP_EVERY_S + 90
    _wait(lambda: all(s.outcome in FINAL for s in _steps(database)), timeout, "every step after the takeover")
    time.sleep(3)
    standby.stop()
    _every_page_once(database, fake_slack, shift=shift, admins=admins)
