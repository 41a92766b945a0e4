"""Per-topic streaming spike detector: robust seasonal baseline in log space, scored against the topic's own tail.

Pure (stdlib only); O(1) per bucket; the state is a few dozen numbers that round-trip through to_dict().
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

from bot.errors import UsageError

# The score is z divided by the z this topic exceeds about once per `tail_every`, so 1.0 means
# "rarer than anything in a typical week for this topic" whatever its volume. The shipped point was
# chosen leave-one-series-out on the NAB realTweets development half (bench/detector.py --loso).
BALANCED_THRESHOLD = 1.0
SENSITIVITY_PRESETS = {"fewer": 1.25, "balanced": BALANCED_THRESHOLD, "more": 0.8}
CAMPAIGN_FACTOR = 0.8  # campaign windows multiply the threshold by this (more sensitive)

_COUNT_OFFSET = 1.0  # log(x + 1): defined at zero counts, and the Poisson floor below uses the same offset
_CLIP = 3.0  # residuals are winsorised at this many sigmas before they update the baseline
_MIN_EXCESS_SD = 0.05  # overdispersion floor in log units, so a flat series does not get a zero variance
_TAIL_RATE = 0.01  # log-step of the tail tracker per 5-minute bucket: one exceedance moves it ~1%
# Never page below this z even when the topic's tail is lower: a well-behaved topic (light-tailed
# noise) would otherwise page about once per `tail_every` by construction.
_TAIL_FLOOR = 3.5
_TAIL_FAST = timedelta(days=7)
# A young topic has not seen a whole day, so its time-of-day offsets are unknown: its score is divided by
# 1 + _YOUTH_MARGIN at the first bucket, easing linearly to 1 at _SETTLED (paging from hour 3 stays possible
# for a clear spike, while a first evening rush does not page).
_YOUTH_MARGIN = 1.0
_SETTLED = timedelta(days=1)
_CRISIS_LEARNING = 0.2  # the tail learns 5x faster in the first week, before it has seen one


class Severity(IntEnum):
    """Crisis severity; a larger value is more severe (SEV1 is the worst)."""

    SEV3 = 1
    SEV2 = 2
    SEV1 = 3

    @property
    def label(self) -> str:
        """Return the name shown to people, e.g. "SEV1"."""
        return self.name


class Action(StrEnum):
    """What the product should do with a bucket."""

    OPEN = "open"  # page: a new crisis starts
    ESCALATE = "escalate"  # the open crisis got worse (higher severity)
    CONTINUE = "continue"  # still elevated; mentions join the open crisis
    QUIET = "quiet"  # nothing to do


@dataclass(frozen=True)
class Bucket:
    """Counts for one topic over one bucket starting at `at` (aware UTC)."""

    at: datetime
    total: float
    negative: float
    reach: float  # reach-weighted negative mentions; equal to `negative` when reach is unknown


@dataclass(frozen=True)
class Decision:
    """The detector's verdict on one bucket."""

    action: Action
    score: float  # robust z of negative volume over baseline, over this topic's weekly z tail; 0 in warm-up
    expected: float  # baseline negative count for this bucket
    severity: Severity | None  # severity of the open crisis (None when no crisis is open)

    @property
    def pages(self) -> bool:
        """Return True when this bucket opens or escalates a crisis."""
        return self.action in (Action.OPEN, Action.ESCALATE)


