"""Benchmark the spike detector on the NAB realTweets development half (../shared), swept and at the shipped point.

`python bench/detector.py` scores the shipped defaults; `--loso` also picks settings leave-one-series-out.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without installing

from bot import backtest, spikes  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "nab-realtweets"
SCORER = SHARED / "tools" / "nab_score.py"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

# Leave-one-series-out grid: the team-facing threshold plus the constants that set how often a topic
# may page (tail rarity, cooldown, two-bucket confirmation of borderline spikes on or off). Kept small
# on purpose: five series cannot support more.
GRID = {
    "threshold": [0.9, 1.0, 1.1, 1.2],
    "tail_every_days": [7.0, 14.0],
    "cooldown_h": [1.0, 4.0, 12.0],
    "confirm_below": [1.0, 1.5],  # 1.0 turns the two-bucket confirmation off
}


def load_scorer():
    """Import ../shared/tools/nab_score.py by path (it is not a package)."""
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module  # its dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


class Corpus:
    """The development files, their labels, and the scorer, loaded once."""

    def __init__(self) -> None:
        self.nab = load_scorer()
        self.windows = self.nab.load_windows(str(DATA / "realtweets_windows.json"), None)
        self.points = self.nab.load_points(str(DATA / "realtweets_label_points.json"))
        self.keys = sorted(self.windows)
        self.series = {key: backtest.read_series(DATA / Path(key).name) for key in self.keys}
        self.stamps = {key: self.nab.read_data_timestamps(str(DATA / Path(key).name)) for key in self.keys}

    def run(self, tuning: spikes.Tuning) -> dict[str, backtest.Replayed]:
        """Replay every development series with `tuning`."""
        return {key: backtest.replay(self.series[key], tuning) for key in self.keys}

    def score(self, runs: dict[str, backtest.Replayed], keys: list[str], column: str) -> dict:
        """Score `keys` with nab_score: column "anomaly_score" is swept, "alert" is the fixed operating point."""
        import numpy as np

        files, gid = [], 0
        for key in keys:
            values = runs[key].alerts if column == "alert" else runs[key].scores
            files.append(
                self.nab.prepare_file(
                    key, self.stamps[key], np.asarray(values, dtype=float), self.windows[key], gid, self.points.get(key)
                )
            )
            gid += len(self.windows[key])
        profiles = {name: self.nab.DEFAULT_PROFILES[name] for name in PROFILES}
        total = sum(len(self.windows[key]) for key in keys)
        return self.nab.score_detector(files, profiles, column == "alert", None, 60.0, total)


def tuning_for(setting: dict) -> spikes.Tuning:
    """Return the shipped tuning with one grid setting applied."""
    return replace(
        spikes.Tuning(),
        threshold=setting["threshold"],
        tail_every=timedelta(days=setting["tail_every_days"]),
        cooldown=timedelta(hours=setting["cooldown_h"]),
        confirm_below=setting["confirm_below"],
    )


def _fmt(value, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def print_row(label: str, result: dict) -> None:
    """Print one line: the three NAB scores and the operational numbers at the standard profile."""
    std = result["standard"]
    print(
        f"{label:34s} {std['score']:7.2f} {result['reward_low_FP_rate']['score']:7.2f}"
        f" {result['reward_low_FN_rate']['score']:7.2f}   {_fmt(std['threshold'], '7.2f'):>7s}"
        f"  {std['window_recall']:5.2f}  {_fmt(std['false_alarms_per_week'], '5.2f'):>5s}"
        f"  {_fmt(std['latency_from_label_point_min_median'], '6.0f'):>6s}"
        f"  {_fmt(std['latency_from_window_start_min_median'], '6.0f'):>6s}"
    )


def print_header() -> None:
    """Print the column legend."""
    print(
        f"{'':34s} {'std':>7s} {'lowFP':>7s} {'lowFN':>7s}   {'thr':>7s}  {'recall':>5s}  {'FA/tw':>5s}"
        f"  {'lat.pt':>6s}  {'lat.win':>6s}"
    )
    print("  (FA/tw = false-alarm episodes per topic-week; latency in minutes, median, from the labelled point")
    print("   and from window start; negative = before the labelled point)")


def loso(corpus: Corpus) -> None:
    """Choose a setting on four series, score the fifth at it; repeat for each; print the pooled held-out score."""
    settings = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    runs = [corpus.run(tuning_for(setting)) for setting in settings]
    held_out: dict[str, backtest.Replayed] = {}
    print("\nleave-one-series-out (settings chosen on the other four, at the shipped operating point):")
    for key in corpus.keys:
        train = [other for other in corpus.keys if other != key]
        totals = [corpus.score(run, train, "alert")["standard"]["score"] for run in runs]
        best = max(range(len(settings)), key=lambda i: (totals[i], -abs(settings[i]["threshold"] - 1.0)))
        held_out[key] = runs[best][key]
        alone = corpus.score(runs[best], [key], "alert")["standard"]
        print(f"  hold out {Path(key).name:26s} chose {settings[best]}  train {totals[best]:6.2f}"
              f"  held-out raw {alone['raw']:6.3f}")
    print_header()
    print_row("leave-one-out, shipped point", corpus.score(held_out, corpus.keys, "alert"))
    in_sample = [corpus.score(run, corpus.keys, "alert")["standard"]["score"] for run in runs]
    top = max(range(len(settings)), key=in_sample.__getitem__)
    print_row(f"in-sample best {settings[top]}"[:34], corpus.score(runs[top], corpus.keys, "alert"))


def main(argv: list[str] | None = None) -> int:
    """Score the shipped defaults (and optionally the leave-one-out estimate); skip without ../shared."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loso", action="store_true", help="also run the leave-one-series-out selection")
    parser.add_argument("--out", type=Path, help="keep the backtest CSVs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not (DATA / "realtweets_windows.json").exists() or not SCORER.exists():
        print(f"skipped: {SHARED} is absent (needs data/nab-realtweets and tools/nab_score.py)")
        return 0
    corpus = Corpus()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "socialops"
        files = [str(DATA / Path(key).name) for key in corpus.keys]
        # The real command, so the numbers are those of `socialops backtest` with the shipped defaults.
        if backtest.main([*files, "--out", str(out)]) != 0:
            return 1
        runs = {}
        for key in corpus.keys:
            series = backtest.read_series(out / Path(key).name)
            with (out / Path(key).name).open() as handle:
                rows = list(itertools.islice(handle, 1, None))
            scores = [float(row.split(",")[2]) for row in rows]
            alerts = [int(row.split(",")[3]) for row in rows]
            runs[key] = backtest.Replayed(scores=scores, alerts=alerts, actions=[])
            assert len(series.times) == len(rows)
    print(f"NAB realTweets development half ({len(corpus.keys)} series), shipped defaults {spikes.Tuning()}")
    print_header()
    print_row("in-sample, threshold swept", corpus.score(runs, corpus.keys, "anomaly_score"))
    print_row("in-sample, shipped point (alert)", corpus.score(runs, corpus.keys, "alert"))
    for key in corpus.keys:
        result = corpus.score(runs, [key], "alert")["standard"]
        print(f"    {Path(key).name:30s} raw {result['raw']:6.3f}  windows {result['windows_detected']}/"
              f"{result['windows']}  false alarms {result['false_alarm_episodes']}")
    if args.loso:
        loso(corpus)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
