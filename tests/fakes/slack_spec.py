"""Validate outgoing Slack Web API calls against Slack's published (2020) OpenAPI spec in ../shared.

The spec is stale, so an allow-list (per ../shared/data/slack-api-specs/README.md) patches its known gaps.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = (
    REPO_ROOT.parent / "shared" / "data" / "slack-api-specs" / "web-api" / "slack_web_openapi_v2_without_examples.json"
)
SPEC_MISSING_REASON = (
    f"Slack's OpenAPI spec is not available at {SPEC_PATH} "
    "(the shared read-only folder ../shared is absent in this checkout)"
)

# Arguments every method may carry although the spec does not declare them.
ALLOWED_EVERYWHERE = frozenset(
    {
        # Bolt's per-request WebClient adds team_id to every call (slack_bolt 1.30 app.py); this also
        # covers usergroups.*, whose team_id (needed with org tokens) the 2020 spec lacks.
        "team_id",
    }
)

# Arguments the current API accepts but the October 2020 spec lacks.
ALLOWED_EXTRA_ARGS: dict[str, frozenset[str]] = {
    # Message metadata and the markdown_text field were added after 2020.
    "chat.postMessage": frozenset({"metadata", "markdown_text"}),
    # Same post-2020 additions, plus file_ids/reply_broadcast which the spec never listed for updates.
    "chat.update": frozenset({"metadata", "file_ids", "reply_broadcast", "markdown_text"}),
    # Post-2020 additions to ephemeral messages.
    "chat.postEphemeral": frozenset({"markdown_text", "metadata"}),
    # prevent_creation arrived after the spec's last update.
    "conversations.open": frozenset({"prevent_creation"}),
    # Modals opened from workflow steps/functions use interactivity_pointer instead of trigger_id.
    "views.open": frozenset({"interactivity_pointer"}),
    "views.push": frozenset({"interactivity_pointer"}),
    # Token rotation (grant_type/refresh_token) and PKCE (code_verifier) postdate the spec.
    "oauth.v2.access": frozenset({"grant_type", "refresh_token", "code_verifier"}),
}

# Required-by-spec arguments that the current API lets a caller replace with another argument.
REQUIRED_ALTERNATIVES: dict[str, dict[str, str]] = {
    # trigger_id or interactivity_pointer identifies the interaction that may open a modal.
    "views.open": {"trigger_id": "interactivity_pointer"},
    "views.push": {"trigger_id": "interactivity_pointer"},
    # A refresh (grant_type=refresh_token) sends refresh_token instead of an authorization code.
    "oauth.v2.access": {"code": "refresh_token"},
}


@dataclass(frozen=True)
class MethodSchema:
    """The argument names a method accepts and the ones it requires."""

    accepted: frozenset[str]
    required: frozenset[str]


# The upload methods are missing from the 2020 spec; this contract comes from slack-contract.md §6 [UPL][REF].
LOCAL_SCHEMAS: dict[str, MethodSchema] = {
    "files.getUploadURLExternal": MethodSchema(
        accepted=frozenset({"token", "filename", "length", "alt_txt", "snippet_type"}),
        required=frozenset({"filename", "length"}),
    ),
    "files.completeUploadExternal": MethodSchema(
        accepted=frozenset({"token", "files", "channel_id", "channels", "initial_comment", "thread_ts"}),
        required=frozenset({"files"}),
    ),
}

RETIRED_METHODS = {
    "files.upload": "retired by Slack (sunset 2025-11-12); use files.getUploadURLExternal, "
    "upload, then files.completeUploadExternal",
}


@functools.lru_cache(maxsize=4)
def _read_schemas(path: Path) -> dict[str, MethodSchema]:
    """Read the spec once per path and reduce it to argument names per method."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    schemas: dict[str, MethodSchema] = {}
    for route, operations in spec["paths"].items():
        accepted: set[str] = set()
        required: set[str] = set()
        # The verb is ignored on purpose: the spec declares several POST-only methods as GET.
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                accepted.add(parameter["name"])
                if parameter.get("required"):
                    required.add(parameter["name"])
        schemas[route.lstrip("/")] = MethodSchema(frozenset(accepted), frozenset(required))
    return schemas


class SlackSpec:
    """Checks a Web API method name and its argument names against the published spec."""

    def __init__(self, schemas: dict[str, MethodSchema]) -> None:
        self._schemas = schemas

    @classmethod
    def load(cls, path: Path | str | None = None) -> SlackSpec | None:
        """Load the spec from `path` (default: ../shared), or return None when it is absent."""
        spec_path = Path(path) if path is not None else SPEC_PATH
        if not spec_path.is_file():
            return None
        return cls(_read_schemas(spec_path))

    def knows(self, method: str) -> bool:
        """Tell whether `method` is declared by the spec or by the local upload schemas."""
        return method in LOCAL_SCHEMAS or method in self._schemas

    def validate(self, method: str, args: dict[str, Any]) -> list[str]:
        """Return the problems with calling `method` with `args` (empty when the call is valid)."""
        if method in RETIRED_METHODS:
            return [f"{method} is {RETIRED_METHODS[method]}"]
        schema = LOCAL_SCHEMAS.get(method) or self._schemas.get(method)
        if schema is None:
            return [f"unknown method {method}"]
        accepted = schema.accepted | ALLOWED_EVERYWHERE | ALLOWED_EXTRA_ARGS.get(method, frozenset())
        problems = [f"unknown argument '{name}'" for name in sorted(args) if name not in accepted]
        alternatives = REQUIRED_ALTERNATIVES.get(method, {})
        for name in sorted(schema.required - {"token"}):
            # Real clients send the token as an Authorization header, so it is never required here.
            if name in args or alternatives.get(name) in args:
                continue
            problems.append(f"missing required argument '{name}'")
        return problems

    def validator(self) -> Callable[[str, dict[str, Any]], list[str]]:
        """Return a callable for `SlackStandIn(validator=...)`."""
        return self.validate
