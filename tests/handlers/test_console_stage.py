"""Console mode as the product's stage: time control, forms with people and channels, restarts, DMs, files, buttons.

Every test types a piped console session (a subprocess where stderr and the exit code matter, in process where a line
depends on earlier output) and asserts on what was printed.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import load_settings
from bot.console import run_console, console_state_path


def _session(tmp_path: Path, *lines: str, db: str = "console.db") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "bot", "console", "--db", str(tmp_path / db)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)


class Typist:
    """Console input typed line by line; a callable line is worked out from the output so far."""

    def __init__(self, out: io.StringIO, lines) -> None:  # noqa: ANN001 - strings or callables
        self.out, self.lines = out, list(lines)

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        return (line(self.out.getvalue()) if callable(line) else line) + "\n"


def _typed(tmp_path: Path, *lines) -> str:  # noqa: ANN002 - strings or callables
    out = io.StringIO()
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=Typist(out, [*lines, "quit"]), out=out) == 0
    return out.getvalue()


_UTC_PART = r"\((?:\w{3} \d+ \w{3} \d{4} )?(\d\d:\d\d) UTC\)"


def _console_times(text: str) -> list[datetime]:
    """Return every console time the banner or `clock` printed, to the minute."""
    found = re.findall(r"Console time: \w{3} (\d+ \w{3} \d{4}) (\d\d:\d\d) (\w+)", text)
    assert found, text[:2000]
    # The local part names the day; Europe/Rome (the typist's zone in these tests) is UTC+1 in winter, +2 in summer.
    return [datetime.strptime(f"{day} {hhmm}", "%d %b %Y %H:%M").replace(tzinfo=UTC) - timedelta(hours=2 if zone == "CEST" else 1)
            for day, hhmm, zone in found]


def _on_call(text: str) -> tuple[str, str]:
    match = re.search(r"On call for \*social\*: primary @(\w+), backup @(\w+)", text)
    assert match, text[:2000]
    return match.group(1), match.group(2)


def test_four_lines_show_an_unacknowledged_crisis_paging_primary_backup_group_and_admins(tmp_path):
    """Declare, then clock +5m, +10m, +15m (the default policy's waits): each step's page prints before the prompt returns."""
    result = _session(tmp_path, "/oncall", "/crisis declare acme sev2 checkout broken", "clock +5m", "clock +10m", "clock +15m")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    text = result.stdout
    primary, backup = _on_call(text)
    after_declare = text.split("Declared #1", 1)[1]
    moves = after_declare.split("[clock] It is now")
    declared, five = moves[0].split("── ", 1)
    ten, fifteen = moves[1], moves[2]
    assert f"[DM to @{primary}] socialops:\n  *You are being paged* for SEV2 on *acme*" in declared
    assert f"[DM to @{backup}]" not in declared
    assert f"[DM to @{backup}] socialops:\n  *You are being paged*" in five and f"Paged @{backup} by DM." in five
    assert "@social-oncall — SEV2 crisis #1 on *acme* needs an acknowledgement" in ten and "*You are being paged*" not in ten
    assert "[DM to @giulia] socialops:\n  *You are being paged*" in fifteen and "Paged @giulia by DM." in fifteen
    # Each step ran at its own time: the headings name the opening time + 5, + 15 and + 30 minutes.
    # The card's times are reader-zone tokens whose fallback (what the console prints) is the team's zone.
    local, zone = re.search(r"\*Opened\* \w{3} \d\d \w{3} (\d\d:\d\d) (\w+)", text).groups()
    opened = datetime.strptime(local, "%H:%M") - timedelta(hours={"CET": 1, "CEST": 2}.get(zone, 0))
    headings = re.findall(r"── \w{3} \d+ \w{3} \d{4} \d\d:\d\d \w+ " + _UTC_PART + " ──", text)
    expected = [(opened + timedelta(minutes=m)).strftime("%H:%M") for m in (5, 15, 30)]
    assert [h for h in headings if h in expected] == expected, headings


def test_clock_shows_the_time_moves_only_forward_and_explains_bad_input(tmp_path):
    """`clock` tells the console's time; going back, or an unreadable time, is refused with a clear line."""
    text = _typed(tmp_path, "clock -5m", "clock 2020-01-01 08:00", "clock someday", "clock", "clock +2h", "clock")
    assert "The console's clock only moves forward (it is" in text and "try clock +6m" in text
    assert "Wed 1 Jan 2020 08:00 CET (07:00 UTC) is before its time" in text and "--reset" in text
    assert "I couldn't read “someday” as a date or time." in text
    _, before, after = _console_times(text)  # the banner, then the two `clock` lines
    assert timedelta(hours=2) <= after - before <= timedelta(hours=2, minutes=1)
    assert "[clock] It is now" in text.split("Console time:")[-2]


def test_the_console_clock_survives_a_restart_on_the_same_database(tmp_path):
    """After `clock +3d` and quitting, reopening the same database resumes at that time (saved beside it)."""
    start = _console_times(_typed(tmp_path, "clock +3d"))[0]
    assert console_state_path(tmp_path / "c.db").exists()
    resumed = _console_times(_typed(tmp_path, "clock"))[-1]
    assert start + timedelta(days=3) <= resumed <= start + timedelta(days=3, minutes=2)


def test_a_week_ahead_runs_reminders_handoff_and_report_each_at_its_own_time(tmp_path):
    """`clock +1w` crosses the demo team's Monday 09:00 handoff: the 1-hour reminder at 08:00, the announcement at 09:00, the report at 09:05."""
    text = _typed(tmp_path, "clock +1w")
    stretches = re.split(r"── (\w{3} \d+ \w{3} \d{4} \d\d:\d\d) \w+ \(", text)
    at: dict[str, str] = {}  # the heading (Rome time) each kind of output first appeared under
    for heading, body in zip(stretches[1::2], stretches[2::2], strict=True):
        for kind, marker in (("reminder", "(in about 1 h)"), ("handoff", "ON-CALL HANDOFF: SOCIAL"), ("report", "SOCIAL: REPORT FOR THE LAST")):
            if marker in body:
                at.setdefault(kind, heading)
    assert at["reminder"].startswith("Mon") and at["reminder"].endswith("08:00"), at
    assert at["handoff"] == at["reminder"].replace("08:00", "09:00")
    assert at["report"] == at["reminder"].replace("08:00", "09:05")
    assert "[user group @social-oncall is now @" in text


def test_setup_form_takes_people_channels_and_checkboxes_and_changes_the_team(tmp_path):
    """`/oncall setup` creates a team from typed @people, #channels and a checkbox; reopening shows them; a second submit changes it."""
    text = _typed(
        tmp_path, "/oncall setup",
        "submit name=brand-eu; roster=@giulia,@marcus; crisis_channel=#social-crisis; observe_holidays=yes",
        "people",
        "/oncall setup brand-eu",
        "submit roster=@giulia,@nobody",
        "submit crisis_channel=#nowhere",
        "submit observe_holidays=maybe",
        "submit roster=@marcus,@chloe,@priya; observe_holidays=no; announce_channel=#social-announcements",
        "/oncall who brand-eu",
        "/oncall setup brand-eu",
    )
    after_first, after_second = text.split("[form submitted]")[1:3]
    assert "Team *brand-eu* saved: 2 people" in after_first.split("@giulia (Giulia Rossi")[0]  # the outbox DM came before `people` printed
    assert re.search(r"Roster, in rotation order: <multi_users_select> \(block roster\)\n  │     \| @giulia, @marcus", after_first)
    assert re.search(r"Crisis channel: <conversations_select> \(block crisis_channel\)\n  │     \| #social-crisis", after_first)
    assert "Public holidays: <checkboxes> (block observe_holidays)\n  │     | Skip people on their country's public holidays" in after_first
    assert "Not submitted: roster: no person called @nobody (type `people`)" in after_first
    assert "Not submitted: crisis_channel: no channel called #nowhere" in after_first
    assert "Not submitted: observe_holidays: 'maybe' is not one of its options (yes)" in after_first
    assert "Team *brand-eu* saved: 3 people" in after_second
    assert "On call for *brand-eu*: primary @marcus, backup @chloe" in after_second
    final_form = after_second.rsplit("[modal opened for @giulia]", 1)[1]
    assert "| @marcus, @chloe, @priya" in final_form and "| #social-announcements" in final_form
    holidays = final_form.split("(block observe_holidays)")[1].split("(block windows)")[0]
    assert "Skip people on their country's public holidays" not in holidays


def test_reopening_a_database_whose_slack_messages_were_forgotten_does_not_crash(tmp_path):
    """The stand-in's copy of the card is lost (state file gone); `/crisis ack 1` brings the card back with a line, exit 0."""
    first = _session(tmp_path, "/crisis declare acme sev2 checkout broken")
    assert first.returncode == 0 and "[#social-crisis] socialops:" in first.stdout
    console_state_path(tmp_path / "console.db").unlink()
    result = _session(tmp_path, "/crisis ack 1", "clock +40m")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "message_not_found" not in result.stdout + result.stderr
    assert "You acknowledged #1 SEV2 acme" in result.stdout
    assert "(this message was posted before the console restarted and its copy was lost; shown again as updated)" in result.stdout
    assert re.search(r"\[#social-crisis\] socialops \(message updated\):\n(  .*\n)*  :eyes: Acked by @giulia", result.stdout)


def test_pending_jobs_of_an_old_crisis_run_after_a_restart_without_tracebacks(tmp_path):
    """A crisis left unacknowledged, its Slack copies forgotten: its later escalation steps still page, quietly, after a restart."""
    first = _session(tmp_path, "/oncall", "/crisis declare acme sev2 checkout broken")
    _, backup = _on_call(first.stdout)
    console_state_path(tmp_path / "console.db").unlink()
    result = _session(tmp_path, "clock +20m")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"[DM to @{backup}] socialops:\n  *You are being paged*" in result.stdout
    assert "@social-oncall — SEV2 crisis #1" in result.stdout
    assert "shown again as updated" in result.stdout  # the card it updates came back


def test_a_restart_with_the_saved_state_updates_the_same_card_in_place(tmp_path):
    """With the state file kept, the reopened console knows the card: the ack updates it with no "lost" line."""
    _session(tmp_path, "/crisis declare acme sev2 checkout broken")
    result = _session(tmp_path, "/crisis ack 1")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "Acked by @giulia" in result.stdout and "its copy was lost" not in result.stdout


def test_button_numbers_stay_with_a_message_updated_in_place(tmp_path):
    """The card's buttons keep their numbers across updates; a button the update removed says so when pressed."""
    text = _typed(tmp_path, "/crisis declare acme sev2 checkout broken", "press 1", "press 1", "press 2")
    declared, acked = text.split("You acknowledged #1", 1)
    assert "[Acknowledge] (press 1)   [I'm responding] (press 2)   [Escalate now] (press 3)" in declared
    updates = re.findall(r"\[#social-crisis\] socialops \(message updated\):\n((?:  .*\n)+)", text)
    assert "[Acknowledge] (press 1)   [I'm responding] (press 2)" in updates[0]  # the paging update, before the ack
    assert any("Acked by @giulia" in card and "[I'm responding] (press 2)   [Escalate now] (press 3)" in card for card in updates)
    assert "Button 1 is no longer there: its message was updated." in acked
    assert re.search(r"responding", acked.split("Button 1 is no longer there", 1)[1], re.IGNORECASE)


def test_uploaded_charts_and_exports_are_written_to_a_folder_and_their_paths_printed(tmp_path):
    """`/oncall report` uploads three PNG charts and `/oncall export` four CSVs to the asker's DM; each is saved under c-files/."""
    text = _typed(tmp_path, "/oncall report social 2", "/oncall export")
    charts = re.findall(r"\[DM to @giulia\] socialops uploaded: social: .+ — saved at (\S+\.png)", text)
    exports = re.findall(r"\[DM to @giulia\] socialops uploaded: socialops .+ — saved at (\S+\.csv)", text)
    assert len(charts) == 3 and len(exports) == 4
    for path in charts:
        assert Path(path).parent == tmp_path / "c-files" and Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    audit = next(Path(p) for p in exports if "-audit-" in p)
    assert audit.read_text().splitlines()[0] == "at,actor,action,via,target,team_id,before,after"


def test_the_calendar_link_points_at_the_consoles_own_server(tmp_path):
    """`/oncall calendar` gives a URL on the console's real port, and fetching it while the console runs returns the feed."""
    fetched: list[bytes] = []

    def fetch_then_quit(output: str) -> str:
        url = re.search(r"(http://127\.0\.0\.1:\d+/calendar/social\.ics\?token=\S+)", output).group(1)
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the console's own 127.0.0.1 server
            fetched.append(response.read())
        return "quit"

    text = _typed(tmp_path, "/oncall calendar social", fetch_then_quit)
    port = re.search(r"Mentions webhook: POST http://127\.0\.0\.1:(\d+)/api/mentions", text).group(1)
    assert f"http://127.0.0.1:{port}/calendar/social.ics?token=" in text
    assert fetched and fetched[0].startswith(b"BEGIN:VCALENDAR")


def test_home_menus_are_picked_by_number_and_the_choice_is_stored_and_shown(tmp_path):
    """The App Home's selects (holiday calendar, quiet hours) are chosen with `pick N <option>`; bad picks explain."""
    text = _typed(tmp_path, "/home", "press 2", "pick 2 zz", "pick 2", "pick 2 NZ", "pick 3 22:00")
    assert "<My team's default ▾> (pick 2 <option>," in text
    assert "2 is a menu: `pick 2 <option>` chooses one" in text
    assert "No option of menu 2 matches 'zz'" in text
    assert re.search(r"Options of menu 2: My team's default, AD, AE, .*\bNZ\b", text)
    assert "*Public holidays*: the NZ calendar" in text and "<NZ ▾> (pick 2 <option>," in text
    assert "*Quiet hours*: 22:00–08:00 (Europe/Rome)" in text
    # Stored, not only shown: a new session on the same database shows the choices.
    assert "*Public holidays*: the NZ calendar" in _typed(tmp_path, "/home")
