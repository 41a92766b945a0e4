"""Behaviour of `socialops backtest` (bot/backtest.py): output format, alert semantics and bad-file errors."""

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import backtest, spikes

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab-realtweets"


def write_series(path: Path, *, days: int = 4, minutes: int = 5, spike_at: int | None = None, iso: bool = False):
    """Write a seasonal `timestamp,value` CSV (optionally with a 10x spike) and return its rows."""
    rng = random.Random(3)
    step = timedelta(minutes=minutes)
    start = datetime(2015, 3, 2, 0, 2, 53)
    rows = []
    for i in range(int(timedelta(days=days) / step)):
        at = start + i * step
        mean = 40 * (1 + 0.5 * math.sin(2 * math.pi * at.hour / 24)) * minutes / 5
        value = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        if spike_at is not None and spike_at <= i < spike_at + 4:
            value *= 10
        text = at.strftime("%Y-%m-%dT%H:%M:%SZ") if iso else at.strftime("%Y-%m-%d %H:%M:%S")
        rows.append((text, str(value)))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("timestamp", "value"))
        writer.writerows(rows)
    return rows


def read_rows(path: Path) -> list[dict]:
    """Read an output CSV as dicts."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_writes_every_input_row_with_exactly_the_four_columns(tmp_path):
    """The output has the input's rows and timestamps verbatim plus anomaly_score and alert."""
    rows = write_series(tmp_path / "brand.csv", spike_at=3 * 288 + 100)
    assert backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / "out")]) == 0
    with (tmp_path / "out" / "brand.csv").open() as handle:
        assert handle.readline().strip() == "timestamp,value,anomaly_score,alert"
    out = read_rows(tmp_path / "out" / "brand.csv")
    assert [(row["timestamp"], row["value"]) for row in out] == rows
    assert {row["alert"] for row in out} <= {"0", "1"}
    assert all(float(row["anomaly_score"]) >= 0 for row in out)


def test_alert_is_one_exactly_where_the_detector_opened_or_escalated(tmp_path):
    """alert marks open/escalate decisions only, and the spike opens a crisis at its first bucket."""
    spike_at = 3 * 288 + 100
    write_series(tmp_path / "brand.csv", spike_at=spike_at)
    backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / "out")])
    alerts = [int(row["alert"]) for row in read_rows(tmp_path / "out" / "brand.csv")]
    replayed = backtest.replay(backtest.read_series(tmp_path / "brand.csv"), spikes.team_tuning())
    paged = [int(action in (spikes.Action.OPEN, spikes.Action.ESCALATE)) for action in replayed.actions]
    assert alerts == paged
    assert replayed.actions[spike_at] is spikes.Action.OPEN
    assert spikes.Action.OPEN not in replayed.actions[spike_at + 1 : spike_at + 4]


@pytest.mark.parametrize("minutes", [1, 60])
def test_bucket_size_is_inferred_from_the_rows(tmp_path, minutes):
    """Any regular bucket size works; the detector is told the inferred size."""
    write_series(tmp_path / "brand.csv", days=3, minutes=minutes)
    assert backtest.read_series(tmp_path / "brand.csv").step == timedelta(minutes=minutes)
    assert backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / "out")]) == 0


def test_iso_timestamps_with_zone_are_accepted_and_echoed_verbatim(tmp_path):
    """"2015-03-02T00:02:53Z" rows come back unchanged."""
    rows = write_series(tmp_path / "brand.csv", days=2, iso=True)
    backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / "out")])
    assert [row["timestamp"] for row in read_rows(tmp_path / "out" / "brand.csv")] == [text for text, _ in rows]
    assert backtest.read_series(tmp_path / "brand.csv").times[0].tzinfo is UTC


