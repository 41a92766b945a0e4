"""`socialops backtest FILE… --out DIR`: replay `timestamp,value` CSVs through the shipped spike detector.

Writes DIR/<same name> with `timestamp,value,anomaly_score,alert`, the format ../shared/tools/nab_score.py reads.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import spikes
from bot.detector_tuning import DetectorSettings, normalise_sensitivity
from bot.errors import UsageError

# A replay has nobody to press Resolve: assume the team resolves a crisis once volume has been
# back near baseline for this long (the detector's cooldown then starts).
RESOLVE_AFTER = timedelta(hours=2)
OUTPUT_COLUMNS = ("timestamp", "value", "anomaly_score", "alert")


class BacktestError(Exception):
    """A bad input file or argument; the message is one line, already prefixed with where."""


@dataclass(frozen=True)
class Series:
    """One input file: the timestamps as written (echoed back verbatim), their UTC instants and counts."""

    path: Path
    texts: list[str]
    times: list[datetime]
    values: list[float]
    step: timedelta


@dataclass(frozen=True)
class Replayed:
    """Per-row detector output for one series."""

    scores: list[float]
    alerts: list[int]
    actions: list[spikes.Action]


def _parse_time(text: str) -> datetime:
    """Parse ISO 8601 ("2015-02-26 21:42:53", "…T…Z", offsets); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_series(path: Path) -> Series:
    """Read a `timestamp,value` CSV with a regular bucket size, or raise BacktestError saying what is wrong."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise BacktestError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    except csv.Error as error:
        raise BacktestError(f"{path}: not a CSV file: {error}") from None
    if not rows:
        raise BacktestError(f"{path}: empty file (expected a header `timestamp,value`)")
    header = [name.strip().lower() for name in rows[0]]
    if "timestamp" not in header or "value" not in header:
        raise BacktestError(f"{path}:1: header must name columns `timestamp` and `value`, got {','.join(rows[0])!r}")
    ti, vi = header.index("timestamp"), header.index("value")
    texts: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(ti, vi):
            raise BacktestError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        try:
            moment = _parse_time(row[ti])
        except ValueError:
            raise BacktestError(f"{path}:{line}: bad timestamp {row[ti]!r}") from None
        try:
            value = float(row[vi])
        except ValueError:
            raise BacktestError(f"{path}:{line}: bad value {row[vi]!r} (expected a count)") from None
        if not math.isfinite(value) or value < 0:
            raise BacktestError(f"{path}:{line}: value must be a count of 0 or more, got {row[vi]!r}")
        if times and moment <= times[-1]:
            raise BacktestError(f"{path}:{line}: timestamp {row[ti]!r} is not after the previous row")
        texts.append(row[ti].strip())
        times.append(moment)
        values.append(value)
    if len(times) < 2:
        raise BacktestError(f"{path}: needs at least two rows to infer the bucket size")
    step = infer_step(times)
    if any((later - earlier) % step for earlier, later in zip(times, times[1:])):
        raise BacktestError(f"{path}: rows are not on a regular {_describe(step)} grid")
    return Series(path=path, texts=texts, times=times, values=values, step=step)


def infer_step(times: list[datetime]) -> timedelta:
    """Return the bucket size: the most common gap between consecutive rows (gaps may skip buckets)."""
    gaps = Counter(later - earlier for earlier, later in zip(times, times[1:]))
    return max(gaps.items(), key=lambda item: (item[1], -item[0]))[0]


def _describe(step: timedelta) -> str:
    """Return '5-minute' style wording for a bucket size."""
    seconds = int(step.total_seconds())
    return f"{seconds // 60}-minute" if seconds % 60 == 0 else f"{seconds}-second"


def replay(series: Series, tuning: spikes.Tuning, *, resolve_after: timedelta = RESOLVE_AFTER) -> Replayed:
    """Run the detector over a series as the product would, with value as both total and negative count."""
    detector = spikes.SpikeDetector(tuning=tuning, step=series.step)
    scores: list[float] = []
    alerts: list[int] = []
    actions: list[spikes.Action] = []
    for at, value in zip(series.times, series.values):
        decision = detector.observe(spikes.Bucket(at=at, total=value, negative=value, reach=value))
        if detector.crisis_open and detector.quiet_for(at) >= resolve_after:
            detector.close_crisis(at)
        scores.append(max(decision.score, 0.0))
        alerts.append(1 if decision.pages else 0)
        actions.append(decision.action)
    return Replayed(scores=scores, alerts=alerts, actions=actions)


def _format_value(value: float) -> str:
    """Echo counts as integers when they are whole."""
    return str(int(value)) if value.is_integer() else repr(value)


def write_result(path: Path, series: Series, result: Replayed) -> None:
    """Write one output CSV: the input rows plus anomaly_score and alert."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        for text, value, score, alert in zip(series.texts, series.values, result.scores, result.alerts):
            writer.writerow((text, _format_value(value), f"{score:.4f}", alert))


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises instead of exiting, so main() can answer in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BacktestError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="socialops backtest",
        description="Replay historical counts through the spike detector with the shipped team defaults.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CSV with columns timestamp,value")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the result CSVs")
    parser.add_argument(
        "--sensitivity", default="normal", help="low | normal | high (as `/crisis tuning`) or a score threshold (default: normal)"
    )
    parser.add_argument("--min-count", type=int, default=spikes.Tuning.min_count, help="minimum negative count")
    parser.add_argument("--campaign", action="store_true", help="replay as if a campaign window were active")
    parser.add_argument(
        "--resolve-after",
        type=float,
        default=RESOLVE_AFTER.total_seconds() / 60,
        metavar="MINUTES",
        help="assume a crisis is resolved after this many quiet minutes (default: %(default)g)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run the backtest command; return 0, or 2 after a one-line error on stderr."""
    try:
        args = _parser().parse_args(argv)
        # The same mapping `/crisis tuning` stores, so a backtest replays exactly what a team's settings would do.
        tuning = DetectorSettings(sensitivity=normalise_sensitivity(args.sensitivity), min_count=args.min_count).tuning(campaign=args.campaign)
        if args.resolve_after <= 0:
            raise BacktestError("--resolve-after must be positive")
        all_series = [read_series(path) for path in args.files]
        names = Counter(path.name for path in args.files)
        if duplicate := next((name for name, count in names.items() if count > 1), None):
            raise BacktestError(f"two inputs named {duplicate}; outputs would overwrite each other")
        args.out.mkdir(parents=True, exist_ok=True)
        for series in all_series:
            target = args.out / series.path.name
            if target.resolve() == series.path.resolve():
                raise BacktestError(f"{series.path}: --out would overwrite the input file")
            write_result(target, series, replay(series, tuning, resolve_after=timedelta(minutes=args.resolve_after)))
    except (BacktestError, UsageError) as error:
        print(f"socialops backtest: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"socialops backtest: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
