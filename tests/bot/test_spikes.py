"""Behaviour of the streaming spike detector in bot/spikes.py (pure: no Slack, no database)."""

import ast
import json
import math
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import spikes
from bot.errors import UsageError
from bot.spikes import Action, Bucket, Severity, SpikeDetector, Tuning

STEP = timedelta(minutes=5)
START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
PER_DAY = 288


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count (Knuth for small means, a rounded normal for large ones)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k, product = k + 1, product * rng.random()
    return k


def seasonal(days: int, base: float, *, seed: int = 1) -> list[float]:
    """Return 5-minute Poisson counts with a daily cycle and mild overdispersion."""
    rng = random.Random(seed)
    out = []
    for i in range(days * PER_DAY):
        hour = (i % PER_DAY) / 12
        mean = base * (1.0 + 0.6 * math.sin(2 * math.pi * (hour - 6) / 24))
        out.append(float(poisson(rng, mean * math.exp(rng.gauss(0, 0.1)))))
    return out


def smooth_seasonal(days: int, base: float, *, seed: int = 1) -> list[float]:
    """Return counts with a daily cycle and multiplicative noise only, so scaling keeps the exact shape."""
    rng = random.Random(seed)
    out = []
    for i in range(days * PER_DAY):
        hour = (i % PER_DAY) / 12
        mean = base * (1.0 + 0.6 * math.sin(2 * math.pi * (hour - 6) / 24))
        out.append(mean * math.exp(rng.gauss(0, 0.15)))
    return out


def with_spike(counts: list[float], at: int, length: int, factor: float) -> list[float]:
    """Return a copy with `length` buckets from `at` multiplied by `factor`."""
    out = list(counts)
    for i in range(at, at + length):
        out[i] = round(out[i] * factor)
    return out


def run(counts, tuning: Tuning = Tuning(), detector: SpikeDetector | None = None, start: int = 0):
    """Feed volume-only buckets (negative = total = reach) and return the detector and its decisions."""
    detector = detector or SpikeDetector(tuning=tuning, step=STEP)
    decisions = []
    for i, value in enumerate(counts, start=start):
        decisions.append(detector.observe(Bucket(at=START + i * STEP, total=value, negative=value, reach=value)))
    return detector, decisions


def opens(decisions) -> list[int]:
    """Return the indexes of buckets that opened a crisis."""
    return [i for i, decision in enumerate(decisions) if decision.action is Action.OPEN]


def test_quiet_seasonal_series_never_alerts():
    """Two weeks of ordinary seasonal volume page nobody."""
    _, decisions = run(seasonal(14, 40))
    assert not any(decision.pages for decision in decisions)


@settings(max_examples=25, deadline=None)
@given(level=st.integers(min_value=0, max_value=100_000), minutes=st.sampled_from([1, 5, 15, 60]))
def test_flat_series_never_alerts_at_any_level_or_bucket_size(level, minutes):
    """A constant count never pages, whatever its level and bucket size."""
    step = timedelta(minutes=minutes)
    detector = SpikeDetector(tuning=Tuning(), step=step)
    for i in range(int(timedelta(days=3) / step)):
        decision = detector.observe(Bucket(at=START + i * step, total=level, negative=level, reach=level))
        assert decision.action is Action.QUIET


def test_clear_spike_opens_exactly_one_crisis_and_later_spike_buckets_join_it():
    """A 10x spike opens one crisis at its first bucket; the rest of the spike continues or escalates it."""
    at = 10 * PER_DAY + 150
    _, decisions = run(with_spike(seasonal(11, 40), at, 12, 10))
    assert opens(decisions) == [at]
    assert all(d.action in (Action.CONTINUE, Action.ESCALATE) for d in decisions[at + 1 : at + 12])
    assert decisions[at].severity is not None


