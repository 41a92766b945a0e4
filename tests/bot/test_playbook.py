"""Playbooks without Slack or a database: the form, the seeded default, admin-only edits, ticks recorded once, and the checklist."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot import crisis, playbook
from bot.blocks.playbook import PlaybookActions, build_playbook_message, build_playbook_modal, build_playbook_preview, parse_check_value
from bot.crisis import EventKind
from bot.errors import Conflict, NotAllowed, NotFound
from bot.playbook import (
    DEFAULT_STATEMENTS, DEFAULT_STEPS, MAX_STEPS, Check, Playbook, PlaybookDraft, PlaybookFormErrors, PlaybookItem, read_playbook_form,
)
from tests.bot.test_crisis import MemoryStore, declared
from tests.fakes.memory import MemoryAudit

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


class MemoryPlaybooks:
    """A PlaybookStore in memory; a lock stands in for the insert-once primary key of playbook_checks."""

    def __init__(self) -> None:
        self.books: dict[int, Playbook] = {}
        self.ticks: dict[tuple[int, int], Check] = {}
        self.next_id = 1
        self.lock = threading.Lock()

    def _build(self, team_id: int, draft: PlaybookDraft, keep: Playbook | None) -> Playbook:
        old = {item.text: item.id for item in (keep.steps + keep.statements)} if keep else {}

        def item(text: str) -> PlaybookItem:
            if text not in old:
                old[text] = self.next_id
                self.next_id += 1
            return PlaybookItem(old[text], text)
        return Playbook(team_id, tuple(item(t) for t in draft.steps), tuple(item(t) for t in draft.statements))

    def playbook(self, team_id: int) -> Playbook | None:
        return self.books.get(team_id)

    def seed_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook:
        with self.lock:
            self.books.setdefault(team_id, self._build(team_id, draft, None))
            return self.books[team_id]

    def save_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook:
        self.books[team_id] = self._build(team_id, draft, self.books.get(team_id))
        return self.books[team_id]

    def record_check(self, *, crisis_id: int, step_id: int, user_id: str, at: datetime) -> bool:
        with self.lock:
            if (crisis_id, step_id) in self.ticks:
                return False
            self.ticks[(crisis_id, step_id)] = Check(step_id, user_id, at)
            return True

    def checks(self, crisis_id: int) -> list[Check]:
        return [c for (cid, _), c in self.ticks.items() if cid == crisis_id]


class Admins:
    def is_admin(self, user_id: str) -> bool:
        return user_id == "UA"

    def admin_ids(self) -> list[str]:
        return ["UA"]


def test_form_reads_steps_per_line_and_statements_between_separators():
    """Bullets and blank lines are dropped from steps; `---` lines split statements, which keep their own line breaks."""
    draft = read_playbook_form("• Pause posts\n\n- Alert PR\n", "We know.\nMore soon.\n---\n\n---\nSorry for the wait.")
    assert draft.steps == ("Pause posts", "Alert PR")
    assert draft.statements == ("We know.\nMore soon.", "Sorry for the wait.")


def test_form_errors_name_the_field():
    """No steps, too many steps and duplicate steps are errors on the steps field; statements are optional."""
    with pytest.raises(PlaybookFormErrors) as empty:
        read_playbook_form(" \n", "")
    assert set(empty.value.errors) == {"steps"}
    with pytest.raises(PlaybookFormErrors) as many:
        read_playbook_form("\n".join(f"step {i}" for i in range(MAX_STEPS + 1)), "")
    assert "At most" in many.value.errors["steps"]
    with pytest.raises(PlaybookFormErrors) as twice:
        read_playbook_form("Alert PR\nalert pr", "")
    assert "same text" in twice.value.errors["steps"]
    assert read_playbook_form("One", "").statements == ()


def test_a_team_without_a_playbook_gets_the_default_once():
    """The first read seeds the default steps and statement; the second returns the same ids."""
    store = MemoryPlaybooks()
    first = playbook.team_playbook(store, 1)
    assert [s.text for s in first.steps] == list(DEFAULT_STEPS) and [s.text for s in first.statements] == list(DEFAULT_STATEMENTS)
    assert playbook.team_playbook(store, 1) == first


def test_only_admins_save_and_the_audit_keeps_before_and_after():
    """A member saving is NotAllowed; an admin's save is audited with the old and new steps."""
    store, audit = MemoryPlaybooks(), MemoryAudit()
    draft = PlaybookDraft(("Call legal",), ("No comment yet.",))
    with pytest.raises(NotAllowed, match="Only admins"):
        playbook.save(store, audit, Admins(), team_id=1, workspace_id="T1", draft=draft, user_id="UP", now=T0, via="modal")
    saved = playbook.save(store, audit, Admins(), team_id=1, workspace_id="T1", draft=draft, user_id="UA", now=T0, via="modal")
    assert [s.text for s in saved.steps] == ["Call legal"]
    (record,) = audit.records
    assert record.action == "crisis_playbook_saved" and record.before["steps"] == list(DEFAULT_STEPS)
    assert record.after == {"steps": ["Call legal"], "statements": ["No comment yet."]}


