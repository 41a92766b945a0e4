"""Spike detection use case: each watched topic's new whole minutes go through its persisted detector.

`decide` is the policy and is pure: it feeds the minutes, notices a crisis closed since the last pass, and says
whether to page, keep the card on a grown spike, forget a backfilled spike, or peek at the minute still filling.
`run_pass` is the executor: it reads everything once per pass through the ports, calls `decide` per topic, hands
the verdicts to `SpikeActions` (opening and paging live with the crisis flows), stores every detector in one
compare-and-set, and lets closed crises teach their topics (bot.detector_tuning). bot/jobs.py keeps the job entry
points the scheduler names by text and plugs the adapters in.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import crisis as crisis_use
from bot import detector_tuning
from bot.audit import SYSTEM_ACTOR, AuditSink, Via
from bot.campaigns import Campaign, CampaignStore, active_campaign, running_campaign
from bot.detector_tuning import DetectorSettings, TopicAdjustment
from bot.escalation import plan_chain
from bot.flows.ports import CrisisFollowUps
from bot.installs import EverySending, SendingCheck, run_for_workspace
from bot.oncall import TeamRotation
from bot.sentiment import detect_language
from bot.spikes import Action, Bucket, Decision, Prior, Severity, SpikeDetector

# Decisions about minutes older than this (a backfill, or catching up after an outage) teach the detector
# but do not page: a crisis opened for last Tuesday's spike would be noise.
PAGE_HORIZON = timedelta(minutes=15)
CARD_SERIES = timedelta(hours=1)  # minutes read for the card's sparkline (spike_stats sums the last 15 of them)

Watch = tuple[int, int, str, "dict[str, Any] | None", "datetime | None"]  # topic id, team id, name, state, read_until
Save = tuple[int, "dict[str, Any]", datetime, "datetime | None"]  # topic id, state, read_until, expected read_until


# --- ports ---------------------------------------------------------------------------------------------------------


class OpenCrisis(Protocol):
    """What detection needs of a topic's open crisis."""

    @property
    def severity(self) -> Severity: ...


class WatchedTopics(Protocol):
    def watches(self) -> list[Watch]: ...
    def save_detectors(self, saves: Sequence[Save], *, now: datetime) -> set[int]: ...


class Counters(Protocol):
    def buckets_of_topics(self, topic_ids: Sequence[int], *, since: datetime, until: datetime) -> dict[int, list[Bucket]]: ...


class OpenCrises(Protocol):
    def open_by_topic(self) -> dict[tuple[int, str], Any]: ...  # (team id, lower(topic)) -> crisis


class DetectedCrises(crisis_use.CrisisStore, Protocol):
    def update_stats(self, *, crisis_id: int, stats: crisis_use.SpikeStats) -> bool: ...


class MinuteCounts(Protocol):
    def buckets(self, *, topic_id: int, since: datetime, until: datetime) -> list[Bucket]: ...


class CardSources(Protocol):
    """The topic's recent negative mentions a card quotes and reads the language mix from."""

    def top_negative_mentions(self, *, topic_id: int, since: datetime, limit: int = 5) -> list[dict[str, Any]]: ...
    def negative_texts(self, *, topic_id: int, since: datetime, limit: int = 500) -> list[tuple[str, str | None]]: ...


class TeamRotations(Protocol):
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...


class DetectorKnobs(detector_tuning.LabelStore, Protocol):
    def detector_settings(self, team_id: int) -> DetectorSettings: ...
    def campaigns(self, *, team_id: int, ending_after: datetime) -> list[Campaign]: ...
    def adjustments_by_topic(self) -> dict[int, TopicAdjustment]: ...


class SpikeActions(Protocol):
    """What a verdict sets going: open (and page) or escalate a crisis, keep a detected crisis' card on the spike."""

    def act_on_spike(self, *, topic_id: int, team_id: int, topic: str, decision: Decision, deciding: Bucket, expected: float,
                     current: Any | None) -> None: ...
    def follow_spike(self, current: Any, *, topic_id: int, elevated: tuple[Bucket, Decision]) -> None: ...


# --- the policy (pure) ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    """The detector's open crisis was closed since the last pass: what it scored meanwhile, against which threshold."""

    peak_score: float
    threshold: float