def test_daily_peak_the_baseline_has_learned_does_not_alert():
    """A strong but regular daily peak is baseline, not a crisis."""
    counts = seasonal(10, 30)
    for day in range(10):  # every day at 18:00 the volume triples for an hour
        for i in range(day * PER_DAY + 216, day * PER_DAY + 228):
            counts[i] *= 3
    _, decisions = run(counts)
    assert not any(d.pages for d in decisions[3 * PER_DAY :])


def test_minimum_count_keeps_a_tiny_brand_from_being_paged_for_a_handful_of_mentions():
    """A burst that is wildly unusual for a near-silent topic still needs the minimum count to page."""
    counts = [1.0 if i % 40 == 0 else 0.0 for i in range(6 * PER_DAY)]
    spike_at = 5 * PER_DAY + 100
    counts[spike_at] = counts[spike_at + 1] = 15  # two buckets: a borderline spike pages once a second bucket confirms it
    _, decisions = run(counts, Tuning(min_count=40))
    assert not any(d.pages for d in decisions)
    _, decisions = run(counts, Tuning(min_count=10))
    assert opens(decisions) == [spike_at + 1]


def test_cooldown_blocks_a_new_crisis_soon_after_one_closed():
    """After a crisis closes, a spike inside the cooldown is quiet and one after it opens a new crisis."""
    base = seasonal(12, 40)
    first, second, third = 10 * PER_DAY, 10 * PER_DAY + 24, 11 * PER_DAY
    counts = with_spike(with_spike(with_spike(base, first, 3, 10), second, 3, 10), third, 3, 10)
    detector, decisions = run(counts[: first + 3], Tuning(cooldown=timedelta(hours=4)))
    assert opens(decisions) == [first]
    detector.close_crisis(START + (first + 3) * STEP)
    _, later = run(counts[first + 3 :], detector=detector, start=first + 3)
    assert [first + 3 + i for i in opens(later)] == [third]


def test_open_crisis_absorbs_a_new_spike_until_the_caller_closes_it():
    """While a crisis is open a second spike joins it; the detector never opens two at once."""
    base = seasonal(12, 40)
    counts = with_spike(with_spike(base, 10 * PER_DAY, 3, 10), 11 * PER_DAY, 3, 10)
    detector, decisions = run(counts)
    assert opens(decisions) == [10 * PER_DAY]
    assert detector.crisis_open


def test_severity_grows_with_spike_size_and_with_negative_share_and_reach():
    """SEV1 outranks SEV3; a bigger spike, a higher negative share or more reach is never less severe."""
    assert Severity.SEV1 > Severity.SEV2 > Severity.SEV3
    warm, _ = run(seasonal(10, 40))
    state = warm.to_dict()
    at = START + 10 * PER_DAY * STEP

    def severity(total, negative, reach):
        detector = SpikeDetector.from_dict(state, Tuning())
        decision = detector.observe(Bucket(at=at, total=total, negative=negative, reach=reach))
        assert decision.action is Action.OPEN
        return decision.severity

    small, big = severity(160, 160, 160), severity(4000, 4000, 4000)
    assert small < big == Severity.SEV1
    # Share and reach only count as rises over this topic's baseline (1.0 for a volume-only feed).
    mixed_state = dict(state, share=0.3, reach_per_mention=1.0)
    state = mixed_state
    plain = severity(1000, 250, 250)
    assert severity(300, 250, 250) > plain  # same negatives, far higher negative share
    assert severity(1000, 250, 2500) > plain  # same negatives, 10x reach per mention


def test_an_earlier_spike_does_not_mask_a_later_spike_of_the_same_size():
    """Two equal spikes days apart both open a crisis once the first has been resolved."""
    first, second = 8 * PER_DAY + 100, 11 * PER_DAY + 100
    counts = with_spike(with_spike(seasonal(12, 40), first, 12, 8), second, 12, 8)
    detector, decisions = run(counts[: first + 60])
    detector.close_crisis(START + (first + 60) * STEP)
    _, later = run(counts[first + 60 :], detector=detector, start=first + 60)
    assert opens(decisions) == [first]
    assert [first + 60 + i for i in opens(later)] == [second]


