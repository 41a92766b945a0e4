"""`socialops backtest FILE… --out DIR`: replay `timestamp,value` CSVs through the shipped spike detector.

Writes DIR/<same name> with `timestamp,value,anomaly_score,alert`, the format ../shared/tools/nab_score.py reads.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import detector_tuning, spikes
from bot.detector_tuning import DetectorSettings, normalise_sensitivity
from bot.errors import UsageError

# A replay has nobody to press Resolve: assume the team resolves a crisis once volume has been
# back near baseline for this long (the detector's cooldown then starts).
RESOLVE_AFTER = timedelta(hours=2)
OUTPUT_COLUMNS = ("timestamp", "value", "anomaly_score", "alert")


class BacktestError(Exception):
    """A bad input file or argument; the message is one line, already prefixed with where."""


# Grids a series is bucketed onto: the smallest one at least as long as the typical gap between rows.
NICE_STEPS = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60))
DEFAULT_STEP = timedelta(minutes=5)  # for a one-row file, where no gap can be measured
# A gauge (CPU %, latency, prices) is put on a count-like scale where its first non-zero reading is this
# many "mentions", so the Poisson floor (meant for small counts) does not swamp a series of tiny floats.
GAUGE_LEVEL = 100.0


@dataclass(frozen=True)
class Series:
    """One input file: the readable rows as written (echoed back verbatim), their UTC instants and values.

    `step` is the grid the rows are bucketed onto; `counts` is False for a gauge (negative or fractional
    values), which is replayed without the minimum-count rule and rescaled to a count-like level.
    """

    path: Path
    texts: list[str]
    times: list[datetime]
    values: list[float]
    step: timedelta
    counts: bool = True
    skipped: int = 0  # rows without a readable timestamp or number


@dataclass(frozen=True)
class Replayed:
    """Per-row detector output for one series (a bucket's alert is reported on its first row only)."""

    scores: list[float]
    alerts: list[int]
    actions: list[spikes.Action]
    state: dict | None = None  # the detector's state after the last bucket (what a workspace prior is built from)


def _parse_time(text: str) -> datetime:
    """Parse ISO 8601 ("2015-02-26 21:42:53", "…T…Z", offsets); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_series(path: Path) -> Series:
    """Read a `timestamp,value` CSV; unreadable rows are skipped, and only a file with no header or no
    readable row at all raises BacktestError (one line saying what is wrong)."""
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
    skipped = 0
    for row in rows[1:]:
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            moment, value = _parse_time(row[ti]), float(row[vi])
        except (IndexError, ValueError):
            skipped += 1
            continue
        if not math.isfinite(value):
            skipped += 1
            continue
        texts.append(row[ti].strip())
        times.append(moment)
        values.append(value)
    if not times:
        raise BacktestError(f"{path}: no row with a readable timestamp and number")
    counts = all(value >= 0 and value.is_integer() for value in values)
    return Series(
        path=path, texts=texts, times=times, values=values, step=infer_step(times), counts=counts, skipped=skipped
    )


def infer_step(times: list[datetime]) -> timedelta:
    """Return the grid: the smallest nice step (1 min … 1 h) at least the median positive gap between rows.

    The median ignores gaps (missing stretches) and duplicates; a median above an hour is kept as it is.
    """
    ordered = sorted(times)
    gaps = sorted(later - earlier for earlier, later in zip(ordered, ordered[1:]) if later > earlier)
    if not gaps:
        return DEFAULT_STEP
    typical = gaps[len(gaps) // 2]
    return next((step for step in NICE_STEPS if step >= typical), typical)


def bucket_means(series: Series) -> tuple[list[int], dict[int, float]]:
    """Return each row's bucket number on the series' grid and each bucket's mean value."""
    origin = min(series.times)
    index = [(at - origin) // series.step for at in series.times]
    sums: dict[int, float] = {}
    rows: Counter[int] = Counter()
    for number, value in zip(index, series.values):
        sums[number] = sums.get(number, 0.0) + value
        rows[number] += 1
    return index, {number: sums[number] / rows[number] for number in sorted(sums)}


def replay(series: Series, tuning: spikes.Tuning, *, resolve_after: timedelta = RESOLVE_AFTER,
           labelled: Sequence[tuple[datetime, datetime]] | None = None, misses: bool = True,
           label_step: float = detector_tuning.LABEL_STEP, prior: spikes.Prior | None = None) -> Replayed:
    """Run the detector over a series as the product would, with value as both total and negative count.

    Rows are bucketed onto the series' grid (mean per bucket; empty buckets are gaps, not zeros) and
    replayed in time order; each row gets its bucket's score, and the first row of a bucket its alert.

    With `labelled` crisis windows the replay also teaches as the product does: every crisis opened outside a
    window is marked a false alarm at once (closed, and the threshold raised by detector_tuning.learn), and a
    window that ends with no alert in it counts as a real crisis declared by hand while the detector was silent.
    """
    if not series.counts:
        tuning = replace(tuning, min_count=0)  # "10 mentions" means nothing for a CPU percentage
    detector = spikes.SpikeDetector.new(tuning, series.step, prior)
    windows = sorted(labelled or ())
    adjustment, factor_in_force = detector_tuning.TopicAdjustment(), 1.0
    next_window, hit = 0, False  # the first window not yet over, and whether it has an alert
    index, means = bucket_means(series)
    origin = min(series.times)
    scale = None if not series.counts else 1.0
    decided: dict[int, spikes.Decision] = {}
    for number, value in means.items():
        if scale is None:
            # Fixed by the first non-zero reading, so the score at t still uses data up to t only.
            value = max(value, 0.0)
            if value == 0:
                value_scaled = 0.0
            else:
                scale = GAUGE_LEVEL / value
                value_scaled = GAUGE_LEVEL
        else:
            value_scaled = max(value, 0.0) * scale
        at = origin + number * series.step
        if labelled is not None:
            while next_window < len(windows) and windows[next_window][1] < at:
                if not hit and misses:
                    adjustment = detector_tuning.learn(adjustment, detector_tuning.Label.missed, windows[next_window][1], step=label_step)
                next_window, hit = next_window + 1, False
            factor = adjustment.factor(at)
            if abs(factor / factor_in_force - 1.0) > 0.005:  # retune only when the learned factor moved
                detector.tuning, factor_in_force = replace(tuning, threshold=tuning.threshold * factor), factor
        decision = detector.observe(spikes.Bucket(at=at, total=value_scaled, negative=value_scaled, reach=value_scaled))
        if detector.crisis_open and detector.quiet_for(at) >= resolve_after:
            detector.close_crisis(at)
        if labelled is not None and decision.pages:
            inside = next_window < len(windows) and windows[next_window][0] <= at
            hit = hit or inside
            if not inside and decision.action is spikes.Action.OPEN:
                detector.close_crisis(at)  # someone presses False alarm at once
                adjustment = detector_tuning.learn(adjustment, detector_tuning.Label.false_alarm, at, step=label_step)
        decided[number] = decision
    scores: list[float] = []
    alerts: list[int] = []
    actions: list[spikes.Action] = []
    first_row: set[int] = set()
    for number in index:
        decision = decided[number]
        scores.append(max(decision.score, 0.0))
        alerts.append(1 if decision.pages and number not in first_row else 0)
        actions.append(decision.action)
        first_row.add(number)
    return Replayed(scores=scores, alerts=alerts, actions=actions, state=detector.to_dict())


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
            if series.skipped:
                print(f"socialops backtest: note: {series.path}: skipped {series.skipped} unreadable rows", file=sys.stderr)
    except (BacktestError, UsageError) as error:
        print(f"socialops backtest: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"socialops backtest: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