@dataclass(frozen=True)
class Verdict:
    """What one topic's pass decided; at most one of `page`, `follow`, `peek` is set."""

    page: tuple[Bucket, Decision] | None = None  # open or escalate on this decision
    shown: tuple[Bucket, float] | None = None  # the minute (and baseline) the card shows for `page`
    follow: tuple[Bucket, Decision] | None = None  # the open crisis' card follows the spike to this minute
    peek: tuple[Bucket, Decision] | None = None  # the minute still filling already opens a crisis
    closed: Closed | None = None


def decide(detector: SpikeDetector, buckets: Sequence[Bucket], partial: Sequence[Bucket], current: OpenCrisis | None,
           now: datetime, *, window: tuple[datetime, datetime]) -> Verdict:
    """Feed `buckets` (whole minutes the detector has not seen) and decide; `detector` is advanced in place.

    `current` is the topic's open crisis (None when there is none); `partial` holds the minute still filling, if any;
    `window` is the [since, until) span of whole minutes this pass read.
    """
    since, until = window
    closed = None
    if current is None and detector.crisis_open:
        closed = Closed(peak_score=detector.crisis_peak, threshold=detector.tuning.effective_threshold)
        detector.close_crisis(since)  # resolved since the last pass: the cooldown starts
    elif current is not None and not detector.crisis_open:
        detector.mark_open(current.severity)  # declared by hand: spikes join it
    last_page: tuple[Bucket, Decision] | None = None
    last_elevated: tuple[Bucket, Decision] | None = None
    for bucket in buckets:
        decision = detector.observe(bucket)
        if decision.pages:
            last_page = (bucket, decision)
        if decision.action is not Action.QUIET and decision.score >= detector.tuning.effective_threshold:
            last_elevated = (bucket, decision)
    if last_page is not None and now - last_page[0].at <= PAGE_HORIZON:
        # The card shows the latest minute the detector still saw elevated (the spike may have grown after paging).
        shown = last_elevated if last_elevated is not None and last_elevated[0].at >= last_page[0].at else last_page
        follow = last_elevated if current is not None else None
        return Verdict(page=last_page, shown=(shown[0], shown[1].expected), follow=follow, closed=closed)
    if current is not None and last_elevated is not None and now - last_elevated[0].at <= PAGE_HORIZON:
        return Verdict(follow=last_elevated, closed=closed)
    if last_page is not None and current is None:
        detector.close_crisis(until)  # an old spike seen in the backfill: learn from it, page nobody
        return Verdict(closed=closed)
    if current is None and not detector.crisis_open and partial:
        # Peek at the minute still filling on a copy: a spike pages seconds after its batch lands instead of at the
        # next minute boundary. The stored detector sees that minute once, when it is whole.
        decision = copy.deepcopy(detector).observe(partial[0])
        if decision.action is Action.OPEN:
            return Verdict(peek=(partial[0], decision), closed=closed)
    return Verdict(closed=closed)


def new_minutes(detector: SpikeDetector, buckets: Iterable[Bucket]) -> list[Bucket]:
    """Return the minutes the detector has not seen; a new topic's history starts with its first mention (a backfill
    of empty minutes before it would wash out the workspace prior and make the first mentions a jump from nothing)."""
    if detector.last_at is not None:
        return [b for b in buckets if b.at > detector.last_at]
    if detector.seen == 0:
        return list(itertools.dropwhile(lambda b: b.total == 0, buckets))
    return list(buckets)


def topic_tuning(settings: DetectorSettings, campaigns: Sequence[Campaign], adjustment: TopicAdjustment | None, *, topic: str,
                 now: datetime):
    """Return the tuning a topic runs with this pass: its team's knobs, a campaign window, what labels taught it."""
    tuning = settings.tuning(campaign=active_campaign(campaigns, topic=topic, at=now) is not None)
    if adjustment is not None:
        tuning = dataclasses.replace(tuning, threshold=tuning.threshold * adjustment.factor(now))
    return tuning


# --- the executor --------------------------------------------------------------------------------------------------