@dataclass(frozen=True)
class Tuning:
    """Per-team knobs plus the model's time constants; `threshold` applies to Decision.score."""

    threshold: float = BALANCED_THRESHOLD
    min_count: int = 10  # negative mentions within `min_count_window` before anything pages
    min_count_window: timedelta = timedelta(minutes=15)
    cooldown: timedelta = timedelta(hours=4)  # after a crisis closes, no new crisis for this long
    # Learn before paging, but only for hours: a brand's new campaign hashtag needs cover on day one. The
    # young detector is cautious by construction (wide excess variance, a high starting tail, fast learning);
    # the false-alarm cost of paging from hour 3 is measured by bench/detector.py.
    warmup: timedelta = timedelta(hours=3)
    campaign: bool = False
    quiet_fraction: float = 0.5  # below threshold × this, a bucket counts as quiet
    # A score under threshold × this opens a crisis only if the previous bucket was already elevated
    # (not quiet): one-bucket blips were most false alarms on the development half, and a real
    # borderline spike costs one bucket of delay. 1.5 is also where volume alone rates SEV2.
    confirm_below: float = 1.5
    level_halflife: timedelta = timedelta(hours=12)
    season_rate: float = 0.05  # per visit of a time-of-day / day-of-week slot
    scale_halflife: timedelta = timedelta(days=2)
    tail_every: timedelta = timedelta(days=14)  # the tail level is the z exceeded about this rarely

    @property
    def effective_threshold(self) -> float:
        """Return the z threshold in force, lowered in campaign mode."""
        return self.threshold * (CAMPAIGN_FACTOR if self.campaign else 1.0)


def parse_sensitivity(text: str) -> float:
    """Return the score threshold for "fewer", "balanced", "more" or a number (higher = fewer alerts)."""
    key = text.strip().lower()
    if key in SENSITIVITY_PRESETS:
        return SENSITIVITY_PRESETS[key]
    try:
        value = float(key)
    except ValueError:
        raise UsageError(
            f"unknown sensitivity {text!r}", usage="sensitivity: fewer | balanced | more | a threshold such as 1.2"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"sensitivity must be a positive number, not {text!r}", usage="e.g. 1.2")
    return value


def team_tuning(*, sensitivity: str = "balanced", min_count: int = 10, campaign: bool = False) -> Tuning:
    """Return the shipped tuning with a team's sensitivity, minimum count and campaign mode applied."""
    if min_count < 0:
        raise UsageError(f"minimum count must be 0 or more, not {min_count}", usage="e.g. 10")
    return Tuning(threshold=parse_sensitivity(sensitivity), min_count=min_count, campaign=campaign)


def _alpha(step: timedelta, halflife: timedelta) -> float:
    """Return the EWMA weight per step for a given half-life."""
    return 1.0 - 0.5 ** (step / halflife)


def _poisson_var(mean: float) -> float:
    """Return var(log(X + 1)) for X ~ Poisson(mean), by the delta method; the level-dependent floor."""
    return (mean + 0.25) / (mean + _COUNT_OFFSET) ** 2


@dataclass(frozen=True)
class Prior:
    """What a new topic borrows from its workspace's settled topics: noise, tail and daily/weekly shape (medians).

    Brands watched by one team share an audience and its rhythm; the level stays the new topic's own. With a prior
    the first hours are scored on the workspace's scale instead of the cautious cold start (a wide variance and
    a high tail), so a clear spike on a new campaign hashtag can page from the end of the warm-up.
    """

    excess_var: float
    tail: float
    tod: tuple[float, ...]
    dow: tuple[float, ...]
    peers: int

    @classmethod
    def from_states(cls, states: Iterable[dict]) -> Prior | None:
        """Return the medians over stored detector states that have seen a whole day, or None when there are none."""
        settled = [state for state in states if state.get("first_at") and state.get("last_at")
                   and datetime.fromisoformat(state["last_at"]) - datetime.fromisoformat(state["first_at"]) >= _SETTLED]
        if not settled:
            return None
        median = statistics.median
        return cls(excess_var=median(s["excess_var"] for s in settled), tail=median(s["tail"] for s in settled),
                   tod=tuple(median(s["tod"][h] for s in settled) for h in range(24)),
                   dow=tuple(median(s["dow"][d] for s in settled) for d in range(7)), peers=len(settled))


