"""The paging policy (bot/flows/paging.py), decided on plain facts: DM or channel, quiet-hour holds, the card, the
channel post, a failed DM's fallback, "still on it?", and the page kinds the executor sends through."""

import dataclasses
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from bot.detector_tuning import DetectorSettings, QuietHours
from bot.escalation import Recipients
from bot.flows.paging import (
    Ask,
    ChannelPage,
    DmFailedPlan,
    Hold,
    Paging,
    PersonFacts,
    Repage,
    SendPage,
    StepFacts,
    Wait,
    plan_dm_failure,
    plan_manual_page,
    plan_step,
    plan_still_on_it,
)
from bot.home import MemberSettings, PageVia
from bot.people import ZoneFacts
from bot.spikes import Severity
from bot.workspace_scope import UNSCOPED, current_workspace

CHLOE, PRIYA, OLIVER, GIULIA = "U0CHLOE", "U0PRIYA", "U0OLIVER", "U0GIULIA"
NIGHT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 03:00 in Rome
ROME_MORNING = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 07:00 in Rome
NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
QUIET_NIGHTS = MemberSettings(tz="Europe/Rome", quiet_start=time(22, 0), quiet_end=time(7, 0))
BY_CHANNEL = MemberSettings(page_via=PageVia.channel)
GROUP = "<!subteam^S0GROUP>"


def facts(reach, people=None, *, severity=Severity.SEV2, quiet_hours=QuietHours.page, has_channel=True, card_posted=False, at=NOON,
          already_paged=frozenset()):
    everyone = {u: PersonFacts(settings=None, zone="Europe/Rome") for u in (*reach.dm, *reach.cc)}
    everyone.update(people or {})
    return StepFacts(reach=reach, people=everyone, severity=severity, quiet_hours=quiet_hours, has_channel=has_channel,
                     card_posted=card_posted, at=at, already_paged=already_paged)


def person(settings):
    return PersonFacts(settings=settings, zone="Europe/Rome")


# --- plan_step --------------------------------------------------------------------------------------


def test_a_person_with_no_settings_is_dmed_and_named_on_the_card_and_in_the_channel():
    """The first page of a fresh crisis: post the card naming the primary, DM them, mention them in the thread."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,))))
    assert plan.card_paging == (CHLOE,)
    assert plan.actions == (SendPage(CHLOE, "dm"),)
    # The channel post shows who is being called; the DM is the page on record, not the mention.
    assert plan.channel_page == ChannelPage(people=(CHLOE,), mention=None, paged=(), guarded=())


def test_a_person_who_chose_channel_pages_is_paged_by_the_mention_alone():
    """page_via=channel: no DM; the thread mention is their page, and it counts for the burnout guard."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,)), {CHLOE: person(BY_CHANNEL)}))
    assert plan.actions == ()
    assert plan.channel_page == ChannelPage(people=(CHLOE,), mention=None, paged=(CHLOE,), guarded=(CHLOE,))
    assert plan.card_paging == (CHLOE,)


def test_without_a_crisis_channel_everyone_is_dmed_and_nothing_is_posted():
    """A team with no crisis channel: the channel preference falls back to a DM, and there is no card or thread post."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,)), {CHLOE: person(BY_CHANNEL)}, has_channel=False))
    assert plan.actions == (SendPage(CHLOE, "dm"),)
    assert plan.channel_page is None and plan.card_paging is None


def test_a_card_already_in_the_channel_is_not_posted_again():
    """A later step (the backup at +5 min) pages into the existing card's thread."""
    plan = plan_step(facts(Recipients(dm=(PRIYA,)), card_posted=True))
    assert plan.card_paging is None
    assert plan.actions == (SendPage(PRIYA, "dm"),)