def run_pass(*, topics: WatchedTopics, counts: Counters, crises: OpenCrises, knobs: DetectorKnobs, actions: SpikeActions,
             audit: AuditSink, now: datetime) -> None:
    """One detection pass over every watched topic: one read per kind, one compare-and-set write for all states."""
    watches = topics.watches()
    windows = {topic_id: crisis_use.detection_window(read_until=read_until, now=now) for topic_id, _, _, _, read_until in watches}
    counters: dict[int, list[Bucket]] = {}
    for since in {since for since, _ in windows.values()}:
        ids = [topic_id for topic_id, (start, _) in windows.items() if start == since]
        until = next(end for start, end in windows.values() if start == since)
        counters.update(counts.buckets_of_topics(ids, since=since, until=until + crisis_use.MINUTE))  # + the minute still filling
    open_now = crises.open_by_topic()
    learned = knobs.adjustments_by_topic()
    team_knobs: dict[int, tuple[DetectorSettings, list[Campaign]]] = {}
    priors: dict[int, Prior | None] = {}
    saves: list[Save] = []
    closures: list[tuple[int, int, str, Closed]] = []
    for topic_id, team_id, topic, state, read_until in watches:
        since, until = windows[topic_id]
        if team_id not in team_knobs:
            team_knobs[team_id] = knobs.detector_settings(team_id), knobs.campaigns(team_id=team_id, ending_after=now)
        # The team's knobs apply from this pass on; the learned baseline in `state` is kept whatever they are.
        tuning = topic_tuning(*team_knobs[team_id], learned.get(topic_id), topic=topic, now=now)
        if state:
            detector = SpikeDetector.from_dict(state, tuning)
        else:  # a new topic starts from its team's settled topics, so it can page within its first hours
            if team_id not in priors:
                priors[team_id] = Prior.from_states(peer for _, team, _, peer, _ in watches if team == team_id and peer)
            detector = SpikeDetector.new(tuning, crisis_use.MINUTE, priors[team_id])
        stored = counters.get(topic_id, [])
        whole = crisis_use.minutes_between(since, until, [b for b in stored if b.at < until])
        partial = [b for b in stored if b.at >= until]
        current = open_now.get((team_id, topic.lower()))
        verdict = decide(detector, new_minutes(detector, whole), partial, current, now, window=(since, until))
        if verdict.page is not None and verdict.shown is not None:
            actions.act_on_spike(topic_id=topic_id, team_id=team_id, topic=topic, decision=verdict.page[1], deciding=verdict.shown[0],
                                 expected=verdict.shown[1], current=current)
        if verdict.follow is not None and current is not None:
            actions.follow_spike(current, topic_id=topic_id, elevated=verdict.follow)
        if verdict.peek is not None:
            actions.act_on_spike(topic_id=topic_id, team_id=team_id, topic=topic, decision=verdict.peek[1], deciding=verdict.peek[0],
                                 expected=verdict.peek[1].expected, current=None)
        if verdict.closed is not None:
            closures.append((topic_id, team_id, topic, verdict.closed))
        saves.append((topic_id, detector.to_dict(), until, read_until))
    # Compare-and-set per topic, in one transaction: of two runners over the same minutes one stores its state;
    # opening is already once per topic.
    saved = topics.save_detectors(saves, now=now)
    # The runner whose state was stored saw the closure; it alone applies the label (the store also keeps one per crisis).
    for topic_id, team_id, topic, closed in closures:
        if topic_id in saved:
            detector_tuning.learn_from_closed(knobs, audit, topic_id=topic_id, team_id=team_id, topic=topic,
                                              peak_score=closed.peak_score, threshold=closed.threshold, now=now)


# --- acting on a verdict -------------------------------------------------------------------------------------------


