"""Paging a crisis: whom one escalation step reaches, how and when, and the "still on it?" check.

The decisions are pure functions of facts loaded once (`plan_step`, `plan_manual_page`, `plan_dm_failure`,
`plan_still_on_it`); `Paging` loads those facts and carries the plans out through ports (Slack, the outbox, the
scheduler, the crisis store). A page *kind* ("dm", "channel", …) names the sender that delivers it, so a new way to
reach a person is one more entry in `Paging.senders`, not a new branch here.

Each entry point acts for its crisis's workspace (that workspace's token and admins), and does nothing while that
workspace has uninstalled the app: its steps wait, unrun, for a reinstall.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from bot import crisis as crisis_use
from bot.access import AdminDirectory
from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink, Via
from bot.blocks.crisis import acted_by_a_person, build_channel_page, build_crisis_card, build_dm_failed, build_page, timeline_line
from bot.detector_tuning import DetectorSettings, QuietHours
from bot.errors import DeliveryFailed
from bot.escalation import OnCall, PlannedStep, Recipients, recipients, still_on_it_due
from bot.flows.ports import Later, Messenger, OutboxSender, RunLedger
from bot.home import MemberSettings, PageVia
from bot.installs import EverySending, SendingCheck, run_for_workspace
from bot.oncall import TeamRotation
from bot.outbox import OutboxItem
from bot.page_delivery import Delivery, plan_delivery, quiet_hours_end
from bot.people import ZoneFacts, roster_zone, zone_of
from bot.rotation import ScheduleIndex
from bot.slack_time import slack_date
from bot.spikes import Severity

log = logging.getLogger(__name__)

DM = PageVia.dm.value
CHANNEL = PageVia.channel.value

# The text-referenced job entry points (bot/jobs.py) the flow schedules; persisted scheduler rows name them.
RUN_STEP_JOB = "bot.jobs:run_escalation_step"
HELD_PAGE_JOB = "bot.jobs:deliver_held_page"
STILL_ON_IT_JOB = "bot.jobs:check_still_on_it"
CHART_JOB = "bot.jobs:upload_crisis_chart"


# --- the decisions (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFacts:
    """What decides how one person is paged: their App Home settings (None: never set) and their time zone."""

    settings: MemberSettings | None
    zone: str


@dataclass(frozen=True)
class StepFacts:
    """Everything one escalation step is decided on, loaded once."""

    reach: Recipients  # whom the step's target reaches now (bot.escalation.recipients)
    people: Mapping[str, PersonFacts]  # for everyone in reach.dm and reach.cc
    severity: Severity
    quiet_hours: QuietHours  # the team's rule: page anyway, or hold SEV3 pages until quiet hours end
    has_channel: bool  # the team has a crisis channel
    card_posted: bool  # the card is already in that channel
    at: datetime
    already_paged: frozenset[str] = frozenset()  # pages on record for this step: a rerun after its runner died skips them


@dataclass(frozen=True)
class Hold:
    """Page `user_id` later, when their quiet hours end (the chain goes on meanwhile)."""

    user_id: str
    until: datetime


@dataclass(frozen=True)
class SendPage:
    """Page `user_id` now through the sender of `kind` ("dm" unless another sender is plugged in)."""

    user_id: str
    kind: str = DM


@dataclass(frozen=True)
class ChannelPage:
    """One post in the card's thread mentioning `people` and `mention` (the on-call group or @here)."""

    people: tuple[str, ...]  # everyone paged now, DM'd or not: the channel sees who is being called
    mention: str | None
    paged: tuple[str, ...]  # whose page this post *is* (recorded as a channel page): channel-preferring people, the mention
    guarded: tuple[str, ...]  # people whose page counts for the burnout guard


@dataclass(frozen=True)
class StepPlan:
    """What one step does, in order: post the card, then each hold or page, then the channel post."""

    card_paging: tuple[str, ...] | None  # post the card naming these as being paged; None when no card is to be posted
    actions: tuple[Hold | SendPage, ...]
    channel_page: ChannelPage | None


