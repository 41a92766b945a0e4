"""bot.vader_scores gives exactly vaderSentiment's numbers: its rules on every tricky shape, and on real tweets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.vader_scores import VaderScorer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"
REFERENCE = SentimentIntensityAnalyzer()
SCORER = VaderScorer()

# Words that trigger each of VADER's rules: boosters, negations, "but", "least", "kind of", idioms, caps, emoji.
TRICKY = [
    "good", "GOOD", "bad", "BAD", "love", "hate", "great", "terrible", "not", "isn't", "never", "no", "nor", "or",
    "without", "doubt", "so", "this", "very", "VERY", "kind", "of", "kinda", "sort", "least", "at", "but", "BUT",
    "the", "shit", "bomb", "yeah", "right", "to", "die", "for", "just", "enough", "cut", "mustard", "bad", "ass",
    "kiss", "death", "ok", ":)", ":(", ":D", "lol", "!!!", "??", "?", "!", "😍", "😡", "💔", "acme", "support",
    "sucks", "SUX", "hardly", "extremely", "barely", "uber", "friggin", "fucking", "nope", "despite", "rarely",
]


def reference(text: str) -> tuple[float, float, float, float]:
    scores = REFERENCE.polarity_scores(text)
    return scores["compound"], scores["pos"], scores["neg"], scores["neu"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TRICKY), max_size=14), st.sampled_from(["", " ", "  ", ", ", "!"]))
def test_scores_equal_vader_on_any_mix_of_rule_words(words: list[str], separator: str) -> None:
    """Every rule (negation windows, boosters, caps, but, least, idioms, punctuation, emoji) gives VADER's numbers."""
    text = (separator or " ").join(words)
    assert tuple(SCORER.polarity(text)) == reference(text)


@pytest.mark.parametrize("text", [
    "", "   ", "!!!", "😍", "😍😍 love it", "hello😡world", "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "At least it isn't a horrible book.", "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "good good but bad bad good", "Today only kinda sux! But I'll get by, lol", "no no no good", "never so good",
    "without doubt great", "the shit", "kiss of death for acme", "Make sure you :) or :D today!", "a" * 300,
])
def test_scores_equal_vader_on_documented_examples(text: str) -> None:
    """VADER's own examples and edge cases score the same."""
    assert tuple(SCORER.polarity(text)) == reference(text)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} absent: needs ../shared")
def test_scores_equal_vader_on_real_tweets() -> None:
    """Every SemEval-2017 test tweet (12,284, many languages of emoji and punctuation) scores the same."""
    texts = (SHARED / "tweeteval_semeval2017_sentiment" / "test_text.txt").read_text(encoding="utf-8").split("\n")
    different = [text for text in texts if tuple(SCORER.polarity(text)) != reference(text)]
    assert different == []
