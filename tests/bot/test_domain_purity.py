"""The domain core imports no Slack, database or scheduler library (style guide §1)."""

import ast
from pathlib import Path

import bot

FORBIDDEN = ("slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy", "apscheduler", "storage", "handlers", "starlette", "uvicorn")
# Edge modules wire the domain to the outside world; everything else in bot/ must stay pure.
EDGES = {"config.py", "app.py", "jobs.py", "__main__.py", "console.py", "server.py", "slack_gateway.py", "mention_import.py", "metrics.py", "install_flow.py"}
EDGE_PACKAGES = {"standin"}


def _domain_modules():
    root = Path(bot.__file__).parent
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in EDGE_PACKAGES or (len(relative.parts) == 1 and relative.name in EDGES):
            continue
        yield path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_domain_modules_import_no_slack_database_or_scheduler():
    """Every non-edge module in bot/ imports only pure code."""
    offenders = {
        str(path): name
        for path in _domain_modules()
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert offenders == {}


def test_purity_check_sees_the_domain_modules():
    """The walk really covers modules (guards against an empty glob passing silently)."""
    names = {path.name for path in _domain_modules()}
    assert {"errors.py", "outbox.py", "command_grammar.py", "people.py"} <= names
    flows = {path.relative_to(Path(bot.__file__).parent).as_posix() for path in _domain_modules()}
    assert {"flows/ports.py", "flows/uploads.py", "flows/paging.py", "flows/outbox.py", "flows/burnout_guard.py", "flows/home_refresh.py", "flows/rotation_messages.py", "flows/reports.py"} <= flows  # the asynchronous use cases are held to the same rule