def test_a_sev3_in_quiet_hours_is_held_until_they_end_under_the_hold_rule_and_nobody_mentions_them():
    """Hold-sev3 at 03:00 Rome: Chloe's page waits until 07:00 Rome; the card and the thread leave her out (a mention would wake her)."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,)), {CHLOE: person(QUIET_NIGHTS)}, severity=Severity.SEV3,
                           quiet_hours=QuietHours.hold_sev3, at=NIGHT))
    assert plan.actions == (Hold(CHLOE, ROME_MORNING),)
    assert plan.card_paging == ()
    assert plan.channel_page is None


def test_a_held_primary_does_not_hold_the_backup_paged_with_them():
    """Primary and backup together (a campaign): only the one in quiet hours waits."""
    plan = plan_step(facts(Recipients(dm=(CHLOE, PRIYA)), {CHLOE: person(QUIET_NIGHTS)}, severity=Severity.SEV3,
                           quiet_hours=QuietHours.hold_sev3, at=NIGHT))
    assert plan.actions == (Hold(CHLOE, ROME_MORNING), SendPage(PRIYA, "dm"))
    assert plan.card_paging == (PRIYA,)
    assert plan.channel_page.people == (PRIYA,)


@pytest.mark.parametrize(("severity", "rule"), [
    (Severity.SEV1, QuietHours.hold_sev3),  # only SEV3 waits
    (Severity.SEV2, QuietHours.hold_sev3),
    (Severity.SEV3, QuietHours.page),  # without the hold rule
    (Severity.SEV3, DetectorSettings().quiet_hours),  # a team that never tuned pages anyway
])
def test_quiet_hours_hold_nothing_but_a_sev3_under_the_hold_rule(severity, rule):
    """At 03:00 in Chloe's quiet hours she is DM'd at once unless it is a SEV3 and the team holds those."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,)), {CHLOE: person(QUIET_NIGHTS)}, severity=severity, quiet_hours=rule, at=NIGHT))
    assert plan.actions == (SendPage(CHLOE, "dm"),)


def test_the_group_step_is_one_channel_mention_on_record():
    """The on-call group step: nobody DM'd, one thread post with the group mention, recorded as the group's page."""
    plan = plan_step(facts(Recipients(dm=(), channel_mention=GROUP), card_posted=True))
    assert plan.actions == ()
    assert plan.channel_page == ChannelPage(people=(), mention=GROUP, paged=(GROUP,), guarded=())


def test_the_group_step_without_a_channel_does_nothing():
    """No crisis channel: a group mention has nowhere to go."""
    plan = plan_step(facts(Recipients(dm=(), channel_mention=GROUP), has_channel=False))
    assert plan == plan_step(facts(Recipients(dm=()), has_channel=False))
    assert plan.actions == () and plan.channel_page is None


def test_the_shadow_is_dmed_but_neither_named_on_the_card_nor_mentioned():
    """The shadow (cc) gets the DM to learn from, yet the channel sees only who is paged."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,), cc=(OLIVER,))))
    assert plan.actions == (SendPage(CHLOE, "dm"), SendPage(OLIVER, "dm"))
    assert plan.card_paging == (CHLOE,)
    assert plan.channel_page.people == (CHLOE,)


def test_a_shadow_who_chose_channel_pages_is_mentioned():
    """A shadow asking for channel pages is reached by the thread mention (and it is their page on record)."""
    plan = plan_step(facts(Recipients(dm=(CHLOE,), cc=(OLIVER,)), {OLIVER: person(BY_CHANNEL)}))
    assert plan.actions == (SendPage(CHLOE, "dm"),)
    assert plan.channel_page == ChannelPage(people=(CHLOE, OLIVER), mention=None, paged=(OLIVER,), guarded=(OLIVER,))


def test_a_rerun_step_skips_the_pages_on_record_and_still_names_everyone_in_the_channel():
    """The runner died after DMing Chloe: the rerun DMs only Priya; the thread post, which records no page, goes out again."""
    plan = plan_step(facts(Recipients(dm=(CHLOE, PRIYA)), card_posted=True, already_paged=frozenset({CHLOE})))
    assert plan.actions == (SendPage(PRIYA, "dm"),)
    assert plan.channel_page == ChannelPage(people=(CHLOE, PRIYA), mention=None, paged=(), guarded=())


def test_a_rerun_step_whose_channel_page_is_on_record_does_not_post_it_again():
    """The group mention was recorded before the runner died: the rerun has nothing left to send."""
    plan = plan_step(facts(Recipients(dm=(), channel_mention=GROUP), card_posted=True, already_paged=frozenset({GROUP})))
    assert plan.actions == () and plan.channel_page is None


def test_the_managers_step_dms_each_admin():
    """The managers step names every admin; each is DM'd in order."""
    plan = plan_step(facts(Recipients(dm=(GIULIA, PRIYA)), card_posted=True))
    assert plan.actions == (SendPage(GIULIA, "dm"), SendPage(PRIYA, "dm"))