def test_sensitivity_flag_changes_how_often_it_pages(tmp_path):
    """--sensitivity more never pages less than fewer on the same file."""
    write_series(tmp_path / "brand.csv", spike_at=3 * 288 + 100)
    counts = {}
    for level in ("fewer", "more"):
        backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / level), "--sensitivity", level])
        counts[level] = sum(int(row["alert"]) for row in read_rows(tmp_path / level / "brand.csv"))
    assert counts["more"] >= counts["fewer"] >= 1


BAD_FILES = {
    "empty": "",
    "wrong header": "time,count\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,2\n",
    "no header": "2015-01-01 00:00:00,1\n2015-01-01 00:05:00,2\n",
    "no numbers": "timestamp,value\n2015-01-01 00:00:00,lots\n2015-01-01 00:05:00,many\n",
    "header only": "timestamp,value\n",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_unreadable_csv_exits_2_with_a_one_line_message(tmp_path, capsys, content):
    """A file with no header or no readable number gets exit code 2 and one line naming it, no traceback."""
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert backtest.main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("socialops backtest: error: ")
    assert "bad.csv" in err and "Traceback" not in err


ODD_FILES = {
    "bad timestamp row": ("timestamp,value\n2015-01-01 00:00:00,1\nyesterday,2\n2015-01-01 00:10:00,3\n", 2),
    "bad value row": ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,lots\n", 1),
    "negative value": ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,-4\n", 2),
    "out of order": ("timestamp,value\n2015-01-01 00:05:00,1\n2015-01-01 00:00:00,2\n", 2),
    "one row": ("timestamp,value\n2015-01-01 00:00:00,1\n", 1),
    "irregular": ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,1\n"
                  "2015-01-01 00:10:00,1\n2015-01-01 00:13:00,1\n", 4),
    "short row": ("timestamp,value\n2015-01-01 00:00:00\n2015-01-01 00:05:00,2\n", 1),
    "duplicate timestamps": ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:00:00,2.5\n", 2),
}


@pytest.mark.parametrize(("content", "readable"), ODD_FILES.values(), ids=ODD_FILES.keys())
def test_odd_but_readable_csv_replays_every_readable_row(tmp_path, capsys, content, readable):
    """Irregular, unsorted, duplicated, negative or partly broken files replay; only readable rows are written."""
    path = tmp_path / "odd.csv"
    path.write_text(content)
    assert backtest.main([str(path), "--out", str(tmp_path / "out")]) == 0
    assert len(read_rows(tmp_path / "out" / "odd.csv")) == readable
    err = capsys.readouterr().err
    assert "error" not in err and ("skipped" in err) == (readable < content.count("\n") - 1)


def test_irregular_timestamps_are_bucketed_onto_a_grid_from_the_data(tmp_path):
    """Rows about every 4.5 minutes land on a 5-minute grid; rows sharing a bucket alert at most once."""
    start = datetime(2015, 3, 2, tzinfo=UTC)
    times = [start + timedelta(seconds=270 * i + (i % 3) * 7) for i in range(3000)]
    series = backtest.Series(path=tmp_path / "x.csv", texts=[t.isoformat() for t in times], times=times,
                             values=[20.0] * 2000 + [400.0] * 10 + [20.0] * 990, step=backtest.infer_step(times))
    assert series.step == timedelta(minutes=5)
    replayed = backtest.replay(series, spikes.Tuning(warmup=timedelta(hours=2)))
    assert len(replayed.alerts) == 3000
    assert 1 <= sum(replayed.alerts[2000:2010]) <= 2
    buckets = [(at - start) // series.step for at in times]
    alerted = [number for number, alert in zip(buckets, replayed.alerts) if alert]
    assert len(alerted) == len(set(alerted))


@pytest.mark.parametrize("gap_hours", [6, 72])
def test_gaps_and_zero_stretches_do_not_page(tmp_path, gap_hours):
    """A gap in the rows and a stretch of zeros are not spikes: a steady series with both never pages."""
    start = datetime(2015, 3, 2, tzinfo=UTC)
    step = timedelta(minutes=5)
    times, values = [], []
    for i in range(12 * 24 * 6):
        at = start + i * step
        if 12 * 24 * 2 <= i < 12 * 24 * 2 + 12 * gap_hours:
            continue  # missing rows
        times.append(at)
        values.append(0.0 if 12 * 24 * 4 <= i < 12 * 24 * 4 + 60 else 30.0 + (i % 5))
    series = backtest.Series(path=tmp_path / "x.csv", texts=[t.isoformat() for t in times], times=times,
                             values=values, step=backtest.infer_step(times))
    assert sum(backtest.replay(series, spikes.Tuning()).alerts) == 0


def test_gauge_of_small_floats_still_pages_on_a_jump(tmp_path):
    """A CPU-like series of values around 0.1 is rescaled, so a 10x jump pages despite the 10-mention minimum."""
    start = datetime(2015, 3, 2, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i) for i in range(3000)]
    values = [0.1 + 0.01 * (i % 7) for i in range(3000)]
    values[2500:2506] = [1.5] * 6
    series = backtest.Series(path=tmp_path / "x.csv", texts=[t.isoformat() for t in times], times=times,
                             values=values, step=timedelta(minutes=5), counts=False)
    alerts = backtest.replay(series, spikes.Tuning()).alerts
    assert sum(alerts[2500:2506]) >= 1 and sum(alerts[:2500]) <= 2


