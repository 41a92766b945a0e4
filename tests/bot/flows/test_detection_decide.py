"""The detection use case (bot/flows/detection.py): decide, new_minutes, topic_tuning and SpikeResponder, on in-memory ports."""

import dataclasses
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.campaigns import Campaign
from bot.crisis import Crisis, SpikeStats, Status
from bot.detector_tuning import DetectorSettings, Label, TopicAdjustment, learn
from bot.flows.detection import PAGE_HORIZON, SpikeResponder, decide, new_minutes, topic_tuning
from bot.spikes import Action, Bucket, Decision, Severity, SpikeDetector, Tuning

MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Open:
    severity: Severity = Severity.SEV2


def minutes(start: datetime, values) -> list[Bucket]:
    return [Bucket(at=start + i * MINUTE, total=4 * v, negative=v, reach=v) for i, v in enumerate(values)]


def calm_detector() -> SpikeDetector:
    """A detector that has learned two calm days ending at T0."""
    rng = random.Random(7)
    detector = SpikeDetector(tuning=Tuning(), step=MINUTE)
    for bucket in minutes(T0 - 2 * 24 * 60 * MINUTE, [rng.choice((0, 0, 1, 1, 2)) for _ in range(2 * 24 * 60)]):
        detector.observe(bucket)
    return detector


def window(buckets):
    return buckets[0].at, buckets[-1].at + MINUTE


def test_a_fresh_spike_pages_and_the_card_shows_the_latest_elevated_minute():
    detector = calm_detector()
    spike = minutes(T0, [60, 60, 80, 120])
    verdict = decide(detector, spike, [], None, T0 + 4 * MINUTE + timedelta(seconds=5), window=window(spike))
    assert verdict.page is not None and verdict.page[1].pages
    assert verdict.shown is not None and verdict.shown[0].at >= verdict.page[0].at
    assert verdict.follow is None and verdict.peek is None and verdict.closed is None
    assert detector.crisis_open


def test_a_spike_older_than_the_page_horizon_teaches_but_pages_nobody():
    """A backfill seen an hour late: no page, and the detector does not keep a crisis nobody opened."""
    detector = calm_detector()
    spike = minutes(T0, [60, 60, 80, 120])
    verdict = decide(detector, spike, [], None, T0 + PAGE_HORIZON + timedelta(hours=1), window=window(spike))
    assert verdict.page is None and verdict.peek is None
    assert not detector.crisis_open and detector.closed_at == spike[-1].at + MINUTE  # the cooldown runs from the window's end


def test_a_crisis_closed_since_the_last_pass_is_reported_with_what_the_detector_scored_meanwhile():
    detector = calm_detector()
    spike = minutes(T0, [60, 60, 80, 120])
    decide(detector, spike, [], None, T0 + 4 * MINUTE, window=window(spike))
    peak = detector.crisis_peak
    later = minutes(T0 + 4 * MINUTE, [1, 0, 1])
    verdict = decide(detector, later, [], None, T0 + 7 * MINUTE, window=window(later))
    assert verdict.closed is not None and verdict.closed.peak_score == peak and verdict.closed.threshold == Tuning().threshold
    assert not detector.crisis_open and detector.closed_at == later[0].at


def test_a_declared_crisis_is_joined_and_its_card_follows_the_spike_without_a_new_page():
    """The detector learns of a hand-declared SEV1; a spike then only moves the card's figures (no escalation past SEV1)."""
    detector = calm_detector()
    spike = minutes(T0, [60, 60, 80, 120])
    verdict = decide(detector, spike, [], Open(Severity.SEV1), T0 + 4 * MINUTE, window=window(spike))
    assert verdict.page is None and verdict.follow is not None and verdict.follow[0].at == spike[-1].at
    assert detector.crisis is Severity.SEV1 and detector.crisis_peak >= Tuning().threshold


def test_a_quiet_declared_crisis_leaves_the_peak_low_so_closing_it_can_count_as_missed():
    detector = calm_detector()
    calm = minutes(T0, [1, 0, 2, 1])
    verdict = decide(detector, calm, [], Open(), T0 + 4 * MINUTE, window=window(calm))
    assert verdict.page is None and verdict.follow is None
    assert detector.crisis_open and detector.crisis_peak < Tuning().threshold


