"""VADER's polarity scores, the same numbers as vaderSentiment's `polarity_scores`, computed in fewer Python steps.

vaderSentiment lower-cases every word again for every rule it checks and rebuilds lists per lexicon word; this
module lower-cases once, skips the emoji pass for text without emoji and runs the rules only on lexicon words.
Its lexicon, emoji table and rule constants are vaderSentiment's own (MIT); tests compare every score to it.
"""

from __future__ import annotations

import math
import string
from functools import cache
from typing import Any, NamedTuple

_PUNCTUATION = string.punctuation
_SO_THIS = ("so", "this")


class Polarity(NamedTuple):
    """VADER's four numbers, rounded as vaderSentiment rounds them."""

    compound: float
    pos: float
    neg: float
    neu: float


@cache
def reference_analyser() -> Any:
    """vaderSentiment's own analyser, loaded once per process (its lexicon and emoji tables are shared)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class VaderScorer:
    """Score text with VADER's lexicon and rules; `polarity(text)` equals vaderSentiment's `polarity_scores(text)`."""

    def __init__(self) -> None:
        from vaderSentiment import vaderSentiment as rules

        reference = reference_analyser()
        self.lexicon: dict[str, float] = reference.lexicon
        # Only single characters are ever replaced: vaderSentiment's emoji pass walks the text one character at a time.
        self._emoji_descriptions: dict[str, str] = {k: v for k, v in reference.emojis.items() if len(k) == 1}
        self._emoji_characters = frozenset(self._emoji_descriptions)
        self._boosters: dict[str, float] = rules.BOOSTER_DICT
        self._negations = frozenset(rules.NEGATE)
        self._special_cases: dict[str, float] = rules.SPECIAL_CASES
        self._n_scalar: float = rules.N_SCALAR
        self._c_incr: float = rules.C_INCR

    def polarity(self, text: str) -> Polarity:
        """Return compound, pos, neg and neu for `text`, exactly as vaderSentiment computes them."""
        if not text.isascii() and not self._emoji_characters.isdisjoint(text):
            text = self._describe_emoji(text)
        text = text.strip()
        words = [w if len(s := w.strip(_PUNCTUATION)) <= 2 else s for w in text.split()]
        if not words:
            return Polarity(0.0, 0.0, 0.0, 0.0)
        lowered = [w.lower() for w in words]
        lexicon = self.lexicon
        sentiments: list[float] = [0] * len(words)  # vaderSentiment appends int 0 for words that carry nothing
        if not lexicon.keys().isdisjoint(lowered):
            upper_count = sum(map(str.isupper, words))
            is_cap_diff = 0 < len(words) - upper_count < len(words)
            boosters = self._boosters
            last = len(words) - 1
            for i, low in enumerate(lowered):
                if low not in lexicon or low in boosters or (low == "kind" and i < last and lowered[i + 1] == "of"):
                    continue
                sentiments[i] = self._valence(i, words, lowered, is_cap_diff)
            if "but" in lowered:
                _but_check(lowered.index("but"), sentiments)
        return _score_valence(sentiments, text)

    def _describe_emoji(self, text: str) -> str:
        # vaderSentiment's loop, kept as it is: a space before a description unless one precedes it, none after.
        descriptions = self._emoji_descriptions
        parts: list[str] = []
        prev_space = True
        for character in text:
            description = descriptions.get(character)
            if description is not None:
                if not prev_space:
                    parts.append(" ")
                parts.append(description)
                prev_space = False
            else:
                parts.append(character)
                prev_space = character == " "
        return "".join(parts)

    def _valence(self, i: int, words: list[str], lowered: list[str], is_cap_diff: bool) -> float:
        """vaderSentiment's sentiment_valence for the lexicon word at `i` (with its least and idiom checks)."""
        lexicon, n_scalar = self.lexicon, self._n_scalar
        low = lowered[i]
        valence = lexicon[low]
        if low == "no" and i != len(words) - 1 and lowered[i + 1] in lexicon:
            valence = 0.0
        if (i > 0 and lowered[i - 1] == "no") or (i > 1 and lowered[i - 2] == "no") or (
                i > 2 and lowered[i - 3] == "no" and lowered[i - 1] in ("or", "nor")):
            valence = lexicon[low] * n_scalar
        if is_cap_diff and words[i].isupper():
            valence = valence + self._c_incr if valence > 0 else valence - self._c_incr
        for start_i in range(3):
            if i <= start_i:
                break
            before = lowered[i - (start_i + 1)]
            if before in lexicon:
                continue
            scalar = 0.0
            if before in self._boosters:  # vaderSentiment's scalar_inc_dec
                scalar = self._boosters[before]
                if valence < 0:
                    scalar *= -1
                if is_cap_diff and words[i - (start_i + 1)].isupper():
                    scalar = scalar + self._c_incr if valence > 0 else scalar - self._c_incr
            if start_i == 1 and scalar != 0:
                scalar = scalar * 0.95
            if start_i == 2 and scalar != 0:
                scalar = scalar * 0.9
            valence = valence + scalar
            valence = self._negation_check(valence, lowered, start_i, i)
            if start_i == 2:
                valence = self._special_idioms_check(valence, lowered, i)
        # _least_check: "least" is not in the lexicon, so only the words before it decide.
        if i > 1 and lowered[i - 1] == "least" and "least" not in lexicon:
            if lowered[i - 2] != "at" and lowered[i - 2] != "very":
                valence = valence * n_scalar
        elif i > 0 and lowered[i - 1] == "least" and "least" not in lexicon:
            valence = valence * n_scalar
        return valence

    def _negated(self, word: str) -> bool:
        return word in self._negations or "n't" in word

    def _negation_check(self, valence: float, lowered: list[str], start_i: int, i: int) -> float:
        if start_i == 0:
            if self._negated(lowered[i - 1]):
                valence = valence * self._n_scalar
        elif start_i == 1:
            if lowered[i - 2] == "never" and lowered[i - 1] in _SO_THIS:
                valence = valence * 1.25
            elif lowered[i - 2] == "without" and lowered[i - 1] == "doubt":
                pass
            elif self._negated(lowered[i - 2]):
                valence = valence * self._n_scalar
        else:
            if (lowered[i - 3] == "never" and lowered[i - 2] in _SO_THIS) or lowered[i - 1] in _SO_THIS:
                valence = valence * 1.25
            elif lowered[i - 3] == "without" and (lowered[i - 2] == "doubt" or lowered[i - 1] == "doubt"):
                pass
            elif self._negated(lowered[i - 3]):
                valence = valence * self._n_scalar
        return valence

    def _special_idioms_check(self, valence: float, lowered: list[str], i: int) -> float:
        special, boosters = self._special_cases, self._boosters
        one_zero = f"{lowered[i - 1]} {lowered[i]}"
        two_one_zero = f"{lowered[i - 2]} {one_zero}"
        two_one = f"{lowered[i - 2]} {lowered[i - 1]}"
        three_two_one = f"{lowered[i - 3]} {two_one}"
        three_two = f"{lowered[i - 3]} {lowered[i - 2]}"
        for sequence in (one_zero, two_one_zero, two_one, three_two_one, three_two):
            if sequence in special:
                valence = special[sequence]
                break
        if len(lowered) - 1 > i:
            zero_one = f"{lowered[i]} {lowered[i + 1]}"
            if zero_one in special:
                valence = special[zero_one]
            if len(lowered) - 1 > i + 1:
                zero_one_two = f"{zero_one} {lowered[i + 2]}"
                if zero_one_two in special:
                    valence = special[zero_one_two]
        for n_gram in (three_two_one, three_two, two_one):
            if n_gram in boosters:
                valence = valence + boosters[n_gram]
        return valence


