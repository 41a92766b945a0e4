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


_WORD_SEED = zlib.crc32(b"w")
_PAIR_SEED = zlib.crc32(b"b")
_CHAR_SEED = zlib.crc32(b"c")


def features(text: str) -> np.ndarray:
    """Distinct hashed features of a text: words, word pairs and character 2-5-grams across word boundaries.

    Each feature is the CRC-32 of a one-letter kind ("w", "b", "c") and the UTF-8 bytes of the token, pair or
    n-gram. The n-grams are cut from the text's bytes once encoded, at character starts, and CRC-32 continues from the
    kind's checksum: the same numbers as encoding every n-gram on its own, in a fraction of the time.
    """
    tokens = _TOKENS.findall(_HANDLES_AND_LINKS.sub(" ", text.lower()))
    crc = zlib.crc32
    # "surrogatepass": a lone surrogate (a broken emoji from some exports) still hashes; other text is plain UTF-8.
    encoded_tokens = [token.encode("utf-8", "surrogatepass") for token in tokens]
    mask = HASH_BUCKETS - 1  # a power of two: "& mask" is "% HASH_BUCKETS"
    hashed = {crc(token, _WORD_SEED) & mask for token in encoded_tokens}
    hashed.update(crc(first + b" " + second, _PAIR_SEED) & mask for first, second in zip(encoded_tokens, encoded_tokens[1:]))
    joined = b" " + b" ".join(encoded_tokens) + b" "
    if joined.isascii():
        starts: list[int] | range = range(len(joined) + 1)
    else:
        lead = np.frombuffer(joined, dtype=np.uint8) & 0xC0 != 0x80  # the first byte of each character
        starts = np.flatnonzero(lead).tolist() + [len(joined)]
    characters = len(starts) - 1
    low, high = CHAR_NGRAMS
    for size in range(low, high + 1):
        hashed.update([crc(joined[starts[start]:starts[start + size]], _CHAR_SEED) & mask
                       for start in range(characters - size + 1)])
    return np.fromiter(hashed, dtype=np.int64, count=len(hashed))


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

    def logits(self, items: Sequence[tuple[str, str | None, Sequence[float]]]) -> np.ndarray:
        """Class scores of a batch, one row per (text, language, dense features), computed for the whole batch at
        once: one gather of every text's weight rows and one sum per text (numpy's per-call cost paid once)."""
        if not items:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        shared = [features(text) for text, _, _ in items]  # never empty: the spaces around a text are a 2-gram
        counts = np.fromiter(map(len, shared), dtype=np.int64, count=len(shared))
        languages = np.fromiter((language_index(language) for _, language, _ in items), dtype=np.int64, count=len(items))
        rows = np.concatenate(shared)
        row_languages = np.repeat(languages, counts)
        gathered = self.weights[rows]
        own = self.weights[(rows * _LANGUAGE_SALT + row_languages * 7919) % HASH_BUCKETS]
        gathered += own * (row_languages != 0)[:, None]  # an unknown language has no rows of its own
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        sums = np.add.reduceat(gathered, starts, axis=0)
        dense = np.asarray([values for _, _, values in items], dtype=np.float32)
        return sums / np.sqrt(counts)[:, None] + dense @ self.dense + self.language_bias[languages]

    def read_many(self, items: Sequence[tuple[str, str | None, Sequence[float]]]) -> list[Reading]:
        """Read (text, language, dense features) triples."""
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(self.logits(items), -30.0, 30.0)))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        readings = []
        for negative, neutral, positive in probabilities.tolist():
            found = (negative, neutral, positive)
            best = 0 if negative >= neutral and negative >= positive else 1 if neutral >= positive else 2
            readings.append(Reading(LABELS[best], positive - negative, found[best], found))
        return readings


@lru_cache(maxsize=1)
def shipped_model() -> MultilingualModel:
    """Load the weights that ship inside the package (once per process)."""
    with resources.files("bot").joinpath(WEIGHTS_FILE).open("rb") as handle:
        arrays = np.load(handle)
        return MultilingualModel.from_arrays(arrays["weights"], arrays["dense"], arrays["language_bias"],
                                            str(arrays["english_reader"]))