def test_the_minute_still_filling_opens_on_a_copy_and_the_stored_detector_sees_it_once_later():
    detector = calm_detector()
    last_at = detector.last_at
    partial = minutes(T0, [150])
    verdict = decide(detector, [], partial, None, T0 + timedelta(seconds=20), window=(T0, T0))
    assert verdict.peek is not None and verdict.peek[0] == partial[0]
    assert detector.last_at == last_at and not detector.crisis_open


def test_no_peek_while_a_crisis_is_open():
    detector = calm_detector()
    verdict = decide(detector, [], minutes(T0, [150]), Open(), T0 + timedelta(seconds=20), window=(T0, T0))
    assert verdict.peek is None


def test_a_new_topic_starts_at_its_first_mention_and_a_known_one_skips_what_it_saw():
    empty_then_some = minutes(T0, [0, 0, 0, 2, 0, 1])
    new = SpikeDetector(tuning=Tuning(), step=MINUTE)
    assert [b.at for b in new_minutes(new, empty_then_some)] == [b.at for b in empty_then_some[3:]]
    assert new_minutes(new, minutes(T0, [0, 0])) == []
    known = calm_detector()
    assert new_minutes(known, minutes(T0 - 2 * MINUTE, [0, 0, 0, 0])) == minutes(T0 - 2 * MINUTE, [0, 0, 0, 0])[2:]


def test_topic_tuning_applies_team_knobs_campaign_and_what_labels_taught():
    settings = DetectorSettings(sensitivity="high", min_count=25)
    plain = topic_tuning(settings, [], None, topic="acme", now=T0)
    assert plain.threshold == 0.8 and plain.min_count == 25 and not plain.campaign
    campaign = Campaign(id=1, team_id=1, name="launch", topic="acme", starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1),
                        created_by="U1")
    assert topic_tuning(settings, [campaign], None, topic="ACME", now=T0).campaign
    taught = topic_tuning(settings, [], learn(TopicAdjustment(), Label.false_alarm, T0), topic="acme", now=T0)
    assert taught.threshold > plain.threshold * 1.04


# --- acting on a verdict (SpikeResponder) with in-memory ports ----------------------------------------------------


class Crises:
    def __init__(self) -> None:
        self.severity: dict[int, Severity] = {}
        self.events: list = []
        self.stats: dict[int, SpikeStats] = {}

    def raise_severity(self, *, crisis_id: int, severity: Severity) -> bool:
        if severity <= self.severity.get(crisis_id, Severity.SEV3):
            return False
        self.severity[crisis_id] = severity
        return True

    def record_event(self, *, crisis_id: int, event) -> int:
        self.events.append((crisis_id, event))
        return len(self.events)

    def update_stats(self, *, crisis_id: int, stats: SpikeStats) -> bool:
        self.stats[crisis_id] = stats
        return True


class Counts:
    def __init__(self, buckets) -> None:
        self.stored = buckets

    def buckets(self, *, topic_id: int, since: datetime, until: datetime) -> list[Bucket]:
        return [b for b in self.stored if since <= b.at < until]


class Sources:
    def top_negative_mentions(self, *, topic_id: int, since: datetime, limit: int = 5) -> list[dict]:
        return []

    def negative_texts(self, *, topic_id: int, since: datetime, limit: int = 500) -> list[tuple[str, str | None]]:
        return [("servizio pessimo", "it"), ("This is the worst customer service I have ever had and I will never order again", None)]


class NoRotations:
    def load_rotation_by_id(self, team_id: int):
        return None


class FollowUps:
    def __init__(self) -> None:
        self.refreshed: list[int] = []
        self.started: list[int] = []

    def refresh_card(self, crisis_id: int) -> None:
        self.refreshed.append(crisis_id)

    def start_chain(self, crisis_id: int) -> None:
        self.started.append(crisis_id)


class NoCampaigns:
    def campaigns(self, *, team_id: int, ending_after: datetime) -> list:
        return []


class NoAudit:
    def record(self, entry) -> None:
        raise AssertionError("nothing is audited here")