# --- pages sent at once, and a failed DM ---------------------------------------------------------------------


def test_a_page_by_hand_follows_the_persons_choice_and_is_never_held():
    """`/crisis page` and "still on it?" re-pages use page_via at once, whatever the hour; no channel means a DM."""
    assert plan_manual_page(person(BY_CHANNEL), has_channel=True, at=NOON) == "channel"
    assert plan_manual_page(person(BY_CHANNEL), has_channel=False, at=NOON) == "dm"
    assert plan_manual_page(person(QUIET_NIGHTS), has_channel=True, at=NIGHT) == "dm"
    assert plan_manual_page(person(None), has_channel=True, at=NIGHT) == "dm"


def test_a_failed_dm_falls_back_to_the_channel_when_there_is_one_and_always_tells_the_admins():
    """The fallback post needs a crisis channel; the admins hear of an unreachable person either way."""
    assert plan_dm_failure(has_channel=True) == DmFailedPlan(post_in_channel=True, tell_admins=True)
    assert plan_dm_failure(has_channel=False) == DmFailedPlan(post_in_channel=False, tell_admins=True)


# --- "still on it?" --------------------------------------------------------------------------------------------

ACKED = datetime(2026, 11, 24, 2, 3, tzinfo=UTC)
WAIT = timedelta(minutes=30)


def still_on_it(now, *, asked_at=None, acked_by=CHLOE, backup=PRIYA):
    return plan_still_on_it(now=now, due=ACKED + WAIT, asked_at=asked_at, wait=WAIT, acked_by=acked_by, backup=backup)


def test_still_on_it_waits_for_its_due_time():
    """A job that fires early (or a moved deadline) only checks again at the due time."""
    assert still_on_it(ACKED + timedelta(minutes=10)) == Wait(ACKED + WAIT)


def test_still_on_it_asks_once_due_and_checks_for_an_answer_a_wait_later():
    """30 minutes after the last update with no question yet: ask, and look again 30 minutes on."""
    now = ACKED + WAIT + timedelta(seconds=5)
    assert still_on_it(now) == Ask(now + WAIT)


def test_still_on_it_gives_the_question_its_full_wait():
    """Asked 10 minutes ago: not yet unanswered, so check again when its wait is over."""
    asked = ACKED + WAIT
    assert still_on_it(asked + timedelta(minutes=10), asked_at=asked) == Wait(asked + WAIT)


def test_an_unanswered_still_on_it_pages_the_acknowledger_and_the_backup_again():
    """The question's wait passed without an update: page both, the acknowledger first."""
    asked = ACKED + WAIT
    assert still_on_it(asked + WAIT, asked_at=asked) == Repage((CHLOE, PRIYA))


@pytest.mark.parametrize(("backup", "expected"), [(CHLOE, (CHLOE,)), (None, (CHLOE,))])
def test_the_repage_names_each_person_once(backup, expected):
    """An acknowledger who is the backup, or no backup on the schedule: one page, to the acknowledger."""
    asked = ACKED + WAIT
    assert still_on_it(asked + WAIT, asked_at=asked, backup=backup) == Repage(expected)


