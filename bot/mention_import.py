"""`socialops import mentions FILE --source NAME [--topic T]`: CSV or JSON Lines exports through the webhook's ingestion path.

An edge module (it opens the database). Re-running a file changes nothing: every row is deduplicated by (source, id).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot import mentions
from bot.sentiment import Analyser

BATCH = 500
SHOWN_REJECTIONS = 50
_PROGRESS_EVERY_S = 0.25


class ImportFailed(Exception):
    """The import cannot start or go on; the message is the one line printed before exit 2."""


@dataclass
class Summary:
    imported: int = 0
    duplicate: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def lines(self) -> list[str]:
        """Return the summary printed at the end."""
        out = [f"imported {self.imported:,}, duplicate {self.duplicate:,}, rejected {len(self.rejected):,}"]
        out += [f"  line {line}: {reason}" for line, reason in self.rejected[:SHOWN_REJECTIONS]]
        if len(self.rejected) > SHOWN_REJECTIONS:
            out.append(f"  … and {len(self.rejected) - SHOWN_REJECTIONS:,} more rejected rows")
        return out


@dataclass(slots=True)
class Row:
    line: int
    item: object  # a parsed JSON value, a CSV row dict, or a Rejected to report as-is
    is_csv: bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialops import", description="Import mentions from a listening tool's export.")
    parser.add_argument("what", choices=["mentions"])
    parser.add_argument("file", type=Path, help="CSV (vendor export columns recognised) or JSON Lines (.jsonl/.ndjson)")
    parser.add_argument("--source", required=True, help="the listening source the rows come from (socialops sources list)")
    parser.add_argument("--workspace", default="", help="Slack workspace (team) ID of the source, when its name repeats across workspaces")
    parser.add_argument("--topic", help="put every row in this topic instead of matching keywords")
    parser.add_argument("--db", metavar="URL", help="database URL (default: DATABASE_URL or the embedded SQLite file)")
    return parser


def read_rows(path: Path) -> tuple[Iterator[Row], TextIO]:
    """Return the file's rows with their line numbers, and the open file (for progress by position)."""
    handle = path.open("r", encoding="utf-8-sig", newline="")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _json_lines(handle), handle
    return _csv_rows(handle), handle


def _json_lines(handle: TextIO) -> Iterator[Row]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield Row(number, json.loads(line), is_csv=False)
        except json.JSONDecodeError as error:
            yield Row(number, mentions.Rejected(f"malformed JSON: {error.msg} at column {error.colno}"), is_csv=False)


def _csv_rows(handle: TextIO) -> Iterator[Row]:
    sample = handle.read(64 * 1024)
    handle.seek(0)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(handle, dialect)
    header: list[str] | None = None
    for cells in reader:
        if header is None:
            # Brandwatch exports open with report lines (query, date range) above the real header.
            if mentions.looks_like_header(cells):
                header = cells
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield Row(reader.line_num, mentions.Rejected(f"{len(cells)} columns where the header has {len(header)}"), is_csv=True)
            continue
        yield Row(reader.line_num, dict(zip(header, cells)), is_csv=True)
    if header is None:
        raise ImportFailed("no header row with known columns (e.g. id, text, date, url) in the first lines")