@dataclass
class SpikeResponder:
    """SpikeActions through the stores: open a detected crisis with the card's numbers and start its chain, raise the
    severity of an open one, keep a detected crisis' card figures on the minute the detector last saw elevated."""

    crises: DetectedCrises
    counts: MinuteCounts
    sources: CardSources
    rotations: TeamRotations
    campaigns: CampaignStore
    audit: AuditSink
    follow_ups: CrisisFollowUps
    clock: Any  # () -> aware datetime
    workspaces: SendingCheck = field(default_factory=EverySending)  # an uninstalled workspace's spikes open no crisis

    def act_on_spike(self, *, topic_id: int, team_id: int, topic: str, decision: Decision, deciding: Bucket, expected: float,
                     current: crisis_use.Crisis | None) -> None:
        severity = decision.severity or Severity.SEV3
        if current is not None:
            if self.crises.raise_severity(crisis_id=current.id, severity=severity):
                self.crises.record_event(crisis_id=current.id, event=crisis_use.CrisisEvent(
                    at=self.clock(), kind=crisis_use.EventKind.NOTE, actor=SYSTEM_ACTOR, via=Via.scheduler,
                    detail={"note": f"Spike grew: now {severity.label}."}))
                self.follow_ups.refresh_card(current.id)
            return
        # The card's figures are those of the minute that paged, with the minutes before it as the detector saw them.
        buckets = self._window_ending_at(topic_id=topic_id, deciding=deciding)
        self.open_spike_crisis(topic_id=topic_id, team_id=team_id, topic=topic, severity=severity, expected_per_minute=expected,
                               buckets=buckets)

    def follow_spike(self, current: crisis_use.Crisis, *, topic_id: int, elevated: tuple[Bucket, Decision]) -> None:
        """Keep a detected crisis' card figures on the detector's latest elevated minute when the spike has grown since."""
        if current.origin != "detected" or current.stats is None:
            return
        bucket, decision = elevated
        stats = crisis_use.spike_stats(self._window_ending_at(topic_id=topic_id, deciding=bucket), expected_per_minute=decision.expected,
                                       mentions=list(current.stats.top_mentions),
                                       negative_languages=self._negative_languages(topic_id=topic_id, now=self.clock()))
        if stats.negative > current.stats.negative and self.crises.update_stats(crisis_id=current.id, stats=stats):
            self.follow_ups.refresh_card(current.id)

    def open_spike_crisis(self, *, topic_id: int, team_id: int, topic: str, severity: Severity, expected_per_minute: float,
                          buckets: list[Bucket]) -> crisis_use.Crisis | None:
        """Open a detected crisis with the card's numbers and start paging, acting for the team's workspace; None when the
        topic already has one, or that workspace has uninstalled the app (nobody there could be paged)."""
        rotation = self.rotations.load_rotation_by_id(team_id)
        if rotation is None:
            return None
        return run_for_workspace(self.workspaces, rotation.team.workspace_id,
                                 lambda: self._open(rotation, topic_id=topic_id, team_id=team_id, topic=topic, severity=severity,
                                                    expected_per_minute=expected_per_minute, buckets=buckets),
                                 skipped=None, what=f"spike crisis of topic {topic}")

    def _open(self, rotation: TeamRotation, *, topic_id: int, team_id: int, topic: str, severity: Severity, expected_per_minute: float,
              buckets: list[Bucket]) -> crisis_use.Crisis | None:
        now = self.clock()
        mentions = self.sources.top_negative_mentions(topic_id=topic_id, since=now - PAGE_HORIZON)
        stats = crisis_use.spike_stats(buckets, expected_per_minute=expected_per_minute, mentions=mentions,
                                       negative_languages=self._negative_languages(topic_id=topic_id, now=now))
        campaign = running_campaign(self.campaigns, team_id=team_id, topic=topic, at=now)
        # During a campaign window the first page goes to primary and backup together.
        steps = plan_chain(self.crises.policy(team_id), now, campaign=campaign is not None)
        opened = crisis_use.open_detected(self.crises, self.audit, team=crisis_use.team_of(rotation, now), topic=topic, topic_id=topic_id,
                                          severity=severity, stats=stats, steps=steps, now=now)
        if opened is not None:
            self.follow_ups.start_chain(opened.id)
        return opened

    def _window_ending_at(self, *, topic_id: int, deciding: Bucket) -> list[Bucket]:
        """Return the minutes the detector had seen when it decided: CARD_SERIES of stored minutes ending with `deciding`,
        which is passed as the detector saw it (a minute still filling may have grown since)."""
        since = deciding.at - CARD_SERIES + crisis_use.MINUTE
        earlier = crisis_use.minutes_between(since, deciding.at, self.counts.buckets(topic_id=topic_id, since=since, until=deciding.at))
        return [*earlier, deciding]

    def _negative_languages(self, *, topic_id: int, now: datetime) -> list[str | None]:
        """Languages of the topic's recent negative mentions: the vendor's where it sent one, else the one the text reads as."""
        return [declared or detect_language(text) for text, declared in self.sources.negative_texts(topic_id=topic_id, since=now - PAGE_HORIZON)]
