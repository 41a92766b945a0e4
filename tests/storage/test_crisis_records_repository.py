"""Crisis records on SQLite and PostgreSQL: one open crisis per topic under racing declares, playbooks and their ticks,
DM copies of the card claimed once per change, and migration 0008 reversing without touching the crisis records."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot import crisis
from bot.crisis import CrisisEvent, EventKind, NewCrisis, Status, Team
from bot.escalation import DEFAULT_POLICY, plan_chain
from bot.playbook import DEFAULT_STEPS, PlaybookDraft, team_playbook
from bot.spikes import Severity
from storage import migrate
from storage.audit import AuditLog
from storage.crises import Crises
from storage.playbooks import Playbooks
from storage.rotations import Rotations
from storage.tables import CrisisRow

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def crises(database):
    migrate.upgrade(database.engine)
    return Crises(database)


@pytest.fixture
def team_id(database, crises):
    return Rotations(database).create_team(workspace_id="T1", name="social", tz="Europe/Rome", epoch=T0, now=T0, roster=["UP", "UB"],
                                           crisis_channel="C1")


def new(team_id, topic="acme"):
    return NewCrisis(team_id=team_id, workspace_id="T1", topic=topic, severity=Severity.SEV2, summary="video", origin="declared",
                     declared_by="UX", channel="C1", opened_at=T0, steps=tuple(plan_chain(DEFAULT_POLICY, T0)))


def run_together(count, work):
    """Run `work(i)` in `count` threads released at once by a barrier; return the results in thread order."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_racing_inserts_open_one_crisis_per_topic(crises, team_id):
    """Twelve simultaneous inserts of one topic (mixed case): one crisis, the rest get None, and no error escapes."""
    created = run_together(12, lambda i: crises.create_crisis(new(team_id, topic="acme" if i % 2 else "ACME")))
    assert sum(c is not None for c in created) == 1
    assert len(crises.open_crises(team_id)) == 1


def test_the_partial_index_refuses_a_second_open_row_but_not_a_closed_one(database, crises, team_id):
    """Bypassing the repository, a second open row on a topic breaks the unique index; a closed one does not."""
    first = crises.create_crisis(new(team_id))
    row = dict(team_id=team_id, workspace_id="T1", topic="Acme", topic_key="acme", severity=2, origin="declared", opened_at=T0,
               last_activity_at=T0)
    with pytest.raises(IntegrityError), database.session_scope() as session:
        session.add(CrisisRow(status="acknowledged", **row))
    with database.session_scope() as session:
        session.add(CrisisRow(status="resolved", **row))
    crises.close_crisis(crisis_id=first.id, user_id="UP", at=T0, status=Status.RESOLVED, note=None, real=True)
    assert crises.create_crisis(new(team_id)) is not None


def test_racing_declares_open_one_crisis_and_the_rest_join_it(database, crises, team_id):
    """Eight people declare one topic at the same instant: one declares, seven join with a timeline note each."""
    audit = AuditLog(database)
    team = Team(id=team_id, name="social", workspace_id="T1", channel="C1", on_call=("UP", "UB"))
    outcomes = run_together(8, lambda i: crisis.declare_or_join(
        crises, audit, team=team, topic="acme", severity=Severity.SEV3, severity_given=True, summary=f"seen by U{i}", user_id=f"U{i}",
        steps=plan_chain(DEFAULT_POLICY, T0), now=T0, via="slash_command"))
    assert sum(not o.joined for o in outcomes) == 1
    assert len({o.crisis.id for o in outcomes}) == 1
    (opened,) = crises.open_crises(team_id)
    notes = [e for e in crises.timeline(opened.id) if e.kind is EventKind.NOTE]
    assert len(notes) == 7 and all("Declared again" in e.detail["note"] for e in notes)
    assert len(audit.entries(action="crisis_declared")) == 1 and len(audit.entries(action="crisis_declare_joined")) == 7


