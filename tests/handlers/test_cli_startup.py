"""Start-up as an operator meets it: .env from the working folder, one clear line for a bad setting or database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _socialops(tmp_path: Path, *args: str, env_file: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".env").write_text(env_file)
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "LOG_LEVEL"}}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_env_file_of_the_working_folder_is_read(tmp_path):
    """A .env beside where socialops starts sets its database (db current creates and reports that file)."""
    database = tmp_path / "from-dotenv.db"
    result = _socialops(tmp_path, "db", "current", env_file=f"DATABASE_URL=sqlite:///{database}\n")
    assert result.returncode == 0, result.stderr
    assert database.exists()


def test_an_unknown_log_level_is_one_clear_line(tmp_path):
    """LOG_LEVEL=verbose names the accepted levels and exits 2, without a traceback."""
    result = _socialops(tmp_path, "db", "current", env_file="LOG_LEVEL=verbose\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOG_LEVEL must be one of DEBUG, INFO" in lines[0]


def test_an_unreachable_database_is_one_clear_line_without_the_password(tmp_path):
    """A PostgreSQL URL nobody answers at gives one line naming host and port, the password masked, exit 2."""
    result = _socialops(tmp_path, "db", "current", env_file="DATABASE_URL=postgresql://ops:hunter2@127.0.0.1:1/none\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the database" in lines[0] and "127.0.0.1:1" in lines[0]
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