def test_a_spike_does_not_poison_the_baseline():
    """The expected count a day after a long spike stays within 10% of what it would have been."""
    base = seasonal(12, 40)
    spiked = with_spike(base, 8 * PER_DAY, 36, 20)
    _, clean = run(base)
    _, dirty = run(spiked)
    probe = 9 * PER_DAY + 50
    assert dirty[probe].expected == pytest.approx(clean[probe].expected, rel=0.10)


@pytest.mark.parametrize("scale", [10.0, 0.1])
def test_the_same_shape_at_ten_times_or_a_tenth_the_volume_alerts_at_the_same_bucket(scale):
    """Scores are scale-free: the alert lands on the same bucket at 10x and 0.1x the volume."""
    at = 10 * PER_DAY + 140
    shape = with_spike(smooth_seasonal(12, 100, seed=7), at, 6, 8)
    _, reference = run([round(value) for value in shape])
    _, scaled = run([round(value * scale) for value in shape])
    assert opens(reference) == [at]
    assert opens(scaled) == opens(reference)


def test_no_alert_during_warm_up_even_for_a_huge_spike():
    """A new topic learns for `warmup` before it may page."""
    counts = with_spike(seasonal(2, 40), 100, 6, 50)
    _, decisions = run(counts, Tuning(warmup=timedelta(days=1)))
    assert not any(d.pages for d in decisions[: PER_DAY])


def test_campaign_mode_is_more_sensitive():
    """Campaign windows lower the threshold, so a moderate spike pages only in campaign mode."""
    tuning = Tuning()
    assert spikes.team_tuning(campaign=True).effective_threshold < tuning.effective_threshold
    warm, _ = run(seasonal(10, 40))
    state = warm.to_dict()
    at = START + 10 * PER_DAY * STEP
    expected = SpikeDetector.from_dict(state, tuning).observe(Bucket(at=at, total=0, negative=0, reach=0)).expected
    # Find a count that pages in campaign mode but not normally: proves the knob changes decisions.
    found = False
    for count in range(int(expected) + 1, int(expected * 20)):
        normal = SpikeDetector.from_dict(state, tuning).observe(Bucket(at=at, total=count, negative=count, reach=count))
        campaign = SpikeDetector.from_dict(state, Tuning(campaign=True)).observe(
            Bucket(at=at, total=count, negative=count, reach=count)
        )
        assert not (normal.pages and not campaign.pages)
        found |= campaign.pages and not normal.pages
    assert found


def test_state_round_trips_through_json_and_continues_identically():
    """A detector rebuilt from to_dict() makes the same decisions as the original."""
    counts = with_spike(seasonal(12, 40), 11 * PER_DAY, 6, 10)
    original, _ = run(counts[: 11 * PER_DAY - 5])
    copy = SpikeDetector.from_dict(json.loads(json.dumps(original.to_dict())), Tuning())
    _, a = run(counts[11 * PER_DAY - 5 :], detector=original, start=11 * PER_DAY - 5)
    _, b = run(counts[11 * PER_DAY - 5 :], detector=copy, start=11 * PER_DAY - 5)
    assert a == b
    assert any(d.pages for d in a)


def test_state_stays_small_however_long_the_history():
    """The serialised state does not grow with the number of buckets seen."""
    one_day, _ = run(seasonal(1, 40))
    ten_days, _ = run(seasonal(10, 40))
    small, large = one_day.to_dict(), ten_days.to_dict()
    assert small.keys() == large.keys()
    assert all(len(small[key]) == len(large[key]) for key in small if isinstance(small[key], list))
    assert len(json.dumps(large)) < 2000


@pytest.mark.parametrize(("text", "threshold"), [("fewer", 1.25), ("balanced", 1.0), ("More", 0.8), ("1.4", 1.4)])
def test_sensitivity_accepts_presets_and_numbers(text, threshold):
    """Sensitivity is a preset name or a positive threshold."""
    assert spikes.parse_sensitivity(text) == threshold


