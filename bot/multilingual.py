"""Sentiment of non-English tweets: a linear model over hashed word and character n-grams, trained on the UMSAB
splits of seven languages (bench/train_multilingual.py) and shipped as package data, so nothing is fetched.

Character n-grams carry across spelling, inflection and scripts where a word list cannot; the model reads the
text only, and a language it was not trained on is never scored by it (`covers`).
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
# ISO 639-1 codes of the languages whose tweets trained the model (English has its own VADER-based path).
SCORED_LANGUAGES = frozenset({"es", "pt", "fr", "de", "it", "ar", "hi"})

_HANDLES_AND_LINKS = re.compile(r"https?://\S+|@\w+")
_TOKENS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def features(text: str) -> np.ndarray:
    """Distinct hashed features of a text: words, word pairs and character 2-5-grams across word boundaries."""
    tokens = _TOKENS.findall(_HANDLES_AND_LINKS.sub(" ", text.lower()))
    hashed = [zlib.crc32(b"w" + token.encode()) for token in tokens]
    hashed += [zlib.crc32(f"b{first} {second}".encode()) for first, second in zip(tokens, tokens[1:])]
    joined = f" {' '.join(tokens)} "
    low, high = CHAR_NGRAMS
    for size in range(low, high + 1):
        hashed += [zlib.crc32(f"c{joined[start:start + size]}".encode()) for start in range(len(joined) - size + 1)]
    return np.unique(np.asarray(hashed, dtype=np.int64) % HASH_BUCKETS)


@dataclass(frozen=True)
class Reading:
    label: str
    score: float  # P(positive) - P(negative)
    confidence: float  # the winning class' probability


class MultilingualModel:
    """Class scores are the mean of the text's feature weights (length-normalised), plus a bias, through a softmax."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = weights
        self.bias = bias

    @classmethod
    def from_arrays(cls, rows: np.ndarray, values: np.ndarray, bias: np.ndarray) -> MultilingualModel:
        weights = np.zeros((HASH_BUCKETS, len(LABELS)), dtype=np.float32)
        weights[rows] = values.astype(np.float32)
        return cls(weights, bias.astype(np.float32))

    def logits(self, feature_rows: np.ndarray) -> np.ndarray:
        if len(feature_rows) == 0:
            return self.bias.copy()
        return self.weights[feature_rows].sum(axis=0) / np.sqrt(len(feature_rows)) + self.bias

    def read(self, text: str) -> Reading:
        return self.read_many([text])[0]

    def read_many(self, texts: Sequence[str]) -> list[Reading]:
        readings = []
        for text in texts:
            logits = self.logits(features(text))
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            best = int(probabilities.argmax())
            readings.append(Reading(LABELS[best], float(probabilities[2] - probabilities[0]), float(probabilities[best])))
        return readings


@lru_cache(maxsize=1)
def shipped_model() -> MultilingualModel:
    """Load the weights that ship inside the package (once per process)."""
    with resources.files("bot").joinpath(WEIGHTS_FILE).open("rb") as handle:
        arrays = np.load(handle)
        return MultilingualModel.from_arrays(arrays["rows"], arrays["values"], arrays["bias"])