@dataclass
class SpikeDetector:
    """Streaming detector for one topic; feed every bucket in time order, zero counts included."""

    tuning: Tuning
    step: timedelta  # bucket size
    level: float = 0.0  # log(negative + 1), deseasonalised
    tod: list[float] = field(default_factory=lambda: [0.0] * 24)  # hour-of-day offsets (log)
    dow: list[float] = field(default_factory=lambda: [0.0] * 7)  # day-of-week offsets (log)
    excess_var: float = 0.25  # overdispersion beyond Poisson, in log units²; cautious until learned
    tail: float = 4.0  # running upper quantile of z (see Tuning.tail_every)
    share: float = 1.0  # baseline negative share
    reach_per_mention: float = 1.0  # baseline reach per negative mention
    seen: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    recent: deque[float] = field(default_factory=deque)  # negative counts inside min_count_window
    crisis: Severity | None = None  # severity of the open crisis
    quiet_since: datetime | None = None  # first quiet bucket of the open crisis' current lull
    closed_at: datetime | None = None
    previous_score: float = 0.0  # the last bucket's score, for the two-bucket confirmation
    crisis_peak: float = 0.0  # highest score while the open crisis lasted (a hand-declared one the detector missed stays low)

    @classmethod
    def new(cls, tuning: Tuning, step: timedelta, prior: Prior | None = None) -> SpikeDetector:
        """Return a detector for a topic with no history, starting from the workspace's prior when there is one."""
        if prior is None:
            return cls(tuning=tuning, step=step)
        # The tail tracker climbs fast but comes down over months, so a start above the cold one would stay too
        # deaf (first measured: 8 of 17 tweet windows instead of 15); the peers' tail may only lower it.
        cold = cls(tuning=tuning, step=step)
        return cls(tuning=tuning, step=step, excess_var=max(prior.excess_var, _MIN_EXCESS_SD**2),
                   tail=min(max(prior.tail, 1.0), cold.tail), tod=list(prior.tod), dow=list(prior.dow))

    def __post_init__(self) -> None:
        if self.step <= timedelta(0):
            raise ValueError("bucket size must be positive")
        self._a_level = _alpha(self.step, self.tuning.level_halflife)
        self._a_scale = _alpha(self.step, self.tuning.scale_halflife)
        self._window = max(1, math.ceil(self.tuning.min_count_window / self.step))

    @property
    def crisis_open(self) -> bool:
        """Return True while a crisis the detector opened (or was told about) is open."""
        return self.crisis is not None

    def quiet_for(self, at: datetime) -> timedelta:
        """Return how long the open crisis has been quiet as of bucket `at` (zero if elevated)."""
        return timedelta(0) if self.quiet_since is None else at - self.quiet_since + self.step

    def close_crisis(self, at: datetime) -> None:
        """Record that the open crisis was resolved at `at`; the cooldown starts then."""
        self.crisis, self.quiet_since, self.closed_at = None, None, at

    def mark_open(self, severity: Severity) -> None:
        """Record a crisis opened elsewhere (e.g. declared by hand), so spikes join it."""
        self.crisis, self.quiet_since, self.crisis_peak = severity, None, 0.0

    def observe(self, bucket: Bucket) -> Decision:
        """Score `bucket` against the baseline, update the baseline and the crisis state, and decide."""
        at = bucket.at
        if at.tzinfo is None:
            raise ValueError("bucket times must be aware UTC datetimes")
        if self.last_at is not None and at <= self.last_at:
            raise ValueError(f"buckets must arrive in time order: {at} after {self.last_at}")
        if min(bucket.total, bucket.negative, bucket.reach) < 0:
            raise ValueError("counts must not be negative")
        utc = at.astimezone(UTC)
        hour, day = utc.hour, utc.weekday()
        x = bucket.negative
        y = math.log(x + _COUNT_OFFSET)

        if self.seen == 0:  # the level is deseasonalised (the offsets are zero unless a workspace prior set them)
            self.level, self.first_at = y - self.tod[hour] - self.dow[day], at
        expected_log = self.level + self.tod[hour] + self.dow[day]
        expected = max(math.exp(expected_log) - _COUNT_OFFSET, 0.0)
        var = self.excess_var + _poisson_var(expected)
        residual = y - expected_log
        z = residual / math.sqrt(var)
        youth = 1.0 + _YOUTH_MARGIN * max(0.0, 1.0 - (at - self.first_at) / _SETTLED)
        score_now = z / max(self.tail, _TAIL_FLOOR) / youth
        # Spike buckets inside an open crisis would teach the tail that spikes are normal and mask
        # the next one; the tail learns only from buckets outside crises.
        if self.crisis is None:
            self._tail_update(z, at)

        self.recent.append(x)
        if len(self.recent) > self._window:
            self.recent.popleft()
        warm = at - self.first_at >= self.tuning.warmup
        score = score_now if warm else 0.0
        severity = self._severity(bucket, score, expected) if warm else None
        action = self._decide(at, score, severity)
        if self.crisis is not None:
            self.crisis_peak = max(self.crisis_peak, score)
        # An unconfirmed spike bucket is learned slowly too, or it would raise the baseline and hide
        # the very bucket that should confirm it.
        candidate = score >= self.tuning.effective_threshold
        self._learn(bucket, residual, var, hour, day, elevated=action is not Action.QUIET or candidate)
        self.previous_score = score
        self.seen += 1
        self.last_at = at
        return Decision(action=action, score=score, expected=expected, severity=self.crisis)

    def _tail_update(self, z: float, at: datetime) -> None:
        """Track the z exceeded once per `tail_every` by stochastic gradient on the pinball loss, in log space."""
        tau = 1.0 - min(self.step / self.tuning.tail_every, 0.5)
        rate = min(_TAIL_RATE * (self.step / timedelta(minutes=5)), 0.2)
        if at - self.first_at < _TAIL_FAST:
            rate *= 5.0
        self.tail = max(self.tail * math.exp(rate * (tau if z > self.tail else tau - 1.0)), 1.0)

    def _spiking(self, score: float, threshold: float) -> bool:
        """Return True for a clear spike, or a borderline one that the previous bucket confirms."""
        if score >= threshold * self.tuning.confirm_below:
            return True
        # The bucket before was already elevated (not quiet): the spike lasts, it is not a blip.
        return score >= threshold and self.previous_score >= threshold * self.tuning.quiet_fraction

    def _decide(self, at: datetime, score: float, severity: Severity | None) -> Action:
        """Apply the threshold, minimum count, cooldown and open-crisis join rules."""
        threshold = self.tuning.effective_threshold
        if self.crisis is not None:
            if score >= threshold * self.tuning.quiet_fraction:
                self.quiet_since = None
                if score >= threshold and severity is not None and severity > self.crisis:
                    self.crisis = severity
                    return Action.ESCALATE
                return Action.CONTINUE
            if self.quiet_since is None:
                self.quiet_since = at
            return Action.CONTINUE  # a lull inside an open crisis still belongs to it
        if not self._spiking(score, threshold) or severity is None:
            return Action.QUIET
        if sum(self.recent) < self.tuning.min_count:
            return Action.QUIET
        if self.closed_at is not None and at - self.closed_at < self.tuning.cooldown:
            return Action.QUIET
        self.crisis, self.quiet_since, self.crisis_peak = severity, None, 0.0
        return Action.OPEN

    def _severity(self, bucket: Bucket, score: float, expected: float) -> Severity:
        """Grade from how far negative volume is above baseline, plus negative share and reach rises."""
        threshold = self.tuning.effective_threshold
        points = 0
        # Volume: the score is scale-free; the ratio keeps a 10x jump on a quiet brand from staying SEV3.
        ratio = (bucket.negative + _COUNT_OFFSET) / (expected + _COUNT_OFFSET)
        if score >= 1.5 * threshold or ratio >= 10:
            points += 1
        if score >= 2.5 * threshold and ratio >= 10:
            points += 1
        # Share and reach count only as a rise over this topic's own baseline, so a volume-only feed
        # (negative == total == reach) neither gains nor loses severity from them.
        if bucket.total > 0 and bucket.negative / bucket.total - self.share >= 0.2:
            points += 1
        if bucket.negative > 0 and bucket.reach / bucket.negative >= 2.0 * self.reach_per_mention:
            points += 1
        return Severity(min(Severity.SEV1, Severity.SEV3 + points))

    def _learn(self, bucket: Bucket, residual: float, var: float, hour: int, day: int, *, elevated: bool) -> None:
        """Update level, seasonal offsets and scale with winsorised residuals, so spikes barely move them."""
        sd = math.sqrt(var)
        clipped = max(-_CLIP * sd, min(_CLIP * sd, residual))
        # Inside a crisis learn slowly: a long spike must not become tomorrow's baseline, yet a
        # lasting shift in volume is still absorbed within days.
        if elevated:
            clipped *= _CRISIS_LEARNING
        # Faster learning while young, so the first day's level is not stuck at the first bucket.
        a_level = max(self._a_level, 1.0 / (self.seen + 2))
        a_scale = max(self._a_scale, 1.0 / (self.seen + 2))
        self.level += a_level * clipped
        season_step = self.tuning.season_rate * clipped
        self.tod[hour] += season_step
        self.dow[day] += season_step / 4  # day-of-week effects are smaller and partly absorbed by the level
        expected = max(math.exp(self.level + self.tod[hour] + self.dow[day]) - _COUNT_OFFSET, 0.0)
        excess = clipped * clipped - _poisson_var(expected)
        if not elevated:
            self.excess_var += a_scale * (excess - self.excess_var)
        self.excess_var = max(self.excess_var, _MIN_EXCESS_SD**2)
        if not elevated:
            a_slow = self._a_scale
            if bucket.total > 0:
                self.share += a_slow * (bucket.negative / bucket.total - self.share)
            if bucket.negative > 0:
                self.reach_per_mention += a_slow * (bucket.reach / bucket.negative - self.reach_per_mention)

    def to_dict(self) -> dict:
        """Return the state as plain JSON-able data (the tuning is stored separately, per team)."""
        iso = lambda value: None if value is None else value.isoformat()  # noqa: E731
        return {
            "version": 2,
            "step_seconds": self.step.total_seconds(),
            "level": self.level,
            "tod": list(self.tod),
            "dow": list(self.dow),
            "excess_var": self.excess_var,
            "tail": self.tail,
            "share": self.share,
            "reach_per_mention": self.reach_per_mention,
            "seen": self.seen,
            "first_at": iso(self.first_at),
            "last_at": iso(self.last_at),
            "recent": list(self.recent),
            "crisis": None if self.crisis is None else self.crisis.name,
            "quiet_since": iso(self.quiet_since),
            "closed_at": iso(self.closed_at),
            "previous_score": self.previous_score,
            "crisis_peak": self.crisis_peak,
        }

    @classmethod
    def from_dict(cls, data: dict, tuning: Tuning) -> SpikeDetector:
        """Rebuild a detector from to_dict() output and the team's current tuning."""
        when = lambda text: None if text is None else datetime.fromisoformat(text)  # noqa: E731
        detector = cls(
            tuning=tuning,
            step=timedelta(seconds=data["step_seconds"]),
            level=data["level"],
            tod=list(data["tod"]),
            dow=list(data["dow"]),
            excess_var=data["excess_var"],
            tail=data["tail"],
            share=data["share"],
            reach_per_mention=data["reach_per_mention"],
            seen=data["seen"],
            first_at=when(data["first_at"]),
            last_at=when(data["last_at"]),
            recent=deque(data["recent"]),
            crisis=None if data["crisis"] is None else Severity[data["crisis"]],
            quiet_since=when(data["quiet_since"]),
            closed_at=when(data["closed_at"]),
            previous_score=data.get("previous_score", 0.0),  # absent in version 1 states
            crisis_peak=data.get("crisis_peak", 0.0),  # absent before labels taught
        )
        return detector

    def retune(self, tuning: Tuning) -> SpikeDetector:
        """Return a copy using new team knobs (e.g. a campaign started) with the learned baseline kept."""
        return replace(self, tuning=tuning, tod=list(self.tod), dow=list(self.dow), recent=deque(self.recent))
