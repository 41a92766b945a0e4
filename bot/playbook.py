"""Crisis playbooks: a team's checklist and pre-approved holding statements, and who ticked which step in a crisis.

Pure. Takes its store as an argument (`PlaybookStore`, declared here; storage/playbooks.py implements it). A team
without a playbook gets DEFAULT_STEPS/DEFAULT_STATEMENTS the first time it is read, so checks always have step ids.
A tick is recorded once per crisis and step (the store's insert-once), in the crisis timeline and the audit table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.crisis import Crisis, CrisisEvent, CrisisStore, EventKind
from bot.errors import Conflict, NotFound

MAX_STEPS = 20
MAX_STATEMENTS = 5
MAX_STEP_CHARS = 300
MAX_STATEMENT_CHARS = 2000  # a statement is copied as a whole, so it may be long (the column holds 2000)
STATEMENT_SEPARATOR = "---"

DEFAULT_STEPS = (
    "Pause all scheduled posts on every account",
    "Alert PR and legal",
    "Publish the pre-approved holding statement",
    "Update stakeholders every 30 minutes",
)
DEFAULT_STATEMENTS = (
    "We're aware of the reports and are looking into them urgently. We'll share an update here as soon as we can. "
    "Thank you for your patience.",
)


@dataclass(frozen=True)
class PlaybookItem:
    id: int
    text: str


@dataclass(frozen=True)
class Playbook:
    team_id: int
    steps: tuple[PlaybookItem, ...]
    statements: tuple[PlaybookItem, ...]  # holding statements, meant to be copied and published as they are

    def describe(self) -> dict[str, list[str]]:
        """Return the playbook as plain lists (what the audit table keeps as before/after)."""
        return {"steps": [s.text for s in self.steps], "statements": [s.text for s in self.statements]}


@dataclass(frozen=True)
class Check:
    step_id: int
    checked_by: str
    checked_at: datetime


@dataclass(frozen=True)
class PlaybookDraft:
    """What an admin submitted: the steps in order and the holding statements."""

    steps: tuple[str, ...]
    statements: tuple[str, ...]


class PlaybookFormErrors(Exception):
    """The playbook form has problems; `errors` maps an input block id to its message (shown next to the field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class PlaybookStore(Protocol):
    """The playbook tables; storage/playbooks.py implements it."""

    def playbook(self, team_id: int) -> Playbook | None: ...  # None: the team never had one
    def save_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook: ...  # unchanged steps keep their ids (and checks)
    def seed_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook: ...  # only when the team has none
    def record_check(self, *, crisis_id: int, step_id: int, user_id: str, at: datetime) -> bool: ...  # False: ticked already
    def checks(self, crisis_id: int) -> list[Check]: ...


def read_playbook_form(steps_text: str, statements_text: str) -> PlaybookDraft:
    """Parse the modal: steps one per line; holding statements separated by a line holding only `---`."""
    errors: dict[str, str] = {}
    steps = tuple(line.strip().lstrip("•-*").strip() for line in steps_text.splitlines())
    steps = tuple(step for step in steps if step)
    if not steps:
        errors["steps"] = "Give at least one step, one per line."
    elif len(steps) > MAX_STEPS:
        errors["steps"] = f"At most {MAX_STEPS} steps (there are {len(steps)})."
    elif any(len(step) > MAX_STEP_CHARS for step in steps):
        errors["steps"] = f"Keep each step under {MAX_STEP_CHARS} characters; put long text in a holding statement."
    elif len({s.lower() for s in steps}) != len(steps):
        errors["steps"] = "Two steps have the same text; each step is ticked on its own, so make them distinct."
    statements: list[str] = []
    current: list[str] = []
    for line in [*statements_text.splitlines(), STATEMENT_SEPARATOR]:
        if line.strip() == STATEMENT_SEPARATOR:
            text = "\n".join(current).strip()
            if text:
                statements.append(text)
            current = []
        else:
            current.append(line.rstrip())
    if len(statements) > MAX_STATEMENTS:
        errors["statements"] = f"At most {MAX_STATEMENTS} holding statements (there are {len(statements)})."
    elif any(len(s) > MAX_STATEMENT_CHARS for s in statements):
        errors["statements"] = f"Keep each holding statement under {MAX_STATEMENT_CHARS} characters."
    if errors:
        raise PlaybookFormErrors(errors)
    return PlaybookDraft(steps=steps, statements=tuple(statements))


def team_playbook(store: PlaybookStore, team_id: int) -> Playbook:
    """Return the team's playbook, seeding the default one the first time a team without one asks."""
    return store.playbook(team_id) or store.seed_playbook(team_id=team_id, draft=PlaybookDraft(DEFAULT_STEPS, DEFAULT_STATEMENTS))


def save(store: PlaybookStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, workspace_id: str, draft: PlaybookDraft,
         user_id: str, now: datetime, via: str) -> Playbook:
    """Replace the team's playbook (admins only); audited with before and after."""
    require_admin(admins, user_id, action="edit crisis playbooks")
    before = team_playbook(store, team_id)
    after = store.save_playbook(team_id=team_id, draft=draft)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_playbook_saved", via=via, target=f"team:{team_id}",
                             team_id=workspace_id, before=before.describe(), after=after.describe()))
    return after


def check_step(store: PlaybookStore, crises: CrisisStore, audit: AuditSink, *, crisis: Crisis, step_id: int, user_id: str,
               now: datetime, via: str) -> bool:
    """Tick one step for one crisis; return whether this press recorded the tick.

    A second tick (a double press, two people) keeps the first and records nothing more.
    """
    if crisis.status.closed:
        raise Conflict(f"Crisis {crisis.title} is closed; its playbook can no longer be ticked.")
    step = next((s for s in team_playbook(store, crisis.team_id).steps if s.id == step_id), None)
    if step is None:
        raise NotFound("That step is no longer in the playbook (an admin edited it); open the playbook again.")
    if not store.record_check(crisis_id=crisis.id, step_id=step_id, user_id=user_id, at=now):
        return False
    crises.record_event(crisis_id=crisis.id, event=CrisisEvent(at=now, kind=EventKind.PLAYBOOK_CHECK, actor=user_id, via=via,
                                                               detail={"step": step.text}))
    crises.touch(crisis_id=crisis.id, at=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="crisis_playbook_checked", via=via, target=f"crisis:{crisis.id}",
                             team_id=crisis.workspace_id, after={"step_id": step_id, "step": step.text}))
    return True


def checks_by_step(checks: Sequence[Check]) -> dict[int, Check]:
    return {c.step_id: c for c in checks}
