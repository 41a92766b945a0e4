"""Benchmark: who-is-on-call queries per second for a 50-person team over two years, and how it grows with overrides.

Run `python bench/rotation.py`; it takes well under a minute and prints queries/second for 500 and 5,000 overrides.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
import random
import sys
import time as clock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bot.rotation import Layers, Member, Override, RotationSpec, ScheduleIndex, TimeOff  # noqa: E402

TEAM_ZONE = ZoneInfo("Europe/Rome")
EPOCH = datetime(2026, 1, 5, 9, tzinfo=TEAM_ZONE)  # a Monday 09:00
SPAN = timedelta(days=730)
PEOPLE = [f"U{i:03d}" for i in range(50)]
ZONES = [("Europe/Rome", "IT"), ("Europe/London", "GB"), ("America/New_York", "US"), ("Asia/Kolkata", "IN")]
SECONDS_PER_RUN = 3.0


def build(overrides: int, time_off: int, rng: random.Random) -> tuple[RotationSpec, Layers]:
    """Return a 50-person weekly rotation with random overrides (1-48 h) and time off (1-14 days)."""
    members = tuple(Member(u, *ZONES[i % len(ZONES)]) for i, u in enumerate(PEOPLE))
    spec = RotationSpec(
        tz=TEAM_ZONE, roster=tuple(PEOPLE), epoch=EPOCH, handoff_at=time(9), members=members,
        shadows=("T001", "T002"), observe_holidays=True,
    )

    def instant() -> datetime:
        return EPOCH + timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))

    layers = Layers(
        time_off=tuple(
            TimeOff(rng.choice(PEOPLE), (s := instant()), s + timedelta(days=rng.randint(1, 14))) for _ in range(time_off)
        ),
        overrides=tuple(
            Override(rng.choice(PEOPLE), (s := instant()), s + timedelta(hours=rng.randint(1, 48)), created_at=instant())
            for _ in range(overrides)
        ),
    )
    return spec, layers


def queries_per_second(index: ScheduleIndex, rng: random.Random) -> float:
    """Ask who is on call at random instants for SECONDS_PER_RUN seconds; return the rate."""
    instants = [EPOCH.astimezone(UTC) + timedelta(seconds=rng.uniform(0, SPAN.total_seconds())) for _ in range(20_000)]
    index.who_is_on_call(instants[-1] + timedelta(days=1))  # fill the fairness ledger once, as a warm server would
    done, started = 0, clock.perf_counter()
    while (elapsed := clock.perf_counter() - started) < SECONDS_PER_RUN:
        index.who_is_on_call(instants[done % len(instants)])
        done += 1
    return done / elapsed


def main() -> None:
    rng = random.Random(4)
    results = {}
    for overrides in (500, 5_000):
        spec, layers = build(overrides, 200, rng)
        started = clock.perf_counter()
        index = ScheduleIndex(spec, layers)
        prepare_ms = (clock.perf_counter() - started) * 1000
        rate = queries_per_second(index, rng)
        results[overrides] = rate
        print(f"{overrides:>5} overrides, 200 time off, 50 people, 2 years: "
              f"prepare {prepare_ms:6.1f} ms, who_is_on_call {rate:8.0f} queries/s")
    print(f"growth with 10x overrides: {results[500] / results[5_000]:.2f}x slower per query")


if __name__ == "__main__":
    main()