def test_a_tick_is_recorded_once_with_who_and_when():
    """Two people ticking one step at once: the first tick stays, one timeline event and one audit record."""
    crises, audit, store = MemoryStore(), MemoryAudit(), MemoryPlaybooks()
    opened = declared(crises, audit)
    step = playbook.team_playbook(store, opened.team_id).steps[0]
    barrier = threading.Barrier(10)
    results: list[bool] = []

    def tick(user: str) -> None:
        barrier.wait()
        results.append(playbook.check_step(store, crises, audit, crisis=opened, step_id=step.id, user_id=user, now=T0 + timedelta(minutes=2),
                                           via="button"))

    threads = [threading.Thread(target=tick, args=(f"U{i}",)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checks = [c for c in store.checks(opened.id) if c.step_id == step.id]
    assert len({(c.checked_by, c.checked_at) for c in checks}) == 1 and results.count(True) == 1
    assert [e.kind for e in crises.timeline(opened.id)].count(EventKind.PLAYBOOK_CHECK) == 1
    assert [r.action for r in audit.records].count("crisis_playbook_checked") == 1


def test_ticks_are_refused_on_closed_crises_and_unknown_steps():
    """A closed crisis is a Conflict; a step removed by an admin is NotFound."""
    crises, audit, store = MemoryStore(), MemoryAudit(), MemoryPlaybooks()
    opened = declared(crises, audit)
    with pytest.raises(NotFound):
        playbook.check_step(store, crises, audit, crisis=opened, step_id=999, user_id="UP", now=T0, via="button")
    closed = crisis.resolve(crises, audit, crisis_id=opened.id, user_id="UA", note="", real=None, on_call=(), is_admin=True, now=T0,
                            via="button")
    step = playbook.team_playbook(store, opened.team_id).steps[0]
    with pytest.raises(Conflict, match="closed"):
        playbook.check_step(store, crises, audit, crisis=closed, step_id=step.id, user_id="UP", now=T0, via="button")


def test_checklist_shows_who_ticked_and_buttons_only_for_open_steps():
    """A ticked step reads "✓ done by @x at …" without a button; the others carry Done with crisis and step in the value."""
    crises, audit, store = MemoryStore(), MemoryAudit(), MemoryPlaybooks()
    opened = declared(crises, audit)
    book = playbook.team_playbook(store, opened.team_id)
    ticked = {book.steps[0].id: Check(book.steps[0].id, "UP", T0 + timedelta(minutes=20))}
    text, blocks = build_playbook_message(opened, book, ticked)
    assert "1 of 4 done" in text
    steps = [b for b in blocks if str(b.get("block_id", "")).startswith("step-")]
    assert "done by <@UP> at <!date^" in steps[0]["text"]["text"] and "accessory" not in steps[0]
    buttons = [b["accessory"] for b in steps[1:]]
    assert [b["action_id"] for b in buttons] == [PlaybookActions.check.value] * 3
    assert parse_check_value(buttons[0]["value"]) == (opened.id, book.steps[1].id)


def test_holding_statements_are_copyable_code_blocks():
    """Statements are shown as code blocks; a ``` inside one cannot end the block early."""
    book = Playbook(1, (PlaybookItem(1, "Post it"),), (PlaybookItem(2, "We know ```this``` hurts."),))
    _, blocks = build_playbook_preview("social", book)
    statement = blocks[-1]["text"]["text"]
    assert statement.startswith("```") and statement.endswith("```") and statement.count("```") == 2


def test_modal_is_prefilled_and_round_trips_through_the_form():
    """The edit modal shows the current steps and statements in the shape read_playbook_form reads back."""
    book = Playbook(1, (PlaybookItem(1, "Pause posts"), PlaybookItem(2, "Alert PR")), (PlaybookItem(3, "A"), PlaybookItem(4, "B\nC")))
    view = build_playbook_modal(team_id=1, team_name="social", playbook=book)
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    draft = read_playbook_form(by_id["steps"]["element"]["initial_value"], by_id["statements"]["element"]["initial_value"])
    assert draft == PlaybookDraft(("Pause posts", "Alert PR"), ("A", "B\nC"))