def plan_step(facts: StepFacts) -> StepPlan:
    """Decide one escalation step: who is paged how (their App Home choice), who is held for quiet hours, what the channel sees."""
    reach = facts.reach
    deliveries: dict[str, Delivery] = {
        user_id: plan_delivery(facts.people[user_id].settings, zone=facts.people[user_id].zone, severity=facts.severity,
                               quiet_hours=facts.quiet_hours, has_channel=facts.has_channel, at=facts.at)
        for user_id in dict.fromkeys((*reach.dm, *reach.cc))
    }
    actions: list[Hold | SendPage] = []
    by_channel: list[str] = []
    for user_id, delivery in deliveries.items():
        if user_id in facts.already_paged and delivery.via is not PageVia.channel:
            continue
        if delivery.hold_until is not None:
            actions.append(Hold(user_id, delivery.hold_until))
        elif delivery.via is PageVia.channel:
            by_channel.append(user_id)
        else:
            actions.append(SendPage(user_id, delivery.via.value))
    paged_now = tuple(u for u in reach.dm if deliveries[u].hold_until is None)
    # The shadow is mentioned only if they asked for channel pages; a held person is not mentioned (that would notify them).
    mentioned = tuple(dict.fromkeys([*paged_now, *by_channel]))
    channel_page = None
    recorded = (*by_channel, *([reach.channel_mention] if reach.channel_mention else []))
    # A rerun posts again unless the post's own pages are on record; a post that records none (it only names people
    # DM'd) leaves no trace, so it is posted again: a duplicate mention rather than a lost one.
    posted_before = bool(recorded) and set(recorded) <= facts.already_paged
    if facts.has_channel and (mentioned or reach.channel_mention) and not posted_before:
        channel_page = ChannelPage(people=mentioned, mention=reach.channel_mention, paged=recorded, guarded=tuple(by_channel))
    card_paging = paged_now if facts.has_channel and not facts.card_posted else None
    return StepPlan(card_paging=card_paging, actions=tuple(actions), channel_page=channel_page)


def plan_manual_page(person: PersonFacts, *, has_channel: bool, at: datetime) -> str:
    """Return the kind of a page sent at once (by hand, or a "still on it?" re-page): their choice, never held."""
    delivery = plan_delivery(person.settings, zone=person.zone, severity=Severity.SEV1, quiet_hours=QuietHours.page,
                             has_channel=has_channel, at=at)
    return delivery.via.value


@dataclass(frozen=True)
class DmFailedPlan:
    """What follows a DM page that did not arrive."""

    post_in_channel: bool  # a note in the crisis channel instead (recorded as the page that reached them)
    tell_admins: bool


def plan_dm_failure(*, has_channel: bool) -> DmFailedPlan:
    """A failed DM page falls back to the crisis channel when there is one; the admins hear of it either way."""
    return DmFailedPlan(post_in_channel=has_channel, tell_admins=True)


@dataclass(frozen=True)
class Wait:
    """Nothing to do yet: check again at `until`."""

    until: datetime


@dataclass(frozen=True)
class Ask:
    """Ask the acknowledger "still on it?" now, and check for an answer at `check_again_at`."""

    check_again_at: datetime


@dataclass(frozen=True)
class Repage:
    """The question went unanswered: page these people again, then start the wait over."""

    people: tuple[str, ...]


def plan_still_on_it(*, now: datetime, due: datetime, asked_at: datetime | None, wait: timedelta, acked_by: str,
                     backup: str | None) -> Wait | Ask | Repage:
    """Decide the "still on it?" check of an acknowledged crisis; `asked_at` is the question since its last update, if any."""
    if now < due:
        return Wait(due)
    if asked_at is None:
        return Ask(now + wait)
    if now < asked_at + wait:
        return Wait(asked_at + wait)
    return Repage(tuple(dict.fromkeys(u for u in (acked_by, backup) if u)))


# --- the ports the executor needs ---------------------------------------------------------------------------


class PagingStore(crisis_use.CrisisStore, Protocol):
    """The crisis store, with the card copies and thread lines that paging keeps current (storage/crises.py)."""

    def add_card_copy(self, *, crisis_id: int, user_id: str, channel: str, ts: str, state: str, at: datetime) -> None: ...
    def claim_card_copies(self, *, crisis_id: int, state: str) -> list[tuple[str, str]]: ...
    def claim_thread_lines(self, *, crisis_id: int) -> list[tuple[int, crisis_use.CrisisEvent]]: ...


