"""The report's PNG charts are real PNG images of the expected pixel size, also for an empty week."""

from __future__ import annotations

import io

from PIL import Image

from bot.report_chart import CHART_SIZE, report_charts
from bot.reports import ReportInputs, build_report, report_period
from tests.bot.test_reports import END, rotation, seeded


def _images(report):
    return [(chart, Image.open(io.BytesIO(chart.png))) for chart in report_charts(report, name_of=lambda u: u.lower())]


def test_three_charts_are_valid_pngs_of_the_expected_size():
    """Crises per day, time to acknowledge and load per person: PNG, 900 × 450, and they decode fully."""
    report = build_report(seeded(), report_period(END, tz="Europe/Rome", weeks=1))
    images = _images(report)
    assert [c.filename for c, _ in images] == ["social-2026-10-26-crises-per-day.png", "social-2026-10-26-time-to-ack.png",
                                               "social-2026-10-26-load.png"]
    for chart, image in images:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert image.format == "PNG" and image.size == CHART_SIZE
        image.load()  # raises on a truncated or corrupt file


def test_an_empty_week_still_draws_every_chart():
    """No crises, no pages: the charts are drawn (with a note) at the same size."""
    report = build_report(ReportInputs(rotation=rotation()), report_period(END, tz="Europe/Rome", weeks=1))
    assert [image.size for _, image in _images(report)] == [CHART_SIZE] * 3
