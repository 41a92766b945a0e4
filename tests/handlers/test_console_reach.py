"""Console mode shows paging beyond Slack: the verification SMS and the phone call print as lines from the stand-in."""

from __future__ import annotations

import io
import re

from bot.config import load_settings
from bot.console import run_console


class LazyScript(io.StringIO):
    """stdin whose lines may be computed from what the console printed so far (the code in the SMS line)."""

    def __init__(self, lines, out: io.StringIO) -> None:
        super().__init__()
        self._lines, self._out = list(lines), out

    def readline(self, size: int = -1) -> str:  # noqa: ARG002 - TextIO's signature
        if not self._lines:
            return ""
        line = self._lines.pop(0)
        return (line(self._out.getvalue()) if callable(line) else line) + "\n"

    def isatty(self) -> bool:
        return False


def verify_line(printed: str) -> str:
    code = re.search(r"\[sms\] to \+393331234567: Your socialops code is (\d{6})", printed)
    assert code, "the verification SMS was not printed"
    return f"/crisis reach verify {code.group(1)}"


def test_console_prints_the_code_sms_and_the_call_of_a_phone_step(tmp_path):
    """@giulia (admin) makes the managers' step a call, verifies her number from the printed SMS; the spike's call prints."""
    out = io.StringIO()
    script = LazyScript(["/crisis policy managers 5 call, primary 5", "/crisis reach phone +39 333 123 4567", verify_line,
                         "/simulate spike", "quit"], out)
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=script, out=out) == 0
    text = out.getvalue()
    assert "Escalation for social is now: managers 5 call, primary 5." in text
    assert "+393331234567 is verified." in text
    assert re.search(r"\[phone\] calling \+393331234567: socialops: SEV[12] crisis 1 on acme needs an acknowledgement\. Press 1", text)