@pytest.mark.parametrize("text", ["loud", "-1", "0", "nan"])
def test_bad_sensitivity_is_a_usage_error(text):
    """Unknown or non-positive sensitivities are rejected with usage text."""
    with pytest.raises(UsageError):
        spikes.parse_sensitivity(text)


def test_buckets_must_be_aware_and_in_time_order():
    """Naive times and out-of-order buckets are programming errors, not silent corruption."""
    detector = SpikeDetector(tuning=Tuning(), step=STEP)
    with pytest.raises(ValueError, match="aware"):
        detector.observe(Bucket(at=datetime(2024, 1, 1), total=1, negative=1, reach=1))
    detector.observe(Bucket(at=START, total=1, negative=1, reach=1))
    with pytest.raises(ValueError, match="time order"):
        detector.observe(Bucket(at=START, total=1, negative=1, reach=1))


def test_spikes_module_imports_only_the_standard_library_and_bot_errors():
    """The detector stays pure: no Slack, database or scheduler imports."""
    tree = ast.parse(Path(spikes.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert names - {"bot"} <= sys.stdlib_module_names


def _warm_state() -> tuple[dict, datetime]:
    """Return a detector state after ten ordinary days, and the instant of the next bucket."""
    warm, _ = run(seasonal(10, 40))
    return warm.to_dict() | {"previous_score": 0.0}, START + 10 * PER_DAY * STEP  # the bucket before was ordinary


def _volume(count: float, at: datetime) -> Bucket:
    return Bucket(at=at, total=count, negative=count, reach=count)


def _first_count_scoring(state: dict, at: datetime, low: float, high: float) -> int:
    """Return the smallest count whose score on the warm detector lies in [low, high)."""
    for count in range(1, 5000):
        if low <= SpikeDetector.from_dict(state, Tuning()).observe(_volume(count, at)).score < high:
            return count
    raise AssertionError(f"no count scores in [{low}, {high})")


def test_a_borderline_one_bucket_blip_does_not_page():
    """A bucket just over the threshold, back to normal in the next, pages nobody: most false alarms were such blips."""
    state, at = _warm_state()
    borderline = _first_count_scoring(state, at, 1.05, 1.4)
    detector = SpikeDetector.from_dict(state, Tuning())
    blip = detector.observe(_volume(borderline, at))
    after = detector.observe(_volume(round(blip.expected), at + STEP))
    assert blip.action is Action.QUIET and after.action is Action.QUIET


def test_a_borderline_spike_that_lasts_a_second_bucket_pages_on_that_bucket():
    """The same borderline count twice in a row opens a crisis one bucket later."""
    state, at = _warm_state()
    borderline = _first_count_scoring(state, at, 1.05, 1.4)
    detector = SpikeDetector.from_dict(state, Tuning())
    first = detector.observe(_volume(borderline, at))
    second = detector.observe(_volume(borderline, at + STEP))
    assert (first.action, second.action) == (Action.QUIET, Action.OPEN)


def test_a_clear_spike_pages_on_its_first_bucket_without_confirmation():
    """A score of 1.5x the threshold or more pages at once."""
    state, at = _warm_state()
    clear = _first_count_scoring(state, at, 1.5, 100.0)
    assert SpikeDetector.from_dict(state, Tuning()).observe(_volume(clear, at)).action is Action.OPEN


def test_confirmation_can_be_turned_off():
    """With confirm_below=1.0 a borderline bucket pages at once (the benchmark's leave-one-out grid compares both)."""
    state, at = _warm_state()
    borderline = _first_count_scoring(state, at, 1.05, 1.4)
    assert SpikeDetector.from_dict(state, Tuning(confirm_below=1.0)).observe(_volume(borderline, at)).action is Action.OPEN


def test_an_unconfirmed_blip_is_learned_slowly():
    """A borderline bucket that never confirms barely moves the baseline, so it cannot hide the bucket after it."""
    state, at = _warm_state()
    borderline = _first_count_scoring(state, at, 1.05, 1.4)
    clean = SpikeDetector.from_dict(state, Tuning())
    ordinary = clean.observe(_volume(0, at)).expected
    clean = SpikeDetector.from_dict(state, Tuning())
    clean.observe(_volume(round(ordinary), at))
    blipped = SpikeDetector.from_dict(state, Tuning())
    blipped.observe(_volume(borderline, at))
    probe = at + STEP
    expected_clean = clean.observe(_volume(0, probe)).expected
    expected_blipped = blipped.observe(_volume(0, probe)).expected
    # Fully learned, the clipped residual would move the hour's offset by ~0.15 in log units (~16%).
    assert expected_blipped == pytest.approx(expected_clean, rel=0.05)


def test_a_version_1_state_without_the_previous_score_still_loads():
    """States stored before the two-bucket confirmation load with a quiet previous bucket."""
    state, at = _warm_state()
    old = {key: value for key, value in state.items() if key != "previous_score"} | {"version": 1}
    assert SpikeDetector.from_dict(old, Tuning()).previous_score == 0.0


def test_new_topic_pages_a_clear_spike_within_its_first_hours():
    """With the shipped defaults a brand-new topic is covered from hour 3: a 10x surge at hour 5 pages."""
    counts = with_spike(seasonal(2, 40), 5 * 12, 6, 10)
    _, decisions = run(counts)
    assert opens(decisions) and opens(decisions)[0] in range(5 * 12, 5 * 12 + 6)


def test_new_topic_first_day_of_ordinary_volume_pages_nobody():
    """The first day's unlearned daily cycle does not page, despite the 3-hour warm-up (the youth margin)."""
    for seed in range(1, 6):
        _, decisions = run(seasonal(1, 40, seed=seed))
        assert not any(d.pages for d in decisions), seed


# --- a new topic's workspace prior ------------------------------------------------------------------------


def test_a_prior_is_the_median_of_settled_peers_and_ignores_young_ones():
    """Three settled peers give medians of noise, tail and daily shape; a peer younger than a day is left out."""
    from bot.spikes import Prior

    settled = [run(seasonal(3, base, seed=seed))[0].to_dict() for base, seed in ((10, 1), (40, 2), (90, 3))]
    young = run(seasonal(1, 40)[:100])[0].to_dict()
    prior = Prior.from_states([*settled, young])
    assert prior is not None and prior.peers == 3
    assert prior.excess_var == sorted(s["excess_var"] for s in settled)[1]
    assert prior.tod[12] == sorted(s["tod"][12] for s in settled)[1]
    assert Prior.from_states([young]) is None and Prior.from_states([]) is None


def test_a_new_topic_with_a_prior_knows_the_daily_rise_and_never_starts_deafer_than_cold():
    """Started at the quiet hour, a detector from its peers' shape expects the morning rise (its baseline follows the
    counts more closely on the first day than the cold start's); the prior's tail never exceeds the cold start's."""
    from bot.spikes import Prior

    peers = [run(seasonal(7, 40, seed=seed))[0].to_dict() for seed in (2, 3, 4)]
    prior = Prior.from_states(peers)
    counts = seasonal(1, 40, seed=9)  # START is midnight: the trough of the cycle
    _, cold = run(counts)
    _, informed = run(counts, detector=SpikeDetector.new(Tuning(), STEP, prior))

    def miss(decisions):
        return sum(abs(math.log(d.expected + 1) - math.log(c + 1)) for d, c in zip(decisions[36:180], counts[36:180]))

    assert miss(informed) < 0.8 * miss(cold)
    assert SpikeDetector.new(Tuning(), STEP, replace(prior, tail=50.0)).tail == SpikeDetector(tuning=Tuning(), step=STEP).tail
    assert SpikeDetector.new(Tuning(), STEP, None) == SpikeDetector(tuning=Tuning(), step=STEP)