def _but_check(but_index: int, sentiments: list[float]) -> None:
    # vaderSentiment finds each value's *first* position with list.index while it rewrites the list;
    # repeated values therefore scale the same slot again. Kept as it is so the numbers stay identical.
    for k in range(len(sentiments)):
        value = sentiments[k]
        first = sentiments.index(value)
        if first < but_index:
            sentiments[first] = value * 0.5
        elif first > but_index:
            sentiments[first] = value * 1.5


def _score_valence(sentiments: list[float], text: str) -> Polarity:
    # Zeros add nothing to any sum below, only to the neutral count; most words of a tweet are zeros.
    neu_count = len(sentiments)
    sentiments = [value for value in sentiments if value]
    neu_count -= len(sentiments)
    sum_s = float(sum(sentiments))
    exclamations = min(text.count("!"), 4) * 0.292
    questions = text.count("?")
    emphasis = exclamations + ((questions * 0.18 if questions <= 3 else 0.96) if questions > 1 else 0)
    if sum_s > 0:
        sum_s += emphasis
    elif sum_s < 0:
        sum_s -= emphasis
    compound = max(-1.0, min(1.0, sum_s / math.sqrt(sum_s * sum_s + 15)))
    pos_sum = neg_sum = 0.0
    for value in sentiments:
        if value > 0:
            pos_sum += float(value) + 1
        else:
            neg_sum += float(value) - 1
    if pos_sum > math.fabs(neg_sum):
        pos_sum += emphasis
    elif pos_sum < math.fabs(neg_sum):
        neg_sum -= emphasis
    total = pos_sum + math.fabs(neg_sum) + neu_count
    return Polarity(round(compound, 4), round(math.fabs(pos_sum / total), 3), round(math.fabs(neg_sum / total), 3),
                    round(math.fabs(neu_count / total), 3))