# --- page kinds ------------------------------------------------------------------------------------------------


def bare_paging(**senders):
    ports = dict.fromkeys(("clock", "store", "audit", "messenger", "outbox", "later", "ledger", "admins", "rotations",
                           "member_settings", "team_knobs", "people", "on_paged", "refresh_homes", "display_name"))
    return Paging(**ports, senders=senders)


def test_each_page_kind_has_a_sender_and_more_kinds_plug_in():
    """"dm" and "channel" are built in; a new kind (a phone call) is one more sender, and may replace a built-in."""
    def phone(crisis, user_id, *, step, now):
        return True

    paging = bare_paging(phone=phone)
    assert paging.sender("dm") == paging.page_by_dm and paging.sender("channel") == paging.page_in_channel
    assert paging.sender("phone") is phone
    assert bare_paging(dm=phone).sender("dm") is phone
    with pytest.raises(KeyError):
        bare_paging().sender("phone")


def test_a_sender_beyond_slack_reads_each_persons_quiet_hours_in_their_zone_through_the_flow():
    """A call step asks the flow whether now is inside the person's App Home quiet hours (22:00-07:00 Rome)."""
    class Zones:
        def tz_facts(self, workspace_id, user_id):
            return ZoneFacts(known="Europe/Rome")

    class Settings:
        def settings_of(self, workspace_id, user_id):
            return MemberSettings(quiet_start=time(22, 0), quiet_end=time(7, 0)) if user_id == GIULIA else None

    class NoRotation:
        def load_rotation_by_id(self, team_id):
            return None

    paging = replace(bare_paging(), people=Zones(), member_settings=Settings(), rotations=NoRotation())
    crisis = SimpleNamespace(team_id=1, workspace_id="T1")
    assert paging.in_quiet_hours(crisis, GIULIA, NIGHT)  # 03:00 in Rome
    assert not paging.in_quiet_hours(crisis, GIULIA, NOON)
    assert not paging.in_quiet_hours(crisis, CHLOE, NIGHT)  # no quiet hours set
    assert paging.primary_on_call(crisis, NIGHT) is None  # no rotation: nobody to hand a group step to


# --- workspaces (issue 18 item 6: uninstall stops sending) ---------------------------------------------------------


class StoppedWorkspaces:
    def __init__(self, *stopped: str) -> None:
        self.stopped = set(stopped)

    def is_sending(self, workspace_id: str) -> bool:
        return workspace_id not in self.stopped


class StepsSeen:
    """A crisis store that notes the workspace each step lookup acted for, and plans no step."""

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.acting_for: list[str] = []

    def get_crisis(self, crisis_id):
        return SimpleNamespace(id=crisis_id, workspace_id=self.workspace_id, team_id=7)

    def pending_steps(self, crisis_id, *, now=None):
        self.acting_for.append(current_workspace())
        return []


def test_each_entry_point_acts_for_its_crisis_workspace():
    """A step of a crisis in T1 runs with T1 as the acting workspace (its token, its admins), then the scope ends."""
    store = StepsSeen("T1")
    paging = dataclasses.replace(bare_paging(), clock=lambda: NOON, store=store, workspaces=StoppedWorkspaces("T2"))
    paging.run_step(5, 0)
    assert store.acting_for == ["T1"] and current_workspace() == UNSCOPED


def test_an_uninstalled_workspaces_crisis_pages_nobody_and_its_steps_wait():
    """Uninstalled: the step is not even looked up (so never claimed as run), and a page by hand reports no delivery."""
    store = StepsSeen("T2")
    paging = dataclasses.replace(bare_paging(), clock=lambda: NOON, store=store, workspaces=StoppedWorkspaces("T2"))
    paging.run_step(5, 0)
    paging.start_chain(5)
    assert store.acting_for == []
    assert paging.page_person(5, "U1") is False