def test_playbook_is_seeded_once_and_edits_keep_ticks_of_unchanged_steps(database, crises, team_id):
    """The default is seeded on first read (once, even when read at the same time); saving keeps the ids of kept steps."""
    store = Playbooks(database)
    assert store.playbook(team_id) is None
    seeded = run_together(4, lambda i: team_playbook(store, team_id))
    assert len({tuple(p.steps) for p in seeded}) == 1 and [s.text for s in seeded[0].steps] == list(DEFAULT_STEPS)
    opened = crises.create_crisis(new(team_id))
    kept, dropped = seeded[0].steps[1], seeded[0].steps[0]
    assert store.record_check(crisis_id=opened.id, step_id=kept.id, user_id="UP", at=T0)
    assert not store.record_check(crisis_id=opened.id, step_id=kept.id, user_id="UB", at=T0 + timedelta(minutes=1))
    assert store.record_check(crisis_id=opened.id, step_id=dropped.id, user_id="UP", at=T0)
    saved = store.save_playbook(team_id=team_id, draft=PlaybookDraft(steps=("Call the CEO", kept.text), statements=("We hear you.",)))
    assert [s.text for s in saved.steps] == ["Call the CEO", kept.text] and saved.steps[1].id == kept.id
    assert [s.text for s in saved.statements] == ["We hear you."]
    assert [(c.step_id, c.checked_by) for c in store.checks(opened.id)] == [(kept.id, "UP")]


def test_card_copies_are_claimed_once_per_state(crises, team_id):
    """A DM copy showing an old state is handed to one caller per new state, never to a second one."""
    opened = crises.create_crisis(new(team_id))
    crises.add_card_copy(crisis_id=opened.id, user_id="UP", channel="DUP", ts="1.1", state="open:-:0:2", at=T0)
    crises.add_card_copy(crisis_id=opened.id, user_id="UB", channel="DUB", ts="1.2", state="open:-:0:2", at=T0)
    assert crises.claim_card_copies(crisis_id=opened.id, state="open:-:0:2") == []
    claimed = run_together(6, lambda i: crises.claim_card_copies(crisis_id=opened.id, state="acknowledged:UP:0:2"))
    assert sorted(c for claim in claimed for c in claim) == [("DUB", "1.2"), ("DUP", "1.1")]
    assert [u for u, _, _ in crises.card_copies(opened.id)] == ["UP", "UB"]


def test_playbook_post_is_claimed_by_one_presser(crises, team_id):
    """Of simultaneous Open playbook presses one posts; a failed post releases the claim."""
    opened = crises.create_crisis(new(team_id))
    assert run_together(6, lambda i: crises.claim_playbook_post(crisis_id=opened.id)).count(True) == 1
    crises.set_playbook_post(crisis_id=opened.id, ts=None)
    assert crises.claim_playbook_post(crisis_id=opened.id)
    crises.set_playbook_post(crisis_id=opened.id, ts="9.9")
    assert crises.get_crisis(opened.id).playbook_ts == "9.9" and not crises.claim_playbook_post(crisis_id=opened.id)


def test_migration_0008_reverses_without_losing_crisis_records(database, crises, team_id):
    """Down to 0007 and up again: crises and their timelines survive (no table copy cascades), keys are rebuilt."""
    opened = crises.create_crisis(new(team_id, topic="Acme"))
    crises.record_event(crisis_id=opened.id, event=CrisisEvent(at=T0, kind=EventKind.NOTE, actor="UP", via="slash_command",
                                                               detail={"note": "kept"}))
    migrate.downgrade(database.engine, "0007")
    migrate.upgrade(database.engine)
    assert [e.detail for e in crises.timeline(opened.id)] == [{"note": "kept"}]
    assert crises.open_crisis_for_topic(team_id=team_id, topic="ACME").id == opened.id
    assert crises.create_crisis(new(team_id, topic="acme")) is None
