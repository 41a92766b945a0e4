"""The team report's PNG charts: crises per day, the time-to-acknowledge distribution, and load per person.

Rendered with matplotlib's Agg backend through the object API (no pyplot, so it is safe in worker threads), each
CHART_SIZE pixels. People are labelled by the names the caller passes (Slack IDs mean nothing in a picture).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.page_hours import HourKind
from bot.reports import TeamReport

CHART_SIZE = (900, 450)  # width, height in pixels
_DPI = 100
_COLOURS = {HourKind.business: "#5b9bd5", HourKind.off: "#f0ad4e", HourKind.sleep: "#d9534f"}
MAX_PEOPLE = 20


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    png: bytes


def _figure() -> Figure:
    figure = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    out = io.BytesIO()
    # No bbox_inches="tight": it would change the pixel size from one chart to the next.
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def crises_per_day_chart(report: TeamReport) -> bytes:
    """Return a bar chart of crises opened per team-local day."""
    figure = _figure()
    axes = figure.add_subplot()
    labels = [day.strftime("%a %d %b") for day, _ in report.crises_per_day]
    axes.bar(range(len(labels)), [n for _, n in report.crises_per_day], color="#d9534f")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"{report.team.name}: crises per day ({report.team.tz})")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def time_to_ack_chart(report: TeamReport) -> bytes:
    """Return a histogram of minutes to acknowledge, with the median and p90 marked."""
    figure = _figure()
    axes = figure.add_subplot()
    values = report.ack_minutes
    if values:
        axes.hist(values, bins=min(20, max(5, len(values))), color="#5b9bd5")
        for label, value, style in (("median", report.time_to_ack.median, "--"), ("p90", report.time_to_ack.p90, ":")):
            if value is not None:
                axes.axvline(value.total_seconds() / 60, color="#333333", linestyle=style, label=f"{label} {value.total_seconds() / 60:.0f} min")
        axes.legend(frameon=False)
        axes.yaxis.get_major_locator().set_params(integer=True)
    else:
        axes.text(0.5, 0.5, "No acknowledgements in this period", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("minutes from opening to acknowledgement")
    axes.set_ylabel("crises")
    axes.set_title(f"{report.team.name}: time to acknowledge")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def load_chart(report: TeamReport, name_of: Callable[[str], str] = lambda user_id: user_id) -> bytes:
    """Return stacked bars of pages per person by business / off / sleep hours, with primary hours on a second axis."""
    figure = _figure()
    axes = figure.add_subplot()
    people = report.people[:MAX_PEOPLE]
    positions = range(len(people))
    bottom = [0] * len(people)
    for kind in HourKind:
        counts = [p.pages[kind] for p in people]
        axes.bar(positions, counts, bottom=bottom, color=_COLOURS[kind], label=f"pages, {kind.value} hours", width=0.6)
        bottom = [b + c for b, c in zip(bottom, counts)]
    axes.set_xticks(list(positions), [name_of(p.user_id) for p in people], rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("pages")
    axes.yaxis.get_major_locator().set_params(integer=True)
    hours = axes.twinx()
    hours.plot(list(positions), [p.primary_hours for p in people], "o", color="#333333", label="hours as primary")
    hours.set_ylabel("hours as primary")
    hours.set_ylim(bottom=0)
    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = hours.get_legend_handles_labels()
    axes.legend(handles + more_handles, labels + more_labels, frameon=False, fontsize=8, loc="upper right")
    axes.set_title(f"{report.team.name}: load per person")
    return _png(figure)


def report_charts(report: TeamReport, name_of: Callable[[str], str] = lambda user_id: user_id) -> list[Chart]:
    """Return the three charts of a report, named for upload."""
    stem = f"{report.team.name}-{report.end:%Y-%m-%d}"
    return [
        Chart(f"{stem}-crises-per-day.png", f"{report.team.name}: crises per day", crises_per_day_chart(report)),
        Chart(f"{stem}-time-to-ack.png", f"{report.team.name}: time to acknowledge", time_to_ack_chart(report)),
        Chart(f"{stem}-load.png", f"{report.team.name}: load per person", load_chart(report, name_of)),
    ]