def import_rows(
    store: mentions.MentionStore, rows: Iterator[Row], *, source: mentions.Source, analyser: Analyser,
    now: datetime, topic: mentions.Topic | None = None, progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Store rows in batches of BATCH through the same use case as the webhook; return the summary.

    One batch is written by a writer thread while the next is parsed and scored: the database's time (its own
    process, for PostgreSQL) overlaps ours. Batches are still stored one at a time, in file order.
    """
    summary = Summary()
    topics = [topic] if topic is not None else store.topics(source.workspace_id)
    matcher = mentions.TopicMatcher(topics)
    default_topic_id = topic.id if topic is not None else source.default_topic_id
    batch: list[Row] = []
    writing: Future[mentions.StoredBatch] | None = None

    def collect() -> None:
        """Wait for the batch being written (re-raising StoreUnavailable) and count it."""
        nonlocal writing
        if writing is not None:
            stored = writing.result()
            writing = None
            summary.imported += stored.inserted
            summary.duplicate += stored.duplicate

    def flush(writer: ThreadPoolExecutor) -> None:
        nonlocal writing
        drafts: list[tuple[mentions.Draft, mentions.Topic]] = []
        seen: set[str] = set()
        for row in batch:
            try:
                if isinstance(row.item, mentions.Rejected):
                    raise row.item
                if row.is_csv:
                    draft = mentions.normalise_export_row(row.item, vendor=source.vendor)  # type: ignore[arg-type]
                else:
                    draft = mentions.normalise(row.item, vendor=source.vendor)
                chosen = matcher.choose(draft, default_topic_id=default_topic_id)
            except mentions.Rejected as error:
                summary.rejected.append((row.line, str(error)))
                continue
            if draft.source_id in seen:
                summary.duplicate += 1
                continue
            seen.add(draft.source_id)
            drafts.append((draft, chosen))
        ready = mentions.scored_mentions(drafts, source=source.name, analyser=analyser, now=now)
        batch.clear()
        collect()
        writing = writer.submit(store.store_batch, ready)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                flush(writer)
                if progress is not None:
                    progress(summary)
        if batch:
            flush(writer)
        collect()
    return summary


class ProgressBar:
    """A one-line progress bar on stderr, by bytes read, redrawn at most four times a second."""

    def __init__(self, handle: TextIO, size: int, out: TextIO) -> None:
        self.handle, self.size, self.out = handle, max(size, 1), out
        self.started = self._last = time.monotonic()

    def __call__(self, summary: Summary, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        try:
            share = 1.0 if final else min(1.0, self.handle.buffer.tell() / self.size)  # type: ignore[attr-defined]
        except (AttributeError, OSError, ValueError):
            share = 0.0
        done = summary.imported + summary.duplicate + len(summary.rejected)
        rate = done / max(now - self.started, 1e-9)
        bar = "#" * int(share * 30)
        self.out.write(f"\r[{bar:<30}] {share:4.0%}  {done:,} rows  {rate:,.0f}/s")
        if final:
            self.out.write("\n")
        self.out.flush()


def main(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the import; return 0 on success and 2 (after one line on stderr) when it cannot run."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    try:
        summary = _run(args, stderr)
    except (ImportFailed, mentions.StoreUnavailable, OSError, UnicodeDecodeError, csv.Error) as error:
        print(f"socialops import: error: {error}", file=stderr)
        return 2
    for line in summary.lines():
        print(line, file=stdout)
    return 0


def _run(args: argparse.Namespace, stderr: TextIO) -> Summary:
    from bot.app import database_url
    from bot.config import load_settings
    from bot.errors import NotFound
    from storage import migrate
    from storage.mentions import Mentions
    from storage.session import Database

    if not args.file.is_file():
        raise ImportFailed(f"no such file: {args.file}")
    database = Database.from_url(args.db or database_url(load_settings()))
    try:
        migrate.upgrade(database.engine)
        store = Mentions(database)
        named = [s for s in store.sources() if s.name == args.source and (not args.workspace or s.workspace_id == args.workspace)]
        if not named:
            known = ", ".join(s.name for s in store.sources()) or "none yet"
            raise ImportFailed(f"no source called {args.source!r} (known: {known}); create it with `socialops sources add {args.source}`")
        if len(named) > 1:
            raise ImportFailed(f"several workspaces have a source called {args.source!r} "
                               f"({', '.join(s.workspace_id for s in named)}); add --workspace T…")
        source = named[0]
        topic = None
        if args.topic:
            try:
                topic = store.topic_by_name(workspace_id=source.workspace_id, name=args.topic)
            except NotFound as error:
                raise ImportFailed(str(error)) from error
        rows, handle = read_rows(args.file)
        with handle:
            bar = ProgressBar(handle, args.file.stat().st_size, stderr)
            summary = import_rows(store, rows, source=source, analyser=mentions.default_analyser(), now=datetime.now(UTC),
                                  topic=topic, progress=bar)
            bar(summary, final=True)
        return summary
    finally:
        database.dispose()

