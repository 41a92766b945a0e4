"""The Dockerfile, compose.yaml and Procfile describe a deployment that can really start (checked without an engine)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_the_image_starts_from_a_pinned_slim_python_3_11():
    """No `latest`, no floating major: the base is a python:3.11 slim tag."""
    bases = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert len(bases) == 1
    assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", bases[0]), bases[0]


def test_the_image_runs_as_a_non_root_user_with_a_health_check_on_healthz():
    """USER is set to a non-root id before CMD; HEALTHCHECK asks /healthz; the command is `socialops serve`."""
    rows = _instructions()
    keywords = [keyword for keyword, _ in rows]
    user = [rest for keyword, rest in rows if keyword == "USER"]
    assert user and user[-1] not in {"root", "0"}
    assert keywords.index("USER") < keywords.index("CMD")
    assert any(keyword == "HEALTHCHECK" and "/healthz" in rest for keyword, rest in rows)
    assert [rest for keyword, rest in rows if keyword == "CMD"] == ['["socialops", "serve"]']


def test_the_image_follows_the_usual_dockerfile_lint_rules():
    """hadolint's main rules: COPY not ADD, pip without its cache, no sudo, no apt lists left behind."""
    rows = _instructions()
    assert all(keyword != "ADD" for keyword, _ in rows)
    for keyword, rest in rows:
        if keyword == "RUN":
            if "pip install" in rest:
                assert "--no-cache-dir" in rest
            assert "sudo " not in rest
            if "apt-get install" in rest:
                assert "rm -rf /var/lib/apt/lists" in rest


def test_every_package_the_project_installs_is_copied_into_the_image():
    """The COPY sources exist, and every top-level package pyproject installs is among them."""
    copied = set()
    for keyword, rest in _instructions():
        if keyword == "COPY":
            *sources, _target = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                copied.add(source)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied
    assert {"pyproject.toml", "README.md"} <= copied


def test_secrets_and_local_state_stay_out_of_the_build_context():
    """.dockerignore keeps .env, git history and local databases out of the image."""
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", "*.db"} <= ignored


def test_compose_runs_two_instances_on_one_postgresql_after_the_migrations():
    """compose.yaml: PostgreSQL, a one-off migration, then two app instances with the same DATABASE_URL."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["socialops", "db", "upgrade"]
    apps = [name for name, service in services.items() if name not in {"db", "migrate"}]
    assert len(apps) >= 2
    urls = {services[name]["environment"]["DATABASE_URL"] for name in apps}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql://")
    assert "@db:" in next(iter(urls))
    for name in apps:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    ports = [service["ports"][0].split(":")[0] for name, service in services.items() if name in apps]
    assert len(set(ports)) == len(ports)


def test_every_procfile_and_compose_command_is_a_real_subcommand():
    """`socialops db upgrade` (release) and `socialops serve` (web) parse with the CLI's own parser."""
    procfile = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(procfile) == {"release", "web"}
    parser = build_parser()
    for command in procfile.values():
        argv = shlex.split(command)
        assert argv[0] == "socialops"
        parser.parse_args(argv[1:])
    assert shlex.split(procfile["release"]) == ["socialops", "db", "upgrade"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client on this machine")
def test_the_image_builds_where_a_container_engine_runs(tmp_path):
    """Build for real only where an engine answers (`docker info`); a client alone is not enough."""
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("a docker client but no running container engine")
    built = subprocess.run(["docker", "build", "-t", "socialops:test", str(ROOT)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]
