"""CSV exports: the four files read back into exactly what was written, awkward text included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from bot.audit import AuditRecord
from bot.export import AckRow, CrisisRow, Export, PageRow, read_csvs, write_csvs

T = datetime(2026, 10, 24, 3, 0, tzinfo=UTC)


def sample() -> Export:
    crises = [
        CrisisRow(id=1, team="social", topic='acme "phone"', severity="SEV1", status="resolved", origin="detected",
                  summary="Line one,\nline two — ünïcode", opened_at=T, acked_by="U0BEN", acked_at=T + timedelta(minutes=10),
                  resolved_by="U0BEN", resolved_at=T + timedelta(hours=3), resolution_note="Apologised; fixed"),
        CrisisRow(id=2, team="social", topic="acme", severity="SEV3", status="open", origin="declared", summary="", opened_at=T,
                  acked_by=None, acked_at=None, resolved_by=None, resolved_at=None, resolution_note=None),
    ]
    pages = [PageRow(crisis_id=1, team="social", at=T, person="U0BEN", method="dm", delivered=True, hour_kind="off"),
             PageRow(crisis_id=1, team="social", at=T, person="here", method="channel", delivered=False, hour_kind=None)]
    acks = [AckRow(crisis_id=1, team="social", opened_at=T, acked_by="U0BEN", acked_at=T + timedelta(minutes=10), acked_via="button",
                   seconds_to_ack=600)]
    audit = [AuditRecord(at=T, actor="U0ANA", action="report_delivery_changed", via="slash_command", target="team:1", team_id="1",
                         before={"delivery": "channel"}, after={"delivery": "admins", "note": "a, \"b\"\nc"}),
             AuditRecord(at=T, actor="system", action="delivery_failed", via="scheduler")]
    return Export(crises=crises, pages=pages, acknowledgements=acks, audit=audit)


def test_csv_export_round_trips():
    """read_csvs(write_csvs(x)) == x for every file, with quotes, commas, newlines, empty cells and JSON."""
    assert read_csvs(write_csvs(sample())) == sample()


def test_csv_files_have_headers_and_utc_iso_instants():
    """Each file starts with its header; instants are ISO 8601 with the UTC offset; a spreadsheet reads the rows."""
    files = write_csvs(sample())
    assert set(files) == {"crises.csv", "pages.csv", "acknowledgements.csv", "audit.csv"}
    rows = list(csv.DictReader(io.StringIO(files["acknowledgements.csv"])))
    assert rows == [{"crisis_id": "1", "team": "social", "opened_at": "2026-10-24T03:00:00+00:00", "acked_by": "U0BEN",
                     "acked_at": "2026-10-24T03:10:00+00:00", "acked_via": "button", "seconds_to_ack": "600"}]
    assert files["pages.csv"].splitlines()[0] == "crisis_id,team,at,person,method,delivered,hour_kind"


def test_an_empty_export_is_four_header_only_files():
    """No records still gives a header in each file, and reads back empty."""
    empty = Export([], [], [], [])
    files = write_csvs(empty)
    assert all(text.count("\n") == 1 for text in files.values())
    assert read_csvs(files) == empty
