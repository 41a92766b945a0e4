"""`socialops serve` in a process of its own on a free port, for tests and benchmarks of several real instances."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    """One `python -m bot serve` on 127.0.0.1; its output goes to `log_path` (read it when a test fails)."""

    def __init__(self, *, database_url: str, slack_api_url: str, signing_secret: str, admins: str = "",
                 log_path: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        clean = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "SOCIALOPS_", "DATABASE_URL"))}
        clean.update(PYTHONPATH=str(ROOT), PORT=str(self.port), HOST="127.0.0.1", DATABASE_URL=database_url,
                     SLACK_API_URL=slack_api_url, SLACK_BOT_TOKEN="xoxb-serve-process", SLACK_SIGNING_SECRET=signing_secret,
                     SOCIALOPS_ADMINS=admins, **(env or {}))
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()/kill()
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=clean,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def health(self) -> dict | None:
        """The /healthz body, or None while the process is not answering."""
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).json()
        except (httpx.TransportError, ValueError):
            return None

    def role(self) -> str | None:
        body = self.health()
        return None if body is None else body.get("scheduler")

    def wait_for_role(self, role: str, timeout: float) -> float:
        """Wait until /healthz says `role` (leader or standby); return the seconds it took."""
        started = time.monotonic()
        while self.role() != role:
            if self.process.poll() is not None:
                raise AssertionError(f"socialops serve exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no {role!r} within {timeout}s (now {self.role()!r}); see {self.log_path}")
            time.sleep(0.1)
        return time.monotonic() - started

    def kill(self) -> None:
        """kill -9: no shutdown code runs, the database sees the connections drop."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not subprocess.DEVNULL and not self._log.closed:
            self._log.close()
