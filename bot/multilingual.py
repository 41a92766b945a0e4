"""Sentiment of tweets in eight languages: one pooled linear model over hashed word and character n-grams, trained on
the UMSAB splits of en, de, fr, es, it, pt, ar and hi together (bench/train_multilingual.py) and shipped as package
data, so nothing is fetched.

Every hashed feature is read twice: once shared by all languages (character n-grams carry across spelling, inflection
and related languages, which helps the smaller ones) and once tied to the text's language, so a word can mean one
thing in Italian and another in Spanish. A few dense features (VADER's numbers, emoji polarity, ! and ?) sit beside
them; the caller computes those (bot/sentiment.py). Text whose language is unknown is read with the shared features
only. A language the model was not trained on is never scored by it (`SCORED_LANGUAGES`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

WEIGHTS_FILE = "multilingual_weights.npz"
HASH_BUCKETS = 1 << 20
CHAR_NGRAMS = (2, 5)
LABELS = ("negative", "neutral", "positive")
# ISO 639-1 codes of the languages whose tweets trained the model; position + 1 is the language's index
# (0 = language unknown: shared features only).
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ar", "hi")
SCORED_LANGUAGES = frozenset(LANGUAGES)
DENSE_FEATURES = ("vader_compound", "vader_pos", "vader_neg", "vader_compound_sq", "emoji_mean", "has_emoji",
                  "has_exclamation", "has_question")
_LANGUAGE_SALT = 2654435761  # Knuth's multiplicative hash: moves a feature to its language's own bucket

_HANDLES_AND_LINKS = re.compile(r"https?://\S+|@\w+")
_TOKENS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def features(text: str) -> np.ndarray:
    """Distinct hashed features of a text: words, word pairs and character 2-5-grams across word boundaries."""
    tokens = _TOKENS.findall(_HANDLES_AND_LINKS.sub(" ", text.lower()))
    # "surrogatepass": a lone surrogate (a broken emoji from some exports) still hashes; other text is plain UTF-8.
    hashed = [zlib.crc32(b"w" + token.encode("utf-8", "surrogatepass")) for token in tokens]
    hashed += [zlib.crc32(f"b{first} {second}".encode("utf-8", "surrogatepass")) for first, second in zip(tokens, tokens[1:])]
    joined = f" {' '.join(tokens)} "
    low, high = CHAR_NGRAMS
    for size in range(low, high + 1):
        hashed += [zlib.crc32(f"c{joined[start:start + size]}".encode("utf-8", "surrogatepass"))
                   for start in range(len(joined) - size + 1)]
    return np.unique(np.asarray(hashed, dtype=np.int64) % HASH_BUCKETS)


def language_index(language: str | None) -> int:
    """1.. for a trained language, 0 for unknown (or untrained) ones."""
    return LANGUAGES.index(language) + 1 if language in SCORED_LANGUAGES else 0


def with_language(rows: np.ndarray, index: int) -> np.ndarray:
    """The shared rows plus, for a known language, the same features in that language's own buckets."""
    if index == 0:
        return rows
    return np.concatenate([rows, (rows * _LANGUAGE_SALT + index * 7919) % HASH_BUCKETS])


@dataclass(frozen=True)
class Reading:
    label: str
    score: float  # P(positive) - P(negative)
    confidence: float  # the winning class' probability
    probabilities: tuple[float, float, float]  # negative, neutral, positive


class MultilingualModel:
    """Class scores: the text's hashed weights summed and divided by sqrt(distinct shared features), plus the dense
    features times their weights, plus a bias per language; one-vs-rest sigmoids normalised to probabilities."""

    def __init__(self, weights: np.ndarray, dense: np.ndarray, language_bias: np.ndarray,
                 english_reader: str = "multilingual") -> None:
        self.english_reader = english_reader  # who reads English, chosen on validation: multilingual|vader+linear|blend
        self.weights = weights  # (HASH_BUCKETS, 3)
        self.dense = dense  # (len(DENSE_FEATURES), 3)
        self.language_bias = language_bias  # (len(LANGUAGES) + 1, 3), row 0 for an unknown language

    @classmethod
    def from_arrays(cls, weights: np.ndarray, dense: np.ndarray, language_bias: np.ndarray,
                    english_reader: str = "multilingual") -> MultilingualModel:
        if weights.shape != (HASH_BUCKETS, len(LABELS)) or dense.shape != (len(DENSE_FEATURES), len(LABELS)):
            raise ValueError(f"{WEIGHTS_FILE} was trained for other features; rerun bench/train_multilingual.py")
        return cls(weights.astype(np.float32), dense.astype(np.float32), language_bias.astype(np.float32), english_reader)

    def logits(self, text: str, language: str | None, dense_values: Sequence[float]) -> np.ndarray:
        index = language_index(language)
        shared = features(text)
        result = self.language_bias[index] + np.asarray(dense_values, dtype=np.float32) @ self.dense
        if len(shared):
            result = result + self.weights[with_language(shared, index)].sum(axis=0) / np.sqrt(len(shared))
        return result

    def read_many(self, items: Sequence[tuple[str, str | None, Sequence[float]]]) -> list[Reading]:
        """Read (text, language, dense features) triples."""
        readings = []
        for text, language, dense_values in items:
            logits = np.clip(self.logits(text, language, dense_values), -30.0, 30.0)
            probabilities = 1.0 / (1.0 + np.exp(-logits))
            probabilities /= probabilities.sum()
            best = int(probabilities.argmax())
            readings.append(Reading(LABELS[best], float(probabilities[2] - probabilities[0]), float(probabilities[best]),
                                    (float(probabilities[0]), float(probabilities[1]), float(probabilities[2]))))
        return readings


@lru_cache(maxsize=1)
def shipped_model() -> MultilingualModel:
    """Load the weights that ship inside the package (once per process)."""
    with resources.files("bot").joinpath(WEIGHTS_FILE).open("rb") as handle:
        arrays = np.load(handle)
        return MultilingualModel.from_arrays(arrays["weights"], arrays["dense"], arrays["language_bias"],
                                            str(arrays["english_reader"]))