class RotationSource(Protocol):
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...


class MemberSettingsSource(Protocol):
    def settings_of(self, workspace_id: str, user_id: str) -> MemberSettings | None: ...


class TeamKnobs(Protocol):
    def detector_settings(self, team_id: int) -> DetectorSettings: ...


class ZoneFactsSource(Protocol):
    def tz_facts(self, workspace_id: str, user_id: str) -> ZoneFacts: ...


class PageSender(Protocol):
    """Deliver one page of its kind to one person now, record it, and return whether it arrived."""

    def __call__(self, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool: ...


# --- the executor ------------------------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def _for_crisis_workspace(*, skipped: Any = None) -> Callable[[Callable[Concatenate[Paging, int, P], R]], Callable[Concatenate[Paging, int, P], R]]:
    """Run a Paging entry point (first argument: the crisis id) acting for the crisis's workspace; while that workspace
    has uninstalled the app, return `skipped` instead. A crisis that is gone runs unscoped and finds nothing to do."""
    def decorate(method: Callable[Concatenate[Paging, int, P], R]) -> Callable[Concatenate[Paging, int, P], R]:
        @functools.wraps(method)
        def run(self: Paging, crisis_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
            crisis = self.store.get_crisis(crisis_id)
            return run_for_workspace(self.workspaces, None if crisis is None else crisis.workspace_id,
                                     lambda: method(self, crisis_id, *args, **kwargs), skipped=skipped,
                                     what=f"{method.__name__} of crisis {crisis_id}")
        return run
    return decorate


@dataclass(frozen=True)
class Paging:
    """Carries out the paging plans: loads facts once per decision, acts through the ports."""

    clock: Callable[[], datetime]
    store: PagingStore
    audit: AuditSink
    messenger: Messenger
    outbox: OutboxSender
    later: Later
    ledger: RunLedger
    admins: AdminDirectory
    rotations: RotationSource
    member_settings: MemberSettingsSource
    team_knobs: TeamKnobs
    people: ZoneFactsSource
    on_paged: Callable[[int, str, datetime], None]  # (team, person, when) after a page: the burnout guard checks the limit
    refresh_homes: Callable[[int], None]  # a crisis opened or changed: republish the team's App Homes
    display_name: Callable[[str], str]  # a person's Slack name, for thread lines that name without notifying
    senders: Mapping[str, PageSender] = field(default_factory=dict)  # extra (or replaced) page kinds, e.g. a phone call
    workspaces: SendingCheck = field(default_factory=EverySending)  # an uninstalled workspace's crises page nobody

    def sender(self, kind: str) -> PageSender:
        """Return the sender of a page kind; the built-in kinds are a DM and a mention in the crisis channel."""
        built_in: dict[str, PageSender] = {DM: self.page_by_dm, CHANNEL: self.page_in_channel}
        return {**built_in, **self.senders}[kind]

    # --- the escalation chain

    @_for_crisis_workspace()
    def start_chain(self, crisis_id: int) -> None:
        """Run the steps already due (the first page) now and give every later step its date job."""
        now = self.clock()
        crisis = self.store.get_crisis(crisis_id)
        if crisis is not None:
            self.refresh_homes(crisis.team_id)
        for step in self.store.pending_steps(crisis_id, now=now):
            if step.due_at <= now:
                self.run_step(crisis_id, step.index)
            else:
                self._later_step(crisis_id, step.index, step.due_at)

    def _later_step(self, crisis_id: int, step: int, when: datetime) -> None:
        self.later.at(RUN_STEP_JOB, job_id=f"escalate:{crisis_id}:{step}", when=when, args=[crisis_id, step])

    @_for_crisis_workspace()
    def run_step(self, crisis_id: int, step: int) -> None:
        """Run one escalation step once, at or after its stored deadline; skipped once the crisis is acknowledged or closed."""
        now = self.clock()
        planned = next((s for s in self.store.pending_steps(crisis_id, now=now) if s.index == step), None)
        if planned is None:
            return  # ran already (here, in another process, or via the sweep)
        if planned.due_at > now:
            self._later_step(crisis_id, step, planned.due_at)
            return
        crisis = self.store.get_crisis(crisis_id)
        if crisis is None:
            return
        applies = crisis_use.step_applies(crisis, planned)
        # A lease, not a mark: the step is "running" until its pages are out. A runner that dies in between leaves it to
        # the sweep once the lease runs out (storage/crises.py STEP_LEASE), and the rerun skips the pages on record.
        if not self.store.claim_step(crisis_id=crisis_id, step=step, at=now):
            return  # a concurrent runner holds (or finished) the step
        if applies:
            self._page_step(crisis, planned, now)
        elif crisis.channel and crisis.message_ts is None and not crisis.status.closed:
            self._post_card(crisis, paging=())  # acknowledged before the first page went out: the card still belongs in the channel
        if not self.store.finish_step(crisis_id=crisis_id, step=step, claimed_at=now, outcome="paged" if applies else "skipped"):
            log.warning("crisis %s: step %s outlived its lease; another runner may have rerun it", crisis_id, step)

    def sweep(self) -> None:
        """Run every step past its deadline that no date job ran (after a restart, or moved elsewhere)."""
        for crisis_id, step in self.store.due_steps(self.clock()):
            self.run_step(crisis_id, step)

    def on_call(self, team_id: int, now: datetime) -> tuple[OnCall, TeamRotation | None]:
        rotation = self.rotations.load_rotation_by_id(team_id)
        if rotation is None:
            return OnCall(None, None), None
        shift = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(now)
        return OnCall(shift.primary, shift.backup, shift.shadow, self.store.away(team_id=team_id, now=now)), rotation

    def step_facts(self, crisis: crisis_use.Crisis, planned: PlannedStep, now: datetime) -> StepFacts:
        """Load what `plan_step` decides on: whom the target reaches, each person's settings and zone, the team's rule."""
        on_call, rotation = self.on_call(crisis.team_id, now)
        team = rotation.team if rotation is not None else None
        reach = recipients(planned.target, on_call, managers=self.admins.admin_ids(), usergroup_id=team.usergroup_id if team else None)
        return StepFacts(
            reach=reach, people={u: self.person_facts(crisis, rotation, u) for u in dict.fromkeys((*reach.dm, *reach.cc))},
            severity=crisis.severity, quiet_hours=self.team_knobs.detector_settings(crisis.team_id).quiet_hours,
            has_channel=bool(crisis.channel), card_posted=crisis.message_ts is not None, at=now,
            already_paged=frozenset(crisis_use.paged_in_step(self.store.timeline(crisis.id), planned.index)),
        )

    def person_facts(self, crisis: crisis_use.Crisis, rotation: TeamRotation | None, user_id: str) -> PersonFacts:
        facts = self.people.tz_facts(crisis.workspace_id, user_id)
        roster = roster_zone(rotation.spec.members, user_id) if rotation is not None else None
        zone = zone_of(chosen=facts.chosen, known=facts.known, roster=roster, team=rotation.team.tz if rotation is not None else None)
        return PersonFacts(settings=self.member_settings.settings_of(crisis.workspace_id, user_id), zone=zone.key)

    def in_quiet_hours(self, crisis: crisis_use.Crisis, user_id: str, now: datetime) -> bool:
        """Whether `now` is inside the person's quiet hours (their App Home setting, in their zone): a sender beyond Slack asks."""
        _, rotation = self.on_call(crisis.team_id, now)
        person = self.person_facts(crisis, rotation, user_id)
        return quiet_hours_end(person.settings, zone=person.zone, at=now) is not None

    def primary_on_call(self, crisis: crisis_use.Crisis, now: datetime) -> str | None:
        """The team's primary on call now: whom a group step's hand-off beyond Slack is recorded for."""
        on_call, _ = self.on_call(crisis.team_id, now)
        return on_call.primary

    def _page_step(self, crisis: crisis_use.Crisis, planned: PlannedStep, now: datetime) -> None:
        facts = self.step_facts(crisis, planned, now)
        plan = plan_step(facts)
        # On a rerun the card is posted again only if its ts was never stored: a runner killed between Slack's answer
        # and set_card leaves a duplicate card, which beats pages that never went out.
        if plan.card_paging is not None:
            crisis = self._post_card(crisis, paging=plan.card_paging)
        for action in plan.actions:
            if isinstance(action, Hold):
                self._hold_page(crisis, action.user_id, step=planned.index, until=action.until, now=now)
            else:
                self.sender(action.kind)(crisis, action.user_id, step=planned.index, now=now)
        if plan.channel_page is not None:
            self._post_channel_page(crisis, plan.channel_page, step=planned.index, now=now)
        if planned.kind in self.senders:
            # A step beyond Slack (a call, SMS, PagerDuty, Opsgenie: bot/flows/reach.py) reaches the people paged now;
            # a group step names nobody, so its hand-off goes once, for the team.
            held = {a.user_id for a in plan.actions if isinstance(a, Hold)}
            for user_id in [u for u in facts.reach.dm if u not in held] or [""]:
                self.sender(planned.kind)(crisis, user_id, step=planned.index, now=now)
        self.refresh_card(crisis.id)

    def _post_channel_page(self, crisis: crisis_use.Crisis, page: ChannelPage, *, step: int, now: datetime) -> None:
        assert crisis.channel is not None
        text = build_channel_page(crisis, people=page.people, mention=page.mention)
        try:
            self.messenger.post_message(channel=crisis.channel, text=text, thread_ts=crisis.message_ts)
            delivered = True
        except DeliveryFailed as failure:
            log.warning("crisis %s: channel page failed: %s", crisis.id, failure.code)
            delivered = False
        for who in page.paged:
            self._record_page(crisis, who, method=CHANNEL, delivered=delivered, step=step, now=now)
        for user_id in page.guarded:
            self.on_paged(crisis.team_id, user_id, now)

    def _record_page(self, crisis: crisis_use.Crisis, who: str, *, method: str, delivered: bool, step: int | None, now: datetime) -> None:
        crisis_use.record_page(self.store, self.audit, crisis_id=crisis.id, who=who, method=method, delivered=delivered, step=step,
                               actor=SYSTEM_ACTOR, now=now, via=Via.scheduler, team=crisis.workspace_id)

    # --- holds, and pages sent at once

    def _hold_page(self, crisis: crisis_use.Crisis, user_id: str, *, step: int, until: datetime, now: datetime) -> None:
        """Note a page held for the person's quiet hours and schedule it for when they end."""
        rotation = self.rotations.load_rotation_by_id(crisis.team_id)
        team_zone = rotation.team.tz if rotation is not None else "UTC"
        self.store.record_event(crisis_id=crisis.id, event=crisis_use.CrisisEvent(
            at=now, kind=crisis_use.EventKind.NOTE, actor=SYSTEM_ACTOR, via=Via.scheduler, target=user_id,
            detail={"note": f"Page to <@{user_id}> held until {slack_date(until, team_zone)} "
                            "(their quiet hours; this team holds SEV3 pages until they end)."}))
        self.audit.record(AuditRecord(at=now, actor=SYSTEM_ACTOR, action="crisis_page_held", via=Via.scheduler, target=f"crisis:{crisis.id}",
                                      team_id=crisis.workspace_id, after={"who": user_id, "until": until.isoformat(), "step": step}))
        self.later.at(HELD_PAGE_JOB, job_id=f"held-page:{crisis.id}:{step}:{user_id}", when=until, args=[crisis.id, user_id, step])

    @_for_crisis_workspace()
    def deliver_held_page(self, crisis_id: int, user_id: str, step: int) -> None:
        """Deliver a page held for quiet hours, once, unless the crisis was acknowledged or closed meanwhile."""
        crisis = self.store.get_crisis(crisis_id)
        if crisis is None or crisis.status is not crisis_use.Status.OPEN:
            return
        if not self.ledger.claim(f"held-page:{crisis_id}:{step}:{user_id}", at=self.clock()):
            return  # delivered already (another instance, or a catch-up run)
        self.page_member(crisis, user_id, step=step, now=self.clock())
        self.refresh_card(crisis_id)

    @_for_crisis_workspace(skipped=False)
    def page_person(self, crisis_id: int, user_id: str) -> bool:
        """Deliver a page asked for by hand (`/crisis page @who`); return whether it arrived."""
        crisis = self.store.get_crisis(crisis_id)
        if crisis is None:
            return False
        delivered = self.page_member(crisis, user_id, step=None, now=self.clock())
        self.refresh_card(crisis_id)
        return delivered

    def page_member(self, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool:
        """Page one person now the way they chose on their App Home; return whether it arrived."""
        person = self.person_facts(crisis, self.rotations.load_rotation_by_id(crisis.team_id), user_id)
        return self.sender(plan_manual_page(person, has_channel=bool(crisis.channel), at=now))(crisis, user_id, step=step, now=now)

    def page_in_channel(self, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool:
        """The channel sender: mention one person in the card's thread."""
        assert crisis.channel is not None
        try:
            self.messenger.post_message(channel=crisis.channel, text=build_channel_page(crisis, people=(user_id,), mention=None),
                                        thread_ts=crisis.message_ts)
            delivered = True
        except DeliveryFailed as failure:
            log.warning("crisis %s: channel page for %s failed: %s", crisis.id, user_id, failure.code)
            delivered = False
        self._record_page(crisis, user_id, method=CHANNEL, delivered=delivered, step=step, now=now)
        self.on_paged(crisis.team_id, user_id, now)
        return delivered

    def page_by_dm(self, crisis: crisis_use.Crisis, user_id: str, *, step: int | None, now: datetime) -> bool:
        """The DM sender: DM one person the card; when that fails, fall back as plan_dm_failure says."""
        text, blocks = build_page(crisis, channel=crisis.channel)
        try:
            posted = self.messenger.post_message(channel=self.messenger.open_dm(user_id), text=text, blocks=blocks)
        except DeliveryFailed as failure:
            self._record_page(crisis, user_id, method=DM, delivered=False, step=step, now=now)
            fallback = plan_dm_failure(has_channel=bool(crisis.channel))
            if fallback.post_in_channel:
                self.outbox.send(dedupe_key=f"crisis-dm-fallback:{crisis.id}:{step}:{user_id}", method="chat.postMessage",
                                 payload={"channel": crisis.channel, "text": build_dm_failed(crisis, user_id=user_id, error=failure.code)})
                # The same page as the failed DM above: recorded apart so reports and the burnout guard count it once.
                self._record_page(crisis, user_id, method=crisis_use.PAGE_DM_FALLBACK, delivered=True, step=step, now=now)
            if fallback.tell_admins:
                self.tell_admins(f"Page for crisis #{crisis.id} could not reach <@{user_id}> by DM ({failure.code}); I posted in the channel instead.",
                                 key=f"crisis-dm-failed:{crisis.id}:{step}:{user_id}")
            self.on_paged(crisis.team_id, user_id, now)
            return False
        # Remembered so every later change of the card (ack, responding, resolve) updates this copy in place too.
        self.store.add_card_copy(crisis_id=crisis.id, user_id=user_id, channel=posted["channel"], ts=posted["ts"],
                                 state=crisis_use.card_state(crisis), at=now)
        self._record_page(crisis, user_id, method=DM, delivered=True, step=step, now=now)
        self.on_paged(crisis.team_id, user_id, now)
        return True

    def tell_admins(self, text: str, *, key: str) -> None:
        for admin in self.admins.admin_ids():
            self.outbox.send(dedupe_key=f"{key}:{admin}", method="dm", payload={"user": admin, "text": text})

    # --- the card

    def _post_card(self, crisis: crisis_use.Crisis, *, paging: Iterable[str]) -> crisis_use.Crisis:
        """Post the card in the crisis channel and remember where, so later changes update it in place."""
        assert crisis.channel is not None
        text, blocks = build_crisis_card(crisis, paging=tuple(paging))
        try:
            posted = self.messenger.post_message(channel=crisis.channel, text=text, blocks=blocks)
        except DeliveryFailed as failure:
            # The client already waited out 429s; a channel we cannot post in is the admins' to fix.
            log.error("crisis %s: card not posted in %s: %s", crisis.id, crisis.channel, failure.code)
            self.tell_admins(f"I could not post crisis #{crisis.id} ({crisis.topic}) in <#{crisis.channel}>: {failure.code}.",
                             key=f"crisis-card-failed:{crisis.id}")
            return crisis
        self.store.set_card(crisis_id=crisis.id, channel=posted["channel"], ts=posted["ts"])
        if crisis.topic_id is not None:
            # Rendering and uploading take a second or two: a job of its own, so the pages go out first.
            self.later.at(CHART_JOB, job_id=f"crisis-chart:{crisis.id}", when=self.clock(), args=[crisis.id])
        return self.store.get_crisis(crisis.id) or crisis

    @_for_crisis_workspace()
    def refresh_card(self, crisis_id: int) -> None:
        """Update the card in place and add any new timeline lines to its thread."""
        crisis = self.store.get_crisis(crisis_id)
        if crisis is not None:
            self._refresh_card(crisis)

    def _refresh_card(self, crisis: crisis_use.Crisis) -> None:
        self.refresh_card_copies(crisis)  # DM copies exist even when the team has no crisis channel
        if crisis.channel is None or crisis.message_ts is None:
            return
        text, blocks = build_crisis_card(crisis)
        try:
            self.messenger.update_message(channel=crisis.channel, ts=crisis.message_ts, text=text, blocks=blocks)
        except DeliveryFailed as failure:
            if not failure.transient:
                raise
            self.outbox.send(dedupe_key=f"crisis-card:{crisis.id}:{crisis.status.value}:{len(crisis.responders)}:{crisis.last_activity_at:%H%M%S}",
                             method="chat.update", payload={"channel": crisis.channel, "ts": crisis.message_ts, "text": text, "blocks": blocks})
        for event_id, event in self.store.claim_thread_lines(crisis_id=crisis.id):
            # Claimed rows and the dedupe key make each line go out once however often, and wherever, the card is refreshed.
            actor_name = self.display_name(event.actor) if acted_by_a_person(event) else None
            self.outbox.send(dedupe_key=f"crisis-line:{crisis.id}:e{event_id}", method="chat.postMessage",
                             payload={"channel": crisis.channel, "thread_ts": crisis.message_ts,
                                      "text": timeline_line(crisis, event, actor_name=actor_name)})

    def refresh_card_copies(self, crisis: crisis_use.Crisis) -> None:
        """Update each DM copy of the card whose state is behind, once per change (claimed in the database)."""
        state = crisis_use.card_state(crisis)
        text, blocks = build_page(crisis, channel=crisis.channel)
        for channel, ts in self.store.claim_card_copies(crisis_id=crisis.id, state=state):
            try:
                self.messenger.update_message(channel=channel, ts=ts, text=text, blocks=blocks)
            except DeliveryFailed as failure:
                if failure.transient:
                    # The outbox retries after Retry-After; the key makes one update per copy and state.
                    self.outbox.send(dedupe_key=f"crisis-dm-card:{crisis.id}:{channel}:{ts}:{state}", method="chat.update",
                                     payload={"channel": channel, "ts": ts, "text": text, "blocks": blocks})
                else:
                    # A copy the person deleted, or a DM Slack closed: that copy stays as it was; the channel card is current.
                    self.audit.record(AuditRecord(at=self.clock(), actor=SYSTEM_ACTOR, action="crisis_dm_copy_not_updated", via=Via.scheduler,
                                                  target=f"crisis:{crisis.id}", team_id=crisis.workspace_id,
                                                  after={"channel": channel, "ts": ts, "error": failure.code}))

    # --- after a change, and "still on it?"

    @_for_crisis_workspace()
    def after_change(self, crisis_id: int) -> None:
        """Refresh the card and Homes, and plan the "still on it?" check of a freshly acknowledged crisis."""
        crisis = self.store.get_crisis(crisis_id)
        if crisis is None:
            return
        self._refresh_card(crisis)
        self.refresh_homes(crisis.team_id)
        if crisis.status is crisis_use.Status.ACKNOWLEDGED:
            due = still_on_it_due(acked_at=crisis.acked_at, last_activity_at=crisis.last_activity_at, policy=self.store.policy(crisis.team_id))
            if due is not None:
                self._check_again(crisis_id, due)

    def _check_again(self, crisis_id: int, when: datetime) -> None:
        self.later.at(STILL_ON_IT_JOB, job_id=f"still-on-it:{crisis_id}", when=when, args=[crisis_id])

    @_for_crisis_workspace()
    def check_still_on_it(self, crisis_id: int) -> None:
        """Ask an acknowledger with no update "still on it?"; if the question goes unanswered too, page again."""
        now = self.clock()
        crisis = self.store.get_crisis(crisis_id)
        if crisis is None or crisis.status is not crisis_use.Status.ACKNOWLEDGED or crisis.acked_by is None:
            return
        policy = self.store.policy(crisis.team_id)
        due = still_on_it_due(acked_at=crisis.acked_at, last_activity_at=crisis.last_activity_at, policy=policy)
        assert due is not None
        asked = [e.at for e in self.store.timeline(crisis_id)
                 if e.kind is crisis_use.EventKind.STILL_ON_IT and e.at >= crisis.last_activity_at] if now >= due else []
        backup = self.on_call(crisis.team_id, now)[0].backup if asked and now >= asked[-1] + policy.still_on_it_after else None
        plan = plan_still_on_it(now=now, due=due, asked_at=asked[-1] if asked else None, wait=policy.still_on_it_after,
                                acked_by=crisis.acked_by, backup=backup)
        if isinstance(plan, Wait):
            self._check_again(crisis_id, plan.until)
        elif isinstance(plan, Ask):
            crisis_use.still_on_it(self.store, self.audit, crisis_id=crisis_id, now=now)
            self._ask_still_on_it(crisis, key=f"still-on-it:{crisis_id}:{now:%Y%m%dT%H%M%S}", now=now)
            self._check_again(crisis_id, plan.check_again_at)
        else:
            for user_id in plan.people:
                self.page_member(crisis, user_id, step=None, now=now)
            self.store.touch(crisis_id=crisis_id, at=now)
            self.after_change(crisis_id)

    def _ask_still_on_it(self, crisis: crisis_use.Crisis, *, key: str, now: datetime) -> None:
        """DM the acknowledger the card with "Still on it?", kept as a card copy so its buttons follow later changes in place."""
        assert crisis.acked_by is not None
        text, blocks = build_page(crisis, channel=crisis.channel)
        text = "Still on it? Press I'm responding or Resolve. " + text
        if not self.ledger.claim(key, at=now):
            return  # asked already (a repeated run)
        state = crisis_use.card_state(crisis)
        try:
            posted = self.messenger.post_message(channel=self.messenger.open_dm(crisis.acked_by), text=text, blocks=blocks)
        except DeliveryFailed as failure:
            # The outbox retries (or audits) it; once delivered it becomes a card copy too (still_on_it_delivered).
            log.warning("crisis %s: still-on-it DM not sent now: %s", crisis.id, failure.code)
            self.outbox.send(dedupe_key=f"still-on-it-dm:{key}", method="dm", payload={"user": crisis.acked_by, "text": text, "blocks": blocks},
                             kind=STILL_ON_IT_DELIVERED, subject={"crisis_id": crisis.id, "state": state})
            return
        self.store.add_card_copy(crisis_id=crisis.id, user_id=crisis.acked_by, channel=posted["channel"], ts=posted["ts"], state=state, at=now)

    def still_on_it_delivered(self, item: OutboxItem, result: dict[str, Any]) -> None:
        """The outbox's hook for STILL_ON_IT_DELIVERED: keep the late "still on it?" DM as a card copy, and bring it
        up to date if the crisis moved on meanwhile."""
        if item.subject is None or "channel" not in result or "ts" not in result:
            return
        crisis = self.store.get_crisis(int(item.subject["crisis_id"]))
        if crisis is None:
            return
        self.store.add_card_copy(crisis_id=crisis.id, user_id=item.payload["user"], channel=result["channel"], ts=result["ts"],
                                 state=str(item.subject["state"]), at=self.clock())
        self.refresh_card_copies(crisis)


# Outbox kind of a "still on it?" DM that waited for Slack; its subject is {"crisis_id", "state" (the card state it shows)}.
STILL_ON_IT_DELIVERED = "still_on_it"
