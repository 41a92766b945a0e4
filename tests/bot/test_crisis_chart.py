"""The 24-hour chart: bins are 15 minutes, empty bins are zero, and the output is a PNG."""

from datetime import UTC, datetime, timedelta

from bot.crisis_chart import binned, render_chart
from bot.spikes import Bucket

UNTIL = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_minutes_fall_into_fifteen_minute_bins_and_old_ones_are_dropped():
    """96 bins over 24 h; a minute 5 min ago lands in the last bin; 25 h ago is outside."""
    bins = binned([Bucket(UNTIL - timedelta(minutes=5), 10, 4, 4), Bucket(UNTIL - timedelta(hours=25), 99, 99, 99)], until=UNTIL)
    assert len(bins) == 96 and bins[-1][1:] == (10, 4) and sum(b[1] for b in bins) == 10


def test_chart_is_a_png():
    """render_chart returns PNG bytes even with no data."""
    assert render_chart([], topic="acme", until=UNTIL).startswith(b"\x89PNG")
    assert render_chart([Bucket(UNTIL - timedelta(minutes=1), 5, 3, 3)], topic="acme", until=UNTIL).startswith(b"\x89PNG")