def responder(counts=()):
    follow_ups = FollowUps()
    built = SpikeResponder(crises=Crises(), counts=Counts(list(counts)), sources=Sources(), rotations=NoRotations(), campaigns=NoCampaigns(),
                           audit=NoAudit(), follow_ups=follow_ups, clock=lambda: T0 + 5 * MINUTE)
    return built, follow_ups


def open_crisis(*, origin: str = "detected", negative: int = 40) -> Crisis:
    return Crisis(id=4, team_id=1, team_name="social", workspace_id="T1", topic="acme", severity=Severity.SEV3, summary="", origin=origin,
                  declared_by=None, status=Status.OPEN, opened_at=T0, last_activity_at=T0, topic_id=9,
                  stats=SpikeStats(negative=negative, top_mentions=({"text": "bad"},)))


def test_a_spike_on_an_open_crisis_raises_its_severity_once_with_a_timeline_note_and_a_card_refresh():
    actions, follow_ups = responder()
    decision = Decision(action=Action.ESCALATE, score=3.0, expected=1.0, severity=Severity.SEV1)
    bucket = minutes(T0, [90])[0]
    for _ in range(2):
        actions.act_on_spike(topic_id=9, team_id=1, topic="acme", decision=decision, deciding=bucket, expected=1.0, current=open_crisis())
    assert actions.crises.severity == {4: Severity.SEV1} and follow_ups.refreshed == [4]
    ((crisis_id, note),) = actions.crises.events
    assert crisis_id == 4 and note.detail == {"note": "Spike grew: now SEV1."}


def test_the_card_follows_a_grown_spike_with_the_deciding_minutes_and_their_language_mix():
    history = minutes(T0 - 20 * MINUTE, [2] * 20)
    actions, follow_ups = responder(history)
    grown = (minutes(T0, [400])[0], Decision(action=Action.CONTINUE, score=4.0, expected=2.0, severity=Severity.SEV2))
    actions.follow_spike(open_crisis(negative=40), topic_id=9, elevated=grown)
    stats = actions.crises.stats[4]
    assert stats.negative == 400 + 14 * 2 and stats.series[-1] == 400 and stats.top_mentions == ({"text": "bad"},)
    assert dict(stats.languages) == {"it": 0.5, "en": 0.5} and follow_ups.refreshed == [4]


def test_the_card_does_not_follow_a_smaller_spike_or_a_declared_crisis():
    actions, follow_ups = responder()
    small = (minutes(T0, [3])[0], Decision(action=Action.CONTINUE, score=1.2, expected=2.0, severity=Severity.SEV3))
    actions.follow_spike(open_crisis(negative=40), topic_id=9, elevated=small)
    actions.follow_spike(open_crisis(origin="declared"), topic_id=9,
                         elevated=(minutes(T0, [900])[0], Decision(action=Action.CONTINUE, score=5.0, expected=2.0, severity=Severity.SEV1)))
    assert actions.crises.stats == {} and follow_ups.refreshed == []


def test_opening_needs_the_team_rotation():
    actions, follow_ups = responder()
    assert actions.open_spike_crisis(topic_id=9, team_id=1, topic="acme", severity=Severity.SEV2, expected_per_minute=1.0,
                                     buckets=minutes(T0, [50])) is None
    assert follow_ups.started == []


class OneRotation:
    def __init__(self, workspace_id: str) -> None:
        self.rotation = SimpleNamespace(team=SimpleNamespace(workspace_id=workspace_id))

    def load_rotation_by_id(self, team_id: int):
        return self.rotation


class Stopped:
    def __init__(self, *workspaces: str) -> None:
        self.workspaces = set(workspaces)

    def is_sending(self, workspace_id: str) -> bool:
        return workspace_id not in self.workspaces


def test_an_uninstalled_workspace_gets_no_detected_crisis():
    """The team's workspace uninstalled the app: nobody there could be paged, so no crisis opens and no chain starts."""
    actions, follow_ups = responder()
    actions = dataclasses.replace(actions, rotations=OneRotation("T2"), workspaces=Stopped("T2"))
    assert actions.open_spike_crisis(topic_id=9, team_id=1, topic="acme", severity=Severity.SEV2, expected_per_minute=1.0,
                                     buckets=minutes(T0, [50])) is None
    assert follow_ups.started == [] and actions.crises.events == []
