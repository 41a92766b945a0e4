"""CSV exports of crises, pages, acknowledgements and the audit trail for a time range; and reading them back.

Pure: rows in, file texts out. Instants are ISO 8601 in UTC; empty cells mean "none"; audit before/after are JSON.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, get_type_hints

from bot.audit import AuditRecord


@dataclass(frozen=True)
class CrisisRow:
    id: int
    team: str
    topic: str
    severity: str
    status: str
    origin: str
    summary: str
    opened_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None


@dataclass(frozen=True)
class PageRow:
    crisis_id: int
    team: str
    at: datetime
    person: str | None
    method: str | None
    delivered: bool | None
    hour_kind: str | None  # business, off, sleep in the person's own zone


@dataclass(frozen=True)
class AckRow:
    crisis_id: int
    team: str
    opened_at: datetime
    acked_by: str
    acked_at: datetime
    acked_via: str | None
    seconds_to_ack: int


@dataclass(frozen=True)
class Export:
    crises: list[CrisisRow]
    pages: list[PageRow]
    acknowledgements: list[AckRow]
    audit: list[AuditRecord]


# File name -> row type; each file holds the Export field it is named after (crises.csv holds Export.crises).
FILES = {"crises.csv": CrisisRow, "pages.csv": PageRow, "acknowledgements.csv": AckRow, "audit.csv": AuditRecord}


def file_rows(export: Export) -> dict[str, list[Any]]:
    """Return {file name: the export's rows that file holds} for the four files."""
    return {name: getattr(export, _field(name)) for name in FILES}


def write_csvs(export: Export) -> dict[str, str]:
    """Return {file name: CSV text} for the four files, header first."""
    return {name: _write(FILES[name], rows) for name, rows in file_rows(export).items()}


def read_csvs(files: dict[str, str]) -> Export:
    """Return the export the four CSV texts hold (the inverse of `write_csvs`)."""
    return Export(**{_field(name): _read(kind, files[name]) for name, kind in FILES.items()})


def _field(name: str) -> str:
    return name.removesuffix(".csv")


def _write(kind: type, rows: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [f.name for f in fields(kind)]
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in names])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _read(kind: type, text: str) -> list[Any]:
    hints = get_type_hints(kind)
    reader = csv.DictReader(io.StringIO(text))
    return [kind(**{name: _value(hints[name], cell) for name, cell in record.items()}) for record in reader]


def _value(hint: Any, cell: str) -> Any:
    text = str(hint)
    optional = "None" in text
    if cell == "" and optional:
        return None
    if "datetime" in text:
        return datetime.fromisoformat(cell)
    if "bool" in text:
        return cell == "true"
    if "int" in text:
        return int(cell)
    if "dict" in text:
        return json.loads(cell)
    return cell
