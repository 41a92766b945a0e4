"""Console mode: the real app against the in-process stand-in, driven by typed lines."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from bot.config import load_settings
from bot.console import run_console


def _run(lines: str, tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "bot", "console", "--db", str(tmp_path / "console.db"), *extra],
                          input=lines, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def test_piped_oncall_help_prints_help_and_exits_zero(tmp_path):
    """`printf '/oncall help\\n' | socialops console` prints the help and exits 0."""
    result = _run("/oncall help\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "/ONCALL HELP" in result.stdout and "`/oncall help` — show this help" in result.stdout
    assert str(tmp_path / "console.db") in result.stdout
    assert "Traceback" not in result.stderr


def test_console_answers_usage_renders_home_and_switches_people(tmp_path):
    """Bad commands get usage, /home renders the App Home, `as @name` changes who is typing."""
    out = io.StringIO()
    code = run_console(load_settings({}), db_path=str(tmp_path / "c.db"),
                       stdin=io.StringIO("press 1\n/oncall nonsense\n/home\nas @marcus\n/home\nas @nobody\npress 999\nquit\n"), out=out)
    text = out.getvalue()
    assert code == 0
    assert "I don't know `/oncall nonsense`" in text
    assert "[App Home of @giulia]" in text and "[App Home of @marcus]" in text
    assert "You are now @marcus (America/New_York)." in text
    assert "No demo person called @nobody" in text
    assert "There is no button to press yet." in text  # before anything was shown
    assert "Press what? Give a button number between 1 and" in text


def test_reset_starts_the_demo_afresh(tmp_path):
    """--reset deletes the console database before starting."""
    db = tmp_path / "console.db"
    _run("/oncall help\n", tmp_path)
    db.with_name("console.db").write_bytes(b"not a database")
    result = _run("/oncall help\n", tmp_path, "--reset")
    assert result.returncode == 0, result.stderr
    assert db.read_bytes()[:15] == b"SQLite format 3"


def test_demo_team_rotation_cover_and_take_work_in_the_console(tmp_path):
    """The seeded team answers /oncall and /oncall schedule; a cover request can be taken with `press`."""
    out = io.StringIO()
    script = "\n".join([
        "/oncall",
        "/oncall schedule 2",
        "/oncall cover now +2h",        # as giulia: only works if she is on call, so find who is
    ]) + "\n"
    run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out)
    first = out.getvalue()
    assert "On call for *social*: primary @" in first
    assert "SOCIAL: THE NEXT 2 WEEKS" in first
    primary = first.split("On call for *social*: primary @", 1)[1].split(",", 1)[0]
    taker = "marcus" if primary != "marcus" else "chloe"
    out = io.StringIO()
    script = f"as @{primary}\n/oncall cover now +2h covering a launch\nas @{taker}\npress 1\n/oncall\n"
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "[Take] (press 1)" in text
    assert f"You cover *social* for @{primary}. Thank you!" in text
    assert f"Taken by @{taker}" in text
    assert f"On call for *social*: primary @{taker}" in text


def test_simulated_spike_gives_a_card_a_newcomer_can_acknowledge(tmp_path):
    """`/simulate spike` posts the crisis card with buttons; pressing Acknowledge updates it."""
    out = io.StringIO()
    code = run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO("/simulate spike\npress 1\nquit\n"), out=out)
    text = out.getvalue()
    assert code == 0
    assert "Spike on acme: crisis #1 opened" in text
    # The burst straddles real minutes, so a later detection pass may raise SEV2 to SEV1 while the script runs.
    assert re.search(r"SEV[12] CRISIS #1: ACME", text) and "[Acknowledge] (press 1)" in text
    assert re.search(r"You acknowledged #1 SEV[12] acme", text) and "Acked by @giulia" in text


def test_console_renders_the_report_and_its_charts_and_refuses_export_to_non_admins(tmp_path):
    """`/oncall report` prints the report with its figures and the chart uploads to the DM; @marcus cannot export."""
    out = io.StringIO()
    script = "/oncall report social 2\n/oncall report settings admins\nas @marcus\n/oncall export\n"
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "SOCIAL: REPORT FOR THE LAST 2 WEEKS" in text
    assert "*Time to acknowledge*: median —" in text and "*Load per person*" in text
    assert text.count("[DM to @giulia] socialops uploaded: social: ") == 3
    assert "The weekly report of *social* will be DM'd to the admins after each handoff." in text
    assert "Only admins can export records. Ask @giulia." in text


def test_console_posts_the_weekly_report_where_the_setting_says(tmp_path):
    """`/simulate report` posts the last handoff's report in #social-announcements with three charts; off posts nothing."""
    out = io.StringIO()
    script = "/simulate report\n/oncall report settings off\n/simulate report\n"
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert text.count("[#social-announcements] socialops:\n  SOCIAL: REPORT FOR THE LAST 1 WEEK") == 1
    assert text.count("[#social-announcements] socialops uploaded: social: ") == 3
    assert "The weekly report is off for this team" in text


def test_refreshed_homes_of_other_members_are_one_line_not_printed_whole(tmp_path):
    """A cover request republishes every member's Home; the console prints one line for them, and /home still renders yours."""
    out = io.StringIO()
    run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO("/oncall\n"), out=out)
    primary = out.getvalue().split("On call for *social*: primary @", 1)[1].split(",", 1)[0]
    out = io.StringIO()
    script = f"as @{primary}\n/oncall cover now +2h dentist\n/home\n"
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "[App Home refreshed for 5 members:" in text
    assert text.count("[App Home of @") == 1 and f"[App Home of @{primary}]" in text
    assert "YOUR SETTINGS" in text.upper()