SHARED = DATA.parent


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data (the shared NAB benchmark data); absent here")
def test_every_shared_development_file_replays(tmp_path):
    """All 48 + 5 NAB files replay: one output row per input row, timestamps echoed, exit 0."""
    files = sorted(SHARED.glob("nab-*/**/*.csv"))
    assert len(files) >= 53
    assert backtest.main([*map(str, files), "--out", str(tmp_path)]) == 0
    for path in files:
        rows = [line for line in path.read_text().splitlines()[1:] if line.strip()]
        out = read_rows(tmp_path / path.name)
        assert [row["timestamp"] for row in out] == [line.split(",")[0] for line in rows], path.name


def test_help_flag_prints_usage_and_exits_0(capsys):
    """`socialops backtest -h` prints the usage through the real entry point."""
    from bot.__main__ import run

    with pytest.raises(SystemExit) as raised:
        run(["backtest", "-h"])
    assert raised.value.code == 0
    assert "socialops backtest" in capsys.readouterr().out


def test_missing_file_and_bad_arguments_exit_2_in_one_line(tmp_path, capsys):
    """A missing input, a missing --out or an unknown sensitivity is a one-line error with exit 2."""
    assert backtest.main([str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert backtest.main([str(tmp_path / "nope.csv")]) == 2
    write_series(tmp_path / "brand.csv", days=2)
    assert backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / "o"), "--sensitivity", "loud"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("socialops backtest: error: ") for line in lines)


def test_refuses_to_overwrite_its_input(tmp_path, capsys):
    """--out pointing at the input's own folder would overwrite it, so it is refused."""
    write_series(tmp_path / "brand.csv", days=2)
    before = (tmp_path / "brand.csv").read_text()
    assert backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path)]) == 2
    assert (tmp_path / "brand.csv").read_text() == before
    assert "overwrite" in capsys.readouterr().err


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/nab-realtweets (the shared benchmark data)")
def test_dev_series_replays_with_few_pages_per_topic_week(tmp_path):
    """On a real tweet-volume series the shipped defaults page only a handful of times a week."""
    source = DATA / "Twitter_volume_FB.csv"
    assert backtest.main([str(source), "--out", str(tmp_path)]) == 0
    out = read_rows(tmp_path / source.name)
    assert len(out) == len(source.read_text().splitlines()) - 1
    weeks = len(out) * 5 / (60 * 24 * 7)
    assert 1 <= sum(int(row["alert"]) for row in out) <= 3 * weeks


