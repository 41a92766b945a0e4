"""The crisis card's PNG: negative and total mentions of a topic over the last 24 hours, in 15-minute bars.

Renders with matplotlib's Agg backend (no display, thread-safe through the object API; pyplot is never imported).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.spikes import Bucket

CHART_SPAN = timedelta(hours=24)
CHART_BIN = timedelta(minutes=15)


def binned(buckets: Sequence[Bucket], *, until: datetime, span: timedelta = CHART_SPAN, width: timedelta = CHART_BIN) -> list[tuple[datetime, float, float]]:
    """Return (bin start, total, negative) for every bin of `span` up to `until`, zeros where nothing was stored."""
    count = int(span / width)
    start = until - count * width
    bins = [[start + i * width, 0.0, 0.0] for i in range(count)]
    for bucket in buckets:
        index = int((bucket.at - start) / width)
        if 0 <= index < count:
            bins[index][1] += bucket.total
            bins[index][2] += bucket.negative
    return [(at, total, negative) for at, total, negative in bins]


def render_chart(buckets: Sequence[Bucket], *, topic: str, until: datetime) -> bytes:
    """Return a PNG of the last 24 h of a topic's mentions, negatives highlighted."""
    data = binned(buckets, until=until)
    figure = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = [at for at, _, _ in data]
    width = CHART_BIN / timedelta(days=1)  # matplotlib dates are in days
    axes.bar(times, [total for _, total, _ in data], width=width, color="#c8d1dc", label="all mentions")
    axes.bar(times, [negative for _, _, negative in data], width=width, color="#d9534f", label="negative")
    axes.set_title(f"{topic}: mentions per 15 min, last 24 h (UTC)")
    axes.legend(loc="upper left", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
