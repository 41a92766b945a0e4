"""Console mode: playbooks, policy and notes work without Slack — forms are shown and `submit` sends them."""

from __future__ import annotations

import io
import re

from bot.config import load_settings
from bot.console import run_console


class Typist:
    """Console input typed line by line; a callable line is worked out from the output so far (to press a shown button)."""

    def __init__(self, out: io.StringIO, lines) -> None:  # noqa: ANN001 - strings or callables
        self.out, self.lines = out, list(lines)

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        return (line(self.out.getvalue()) if callable(line) else line) + "\n"


def run(tmp_path, *lines) -> str:  # noqa: ANN002 - strings or callables
    out = io.StringIO()
    code = run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=Typist(out, [*lines, "quit"]), out=out)
    assert code == 0
    return out.getvalue()


def press(label: str):  # noqa: ANN201 - a line worked out from the output
    """Return a line pressing the last button called `label` shown so far."""
    return lambda text: "press " + re.findall(rf"\[{re.escape(label)}\] \(press (\d+)\)", text)[-1]


def test_admin_edits_the_playbook_in_the_console_and_ticks_a_step(tmp_path):
    """/crisis playbook opens the prefilled form; `submit` saves it; Open playbook on a card shows it and Done ticks a step."""
    text = run(tmp_path, "/crisis playbook", "submit steps=", "submit steps=Pause ads\\nCall legal; statements=We hear you.",
               "/simulate spike", press("Open playbook"), press("Done"))
    assert "Crisis playbook (modal)" in text and "| Pause all scheduled posts on every account" in text
    assert "The form was not saved:" in text and "steps: Give at least one step" in text
    assert "[form submitted]" in text
    assert "PLAYBOOK FOR #1 SEV2 ACME: 0 OF 2 DONE" in text and "```We hear you.```" in text  # headers print in capitals
    assert "1 OF 2 DONE" in text and "✓ done by @giulia" in text and "Playbook: ✓ Call legal" in text


def test_policy_form_errors_and_notes_in_the_console(tmp_path):
    """/crisis policy shows field errors from `submit`, then saves; a member sees it read-only; notes reach the status."""
    text = run(tmp_path, "/crisis policy", "submit repeat=9", "submit repeat=3; step1_target=; step1_wait=", "/crisis policy",
               "as @marcus", "/crisis policy", "/simulate spike", "/crisis note 1 holding statement approved", "/crisis status 1")
    assert "repeat: Run the chain 1 to 5 times." in text and "[form submitted]" in text
    assert "2. On-call group / @here in the channel — then wait 15 min" in text and "The chain runs 3×" in text
    assert "Only admins can change it." in text
    assert "Note added to #1" in text and "Notes (1)" in text and "@marcus: holding statement approved" in text