def test_team_sensitivity_words_replay_like_the_detector_presets(tmp_path):
    """--sensitivity high/low (the words `/crisis tuning` stores) give the same alerts as more/fewer."""
    write_series(tmp_path / "brand.csv", spike_at=3 * 288 + 100)
    alerts = {}
    for level in ("high", "more", "low", "fewer"):
        assert backtest.main([str(tmp_path / "brand.csv"), "--out", str(tmp_path / level), "--sensitivity", level]) == 0
        alerts[level] = [row["alert"] for row in read_rows(tmp_path / level / "brand.csv")]
    assert alerts["high"] == alerts["more"] and alerts["low"] == alerts["fewer"]


def _two_spikes(tmp_path: Path, first: float, second: float | None = None) -> backtest.Series:
    """Six calm seasonal days with a `first`x spike (20 min) on day 3 and a `second`x one (default: the same) on day 5."""
    second = first if second is None else second
    path = tmp_path / f"two_{first}_{second}.csv"
    rows = write_series(path, days=6)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("timestamp", "value"))
        for i, (text, value) in enumerate(rows):
            factor = first if 3 * 288 + 100 <= i < 3 * 288 + 104 else second if 5 * 288 + 100 <= i < 5 * 288 + 104 else 1.0
            writer.writerow((text, str(round(int(value) * factor))))
    return backtest.read_series(path)


def test_labelled_replay_marks_alarms_outside_windows_false_and_the_next_spike_needs_more(tmp_path):
    """With no labelled windows every alarm is a false alarm: after a 4x spike pages, a smaller second spike that pages
    in the plain replay is held back for some size (the raised threshold), and labels never add an alarm."""
    held_back = False
    for second in (1.8, 1.9, 2.0, 2.1, 2.2, 2.3, 2.5, 3.0):
        series = _two_spikes(tmp_path, 4.0, second)
        plain = sum(backtest.replay(series, spikes.Tuning()).alerts)
        taught = sum(backtest.replay(series, spikes.Tuning(), labelled=[]).alerts)
        assert taught <= plain
        held_back |= plain == 2 and taught == 1
    assert held_back


def test_labelled_replay_with_every_alarm_inside_a_window_changes_nothing(tmp_path):
    """Alarms inside labelled windows are real: nothing is learned, the replay equals the plain one."""
    series = _two_spikes(tmp_path, 4.0)
    plain = backtest.replay(series, spikes.Tuning())
    fired = [series.times[i] for i, alert in enumerate(plain.alerts) if alert]
    assert len(fired) == 2
    windows = [(at - timedelta(hours=1), at + timedelta(hours=1)) for at in fired]
    assert backtest.replay(series, spikes.Tuning(), labelled=windows).alerts == plain.alerts


def test_labelled_windows_without_an_alert_make_the_detector_more_sensitive(tmp_path):
    """Six labelled windows on quiet day 2 pass without an alert (six missed crises): a later spike too small for the
    plain replay pages for some size, and counting misses never removes the alarm inside the spike's own window."""
    quiet_windows = [(datetime(2015, 3, 3, hour, 0, tzinfo=UTC), datetime(2015, 3, 3, hour, 30, tzinfo=UTC)) for hour in range(2, 20, 3)]
    found_more = False
    for second in (1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.2):
        series = _two_spikes(tmp_path, 1.0, second)
        spike_at = series.times[5 * 288 + 100]
        labelled = [*quiet_windows, (spike_at - timedelta(hours=1), spike_at + timedelta(hours=2))]
        plain = backtest.replay(series, spikes.Tuning()).alerts
        taught = backtest.replay(series, spikes.Tuning(), labelled=labelled).alerts
        fa_only = backtest.replay(series, spikes.Tuning(), labelled=labelled, misses=False).alerts
        in_spike = slice(5 * 288 + 90, 5 * 288 + 130)
        assert sum(taught[in_spike]) >= sum(fa_only[in_spike])
        found_more |= sum(plain[in_spike]) == 0 and sum(taught[in_spike]) == 1
    assert found_more
