"""Sentiment of mentions: language detection, VADER plus a small learned layer for English, vendor scales.
Text in any other language is never given an English lexicon score: it gets an emoji-only reading or `unknown`."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, Protocol

Label = Literal["negative", "neutral", "positive", "unknown"]
CLASSES: tuple[Label, Label, Label] = ("negative", "neutral", "positive")

# Below this, a reading is a hint for volume-based detection, not a verdict.
UNKNOWN_CONFIDENCE = 0.05
EMOJI_CONFIDENCE_CAP = 0.4


@dataclass(frozen=True)
class Sentiment:
    label: Label
    score: float  # -1 (most negative) .. 1 (most positive)
    confidence: float  # 0 .. 1
    analyser: str  # "vader", "vader+linear", "emoji", "none", "upstream:<vendor>"

    def __post_init__(self) -> None:
        if self.label not in ("negative", "neutral", "positive", "unknown"):
            raise ValueError(f"unknown sentiment label {self.label!r}")
        if not -1.0 <= self.score <= 1.0:
            raise ValueError(f"sentiment score {self.score} is outside -1..1")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"sentiment confidence {self.confidence} is outside 0..1")


class Analyser(Protocol):
    def analyse(self, text: str, language: str | None = None) -> Sentiment: ...


def unknown_sentiment(analyser: str = "none") -> Sentiment:
    """Return the honest 'we cannot tell' reading."""
    return Sentiment("unknown", 0.0, UNKNOWN_CONFIDENCE, analyser)


# --- tweet normalisation -------------------------------------------------------------------

_HANDLES_URLS = re.compile(r"@\w+|https?://\S+|www\.\S+|\bhttp\b")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}
_ENTITY = re.compile("|".join(_ENTITIES))
_ELONGATED = re.compile(r"([A-Za-z])\1{2,}")
_TOKEN = re.compile(r"[a-z']+|[:;=][\-']?[()dpDP/\\|]|[^\sa-z0-9'.,!?\"()\-:;]")
_NEGATORS = frozenset(
    "not no never nothing nobody none nor neither without cannot dont cant wont isnt wasnt arent "
    "didnt doesnt aint havent hasnt shouldnt wouldnt couldnt".split()
)
_NEGATION_SCOPE = 3  # words after a negator that get a NEG_ prefix, as in Das et al.'s tweet features


def normalise_tweet(text: str, lexicon: dict[str, float] | None = None) -> str:
    """Drop handles and URLs, unescape HTML entities, unhash hashtags and shorten elongated words."""
    text = _HANDLES_URLS.sub(" ", text)
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text).replace("#", " ")
    if _ELONGATED.search(text):
        text = " ".join(_shorten(word, lexicon or {}) for word in text.split())
    return text


def _shorten(word: str, lexicon: dict[str, float]) -> str:
    if not _ELONGATED.search(word):
        return word
    # "goooood" -> "good" (in the lexicon) but "sooooo" -> "so": keep two letters only when that is a word.
    double = _ELONGATED.sub(lambda m: m.group(1) * 2, word)
    if double.lower().strip("!?.,") in lexicon:
        return double
    return _ELONGATED.sub(lambda m: m.group(1), word)


def tweet_tokens(normalised: str) -> list[str]:
    """Lower-case tokens with negation marked on the following few words ("not good" -> NEG_good)."""
    tokens: list[str] = []
    scope = 0
    for token in _TOKEN.findall(normalised.lower()):
        bare = token.replace("'", "")
        if bare in _NEGATORS or token.endswith("n't"):
            scope = _NEGATION_SCOPE
            tokens.append(token)
            continue
        tokens.append("NEG_" + token if scope > 0 and token[0].isalpha() else token)
        scope -= 1
    return tokens


# --- language detection --------------------------------------------------------------------

_PY3LANGID_MIN_PROBABILITY = 0.5
# Two letters anywhere (any script): a regex scan in C instead of a Python loop over every character.
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.DOTALL)
_fallback_lock = threading.Lock()


@cache
def _fallback_identifier() -> Any:
    # py3langid unpickles its model in about a second, so only pay that when CLD2 is unsure.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """Return the ISO 639-1 code of `text`, or None when no detector is sure."""
    import pycld2

    cleaned = _HANDLES_URLS.sub(" ", text).replace("#", " ")
    if _TWO_LETTERS.search(cleaned) is None:
        return None
    try:
        reliable, _, details = pycld2.detect(cleaned)
    except UnicodeEncodeError:
        # Lone surrogates (broken emoji from some exports) cannot be UTF-8 encoded; drop them and retry once.
        cleaned = cleaned.encode("utf-8", "ignore").decode("utf-8")
        reliable, _, details = pycld2.detect(cleaned)
    except pycld2.error:
        # CLD2 refuses some control bytes it calls invalid UTF-8; py3langid below still answers.
        reliable, details = False, ()
    if reliable and details[0][1] != "un":
        return _iso_639_1(details[0][1])
    # CLD2 is fast but abstains on ~13% of tweets (short ones); py3langid is slower but answers those well.
    with _fallback_lock:
        code, probability = _fallback_identifier().classify(cleaned)
    return _iso_639_1(code) if probability >= _PY3LANGID_MIN_PROBABILITY else None


def _iso_639_1(code: str | None) -> str | None:
    if not code:
        return None
    primary = code.replace("_", "-").split("-")[0].lower()
    return {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es"}.get(
        primary, primary if primary not in ("", "un", "und", "xx", "zxx") else None
    )


# --- analysers -----------------------------------------------------------------------------


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class VaderAnalyser:
    """VADER alone with its published ±0.05 cut: the baseline the others must beat."""

    name = "vader"

    def __init__(self, cut: float = 0.05) -> None:
        self.cut = cut

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        compound = _vader().polarity_scores(text)["compound"]
        label: Label = "positive" if compound >= self.cut else "negative" if compound <= -self.cut else "neutral"
        return Sentiment(label, compound, abs(compound), self.name)


def vader_features(scores: dict[str, float], text: str) -> list[float]:
    """Return the dense features the linear layer reads, in the order of the weights file."""
    compound = scores["compound"]
    return [compound, scores["pos"], scores["neg"], scores["neu"], compound * compound, abs(compound),
            float("!" in text), float("?" in text)]


DENSE_FEATURES = ("compound", "pos", "neg", "neu", "compound_sq", "abs_compound", "has_exclamation", "has_question")
WEIGHTS_RESOURCE = "sentiment_weights.json"


@dataclass(frozen=True)
class LinearWeights:
    bias: tuple[float, float, float]
    dense: tuple[tuple[float, float, float], ...]
    tokens: dict[str, tuple[float, float, float]]


@cache
def load_weights() -> LinearWeights:
    """Load the shipped weights (trained on SemEval validation tweets by bench/train_sentiment.py)."""
    raw = json.loads(resources.files("bot").joinpath(WEIGHTS_RESOURCE).read_text(encoding="utf-8"))
    if tuple(raw["dense_features"]) != DENSE_FEATURES or tuple(raw["classes"]) != CLASSES:
        raise ValueError(f"{WEIGHTS_RESOURCE} was trained for other features; rerun bench/train_sentiment.py")
    return LinearWeights(
        bias=tuple(raw["bias"]),
        dense=tuple(tuple(row) for row in raw["dense"]),
        tokens={token: tuple(row) for token, row in raw["tokens"].items()},
    )


class EnglishTweetAnalyser:
    """VADER on normalised text, re-weighted with tweet tokens by a small softmax layer."""

    name = "vader+linear"

    def __init__(self, weights: LinearWeights | None = None) -> None:
        self._weights = weights

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        weights = self._weights or load_weights()
        vader = _vader()
        normalised = normalise_tweet(text, vader.lexicon)
        z = list(weights.bias)
        for value, row in zip(vader_features(vader.polarity_scores(normalised), text), weights.dense):
            if value:
                z[0] += value * row[0]
                z[1] += value * row[1]
                z[2] += value * row[2]
        for token in set(tweet_tokens(normalised)):
            row = weights.tokens.get(token)
            if row is not None:
                z[0] += row[0]
                z[1] += row[1]
                z[2] += row[2]
        probabilities = _softmax(z)
        best = max(range(3), key=probabilities.__getitem__)
        score = max(-1.0, min(1.0, probabilities[2] - probabilities[0]))
        return Sentiment(CLASSES[best], score, probabilities[best], self.name)


def _softmax(z: list[float]) -> list[float]:
    from math import exp

    top = max(z)
    exps = [exp(v - top) for v in z]
    total = sum(exps)
    return [v / total for v in exps]


_EMOTICONS = {
    ":)": 0.6, ":-)": 0.6, ":D": 0.7, ":-D": 0.7, ";)": 0.4, ";-)": 0.4, "<3": 0.7, ":P": 0.3, ":p": 0.3,
    ":(": -0.6, ":-(": -0.6, ":'(": -0.7, ":/": -0.3, ":-/": -0.3, ">:(": -0.7, "</3": -0.6,
}


@cache
def _emoji_polarity() -> dict[str, float]:
    # Emoji are language-neutral: score each one once from its Unicode name, so no word of the text is read.
    vader = _vader()
    table = {emoji: vader.polarity_scores(description)["compound"] for emoji, description in vader.emojis.items()}
    return {emoji: value for emoji, value in table.items() if abs(value) >= 0.2}


class EmojiAnalyser:
    """Score only emoji and emoticons, which read the same in every language; `unknown` when there are none."""

    name = "emoji"

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        table = _emoji_polarity()
        text = _HANDLES_URLS.sub(" ", text)  # "https://" contains ":/", which is not a frown
        values = [table[ch] for ch in text if ch in table]
        values += [value for emoticon, value in _EMOTICONS.items() if emoticon in text]
        if not values:
            return unknown_sentiment()
        score = sum(values) / len(values)
        if abs(score) < 0.2:
            return Sentiment("neutral", score, 0.2, self.name)
        label: Label = "positive" if score > 0 else "negative"
        # Emoji alone miss sarcasm and the words around them, so never claim much certainty.
        return Sentiment(label, score, min(EMOJI_CONFIDENCE_CAP, 0.2 + abs(score) / 2), self.name)


class MentionAnalyser:
    """The default analyser: detect the language, then use the English model or the emoji-only reading."""

    def __init__(self, english: Analyser | None = None, other: Analyser | None = None) -> None:
        self.english = english or EnglishTweetAnalyser()
        self.other = other or EmojiAnalyser()

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        code = _iso_639_1(language) if language else detect_language(text)
        if code == "en":
            return self.english.analyse(text, "en")
        return self.other.analyse(text, code)


# --- vendor scales -------------------------------------------------------------------------

_CATEGORICAL = {"positive": ("positive", 1.0), "neutral": ("neutral", 0.0), "negative": ("negative", -1.0)}
_CATEGORICAL_VENDORS = {"brandwatch", "meltwater", "sprinklr"}
_UNKNOWN_WORDS = {"uncategorized", "uncategorised", "unknown", "not_rated", "none", ""}


def from_upstream(vendor: str, value: object) -> Sentiment:
    """Map a listening tool's own sentiment to ours, recorded as analyser="upstream:<vendor>"."""
    key = vendor.strip().lower()
    analyser = f"upstream:{key}"
    if key in _CATEGORICAL_VENDORS:
        word = str(value).strip().lower() if isinstance(value, str) else None
        if word in _CATEGORICAL:
            label, score = _CATEGORICAL[word]
            return Sentiment(label, score, 1.0, analyser)  # type: ignore[arg-type]
        if word in _UNKNOWN_WORDS:
            return Sentiment("unknown", 0.0, 0.0, analyser)
        raise ValueError(f"{vendor} sentiment {value!r} is not positive/neutral/negative")
    if key == "talkwalker":
        return _from_integer_scale(value, 5, analyser)
    if key == "mention":
        return _from_integer_scale(value, 1, analyser)
    raise ValueError(f"no sentiment mapping for vendor {vendor!r}")


def _from_integer_scale(value: object, limit: int, analyser: str) -> Sentiment:
    # bool is an int subclass; True is not a tone.
    if isinstance(value, bool):
        raise ValueError(f"{analyser} sentiment must be an integer, not {value!r}")
    try:
        number = float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        number = None
    if number is not None and not number.is_integer():
        number = None
    if number is None or not -limit <= number <= limit:
        raise ValueError(f"{analyser} sentiment {value!r} is not an integer in -{limit}..{limit}")
    label: Label = "positive" if number > 0 else "negative" if number < 0 else "neutral"
    return Sentiment(label, number / limit, 1.0, analyser)
