"""`socialops import mentions`: CSV and JSON Lines exports, bad rows with line numbers, re-runs that change nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bot import mention_import, mentions
from storage import migrate
from storage.mentions import Mentions
from storage.session import Database, sqlite_url

NOW = datetime.now(UTC).replace(microsecond=0)

BRANDWATCH_CSV = f"""Report:,Acme mentions
Date range:,last 7 days

Query Id,Query Name,Date,Title,Url,Sentiment,Language,Full Text,Author,Twitter Followers,Resource Id
1,Acme,{(NOW - timedelta(hours=1)).strftime('%Y-%m-%d %H:%M:%S.0')},,https://x.com/a/1,negative,en,acme lost my parcel,amy,1200,r1
1,Acme,{(NOW - timedelta(hours=1)).strftime('%Y-%m-%d %H:%M:%S.0')},,https://x.com/a/2,positive,en,acme refunded me fast,bob,,r2
1,Acme,not a date,,https://x.com/a/3,neutral,en,acme again,cy,,r3
1,Acme,{(NOW - timedelta(hours=1)).strftime('%Y-%m-%d %H:%M:%S.0')},,https://x.com/a/4,furious,en,acme whatever,dee,,r4
1,Acme,{(NOW - timedelta(hours=1)).strftime('%Y-%m-%d %H:%M:%S.0')},,https://x.com/a/5,,en,,eve,,r5
1,Acme,{(NOW - timedelta(hours=1)).strftime('%Y-%m-%d %H:%M:%S.0')},,https://x.com/a/1,negative,en,acme lost my parcel,amy,1200,r1
"""


@pytest.fixture
def db_url(tmp_path) -> str:
    url = sqlite_url(tmp_path / "import.db")
    database = Database.from_url(url)
    migrate.upgrade(database.engine)
    store = Mentions(database)
    store.save_topic(workspace_id="T1", name="acme", keywords=["acme"], hashtags=[], now=NOW)
    store.save_topic(workspace_id="T1", name="other", keywords=["zzz"], hashtags=[], now=NOW)
    for name, vendor in (("bw", "brandwatch"), ("feed", "generic")):
        store.add_source(name=name, vendor=vendor, workspace_id="T1", token_hash=mentions.hash_token(name), now=NOW)
    database.dispose()
    return url


def run(db_url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = mention_import.main(["mentions", *argv, "--db", db_url], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_csv_with_bad_rows_reports_each_with_its_line_number(tmp_path, db_url):
    """A Brandwatch export (report lines above the header) imports good rows and names bad ones by line."""
    path = tmp_path / "export.csv"
    path.write_text(BRANDWATCH_CSV, encoding="utf-8")
    code, out, err = run(db_url, str(path), "--source", "bw")
    assert code == 0, err
    assert out.splitlines()[0] == "imported 2, duplicate 1, rejected 3"
    assert "line 7: column 'Date' 'not a date' is not an ISO 8601 time" in out
    assert "line 8: brandwatch sentiment 'furious'" in out
    assert "line 9: no text" in out
    assert "rows" in err and "100%" in err  # the progress bar went to stderr


def test_rerunning_the_same_file_changes_nothing(tmp_path, db_url):
    """The second run reports every good row as a duplicate and the counters stay put."""
    path = tmp_path / "export.csv"
    path.write_text(BRANDWATCH_CSV, encoding="utf-8")
    run(db_url, str(path), "--source", "bw")
    database = Database.from_url(db_url)
    before = Mentions(database).totals_since(workspace_id="T1", since=NOW - timedelta(days=1))
    code, out, _ = run(db_url, str(path), "--source", "bw")
    assert code == 0 and out.splitlines()[0] == "imported 0, duplicate 3, rejected 3"
    assert Mentions(database).totals_since(workspace_id="T1", since=NOW - timedelta(days=1)) == before
    assert before["acme"].total == 2 and before["acme"].negative == 1
    database.dispose()


def test_json_lines_with_topic_option_put_every_row_in_that_topic(tmp_path, db_url):
    """JSON Lines in the source's schema; --topic overrides keyword matching; a broken line is named."""
    path = tmp_path / "feed.jsonl"
    lines = [json.dumps({"id": str(i), "text": f"post {i} about nothing", "created_at": NOW.isoformat()}) for i in range(3)]
    path.write_text("\n".join(lines[:2] + ["{broken", lines[2]]) + "\n", encoding="utf-8")
    code, out, _ = run(db_url, str(path), "--source", "feed", "--topic", "other")
    assert code == 0
    assert out.splitlines()[0] == "imported 3, duplicate 0, rejected 1"
    assert "line 3: malformed JSON" in out
    database = Database.from_url(db_url)
    assert Mentions(database).totals_since(workspace_id="T1", since=NOW - timedelta(hours=1))["other"].total == 3
    database.dispose()


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.csv", "--source", "bw"], "no such file"),
    (["FILE", "--source", "nobody"], "no source called 'nobody'"),
    (["FILE", "--source", "bw", "--topic", "nope"], "No topic called 'nope'"),
])
def test_unusable_arguments_print_one_line_and_exit_2(tmp_path, db_url, argv, message):
    """A missing file, unknown source or unknown topic: one line on stderr, exit code 2."""
    path = tmp_path / "export.csv"
    path.write_text(BRANDWATCH_CSV, encoding="utf-8")
    code, out, err = run(db_url, *[str(path) if a == "FILE" else str(tmp_path / a) if a.endswith(".csv") else a for a in argv])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_csv_without_a_recognisable_header_exits_2(tmp_path, db_url):
    """A file with no known columns is refused with one line."""
    path = tmp_path / "junk.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    code, _, err = run(db_url, str(path), "--source", "bw")
    assert code == 2 and "no header row" in err


def test_socialops_import_subcommand_runs_the_importer(tmp_path, db_url):
    """`socialops import mentions FILE --source NAME` goes through the console script's parser."""
    path = tmp_path / "export.csv"
    path.write_text(BRANDWATCH_CSV, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"DATABASE_URL": db_url, "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "import", "mentions", str(path), "--source", "bw"],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 2, duplicate 1, rejected 3")
