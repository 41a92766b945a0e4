"""Sentiment of mentions: language detection, the shipped multilingual model (bot/multilingual.py) for en, de, fr, es,
it, pt, ar and hi (and for Latin-script text no detector is sure of), vendor scales. VADER alone and VADER plus a small
learned layer remain as analysers of their own. Text in any other language is never given a lexicon score: it gets an
emoji-only reading or `unknown`, whose analyser names the reason."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from math import exp
from typing import Any, Literal, Protocol

from bot.multilingual import SCORED_LANGUAGES, MultilingualModel, shipped_model
from bot.vader_scores import Polarity, VaderScorer, reference_analyser

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
    analyser: str  # "multilingual", "vader+linear", "blend", "vader", "emoji", "unscored:<language>", "upstream:<vendor>"

    def __post_init__(self) -> None:
        if self.label not in ("negative", "neutral", "positive", "unknown"):
            raise ValueError(f"unknown sentiment label {self.label!r}")
        if not -1.0 <= self.score <= 1.0:
            raise ValueError(f"sentiment score {self.score} is outside -1..1")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"sentiment confidence {self.confidence} is outside 0..1")


class Analyser(Protocol):
    def analyse(self, text: str, language: str | None = None) -> Sentiment: ...


def analyse_all(analyser: Analyser, items: Sequence[tuple[str, str | None]]) -> list[Sentiment]:
    """Score (text, language) pairs, in one batch when the analyser can (MentionAnalyser runs it stage by stage)."""
    batch = getattr(analyser, "analyse_many", None)
    if batch is not None:
        return batch(items)
    return [analyser.analyse(text, language) for text, language in items]


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


def without_handles_and_urls(text: str) -> str:
    """Blank out @handles and links: noise to every analyser and to language detection alike."""
    return _HANDLES_URLS.sub(" ", text) if ("@" in text or "http" in text or "www." in text) else text


def normalise_tweet(text: str, lexicon: dict[str, float] | None = None, *, handles_removed: bool = False) -> str:
    """Drop handles and URLs, unescape HTML entities, unhash hashtags and shorten elongated words."""
    if not handles_removed:
        text = without_handles_and_urls(text)
    if "&" in text:
        text = _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text)
    text = text.replace("#", " ")
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
    lowered = normalised.lower()
    found: list[str] = _TOKEN.findall(lowered)
    # Most tweets hold no negator: then there is nothing to mark (the exact test of the loop below, done in C).
    if "n't" not in lowered and _NEGATORS.isdisjoint(found if "'" not in lowered else [t.replace("'", "") for t in found]):
        return found
    tokens: list[str] = []
    scope = 0
    for token in found:
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
    return _detect_cleaned(without_handles_and_urls(text))


def _detect_cleaned(cleaned: str) -> str | None:
    return _detect_with_guess(cleaned)[0]


def _detect_with_guess(cleaned: str) -> tuple[str | None, str | None]:
    """The language (None when no detector is sure) and, when py3langid was asked, its best guess however unsure."""
    import pycld2

    cleaned = cleaned.replace("#", " ")
    if _TWO_LETTERS.search(cleaned) is None:
        return None, None
    try:
        reliable, text_bytes, details = pycld2.detect(cleaned)
    except UnicodeEncodeError:
        # Lone surrogates (broken emoji from some exports) cannot be UTF-8 encoded; drop them and retry once.
        cleaned = cleaned.encode("utf-8", "ignore").decode("utf-8")
        reliable, text_bytes, details = pycld2.detect(cleaned)
    except pycld2.error:
        # CLD2 refuses some control bytes it calls invalid UTF-8; py3langid below still answers.
        reliable, text_bytes, details = False, 0, ()
    if reliable and details[0][1] != "un":
        code = _iso_639_1(details[0][1])
        if (text_bytes >= _SHORT_TEXT_BYTES or details[0][3] >= _CLD2_SURE_SCORE
                or _FUNCTION_WORDS.isdisjoint(_WORDS.findall(cleaned.lower()))):
            return code, None
        # On a short text CLD2 is swayed by one loanword ("El servicio de Acme es horrible" -> en); a confident
        # py3langid naming another modelled language wins. Measured on the UMSAB train splits: under 40 bytes, es
        # .956 -> .961, it .895 -> .903, en unchanged at .998; under 60 bytes a little more (es .962, it .914) but
        # py3langid then runs on a quarter of English tweets, which costs a fifth of the English throughput. Asking
        # only when CLD2's own score is under 1,000 kept every one of those fixes (12 of 12 short tweets it called
        # English) while asking about 8 of 22 short English ones instead of all 22. Asking only when a function
        # word of another scored language is there keeps 23 of the 35 fixes on the train splits and asks about
        # 23 instead of 473 of the 12,284 SemEval tweets (py3langid costs about ten VADER readings).
        second, guess = _py3langid(cleaned)
        return (second if second in SCORED_LANGUAGES and second != code else code), guess
    # CLD2 is fast but abstains on ~13% of tweets (short ones); py3langid is slower but answers those well.
    found, guess = _py3langid(cleaned)
    return found or _language_of_script(cleaned), guess


def _py3langid(cleaned: str) -> tuple[str | None, str | None]:
    """py3langid's language when it is sure enough, and its best guess either way."""
    with _fallback_lock:
        code, probability = _fallback_identifier().classify(cleaned)
    guess = _iso_639_1(code)
    return (guess if probability >= _PY3LANGID_MIN_PROBABILITY else None), guess


_SHORT_TEXT_BYTES = 40
_CLD2_SURE_SCORE = 1000  # CLD2's normalised score of its top language
_WORDS = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(  # es, it, de, fr, pt articles, copulas and particles
    "el la los las es un una del que y muy il lo gli le è e di che non per der die das ist nicht und ein eine sehr "
    "les est et pas une très des os as é não um uma muito do da".split())
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")
_PERSIAN_LETTERS = re.compile(r"[\u067e\u0686\u0698\u06af\u06cc\u06a9]")  # pe, che, zhe, gaf, Farsi yeh and kaf
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def _language_of_script(cleaned: str) -> str | None:
    """When no detector is sure, a script that one language dominates still names it (Devanagari as Hindi, Hangul
    as Korean, Arabic script as Arabic unless it has letters only Persian uses)."""
    if _DEVANAGARI.search(cleaned):
        return "hi"
    if _HANGUL.search(cleaned):
        return "ko"
    if _ARABIC_SCRIPT.search(cleaned):
        return "fa" if _PERSIAN_LETTERS.search(cleaned) else "ar"
    return None


_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_OTHER_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f]")


def is_latin_script(cleaned: str) -> bool:
    """Whether the text's letters are Latin ones (an undetected Latin text is still read by the pooled model)."""
    return _LATIN_LETTER.search(cleaned) is not None and _OTHER_LETTER.search(cleaned) is None


def _iso_639_1(code: str | None) -> str | None:
    if not code:
        return None
    primary = code.replace("_", "-").split("-")[0].lower()
    return {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es"}.get(
        primary, primary if primary not in ("", "un", "und", "xx", "zxx") else None
    )


# --- analysers -----------------------------------------------------------------------------


@cache
def _vader_scorer() -> VaderScorer:
    return VaderScorer()


class VaderAnalyser:
    """VADER alone (vaderSentiment itself) with its published ±0.05 cut: the baseline the others must beat."""

    name = "vader"

    def __init__(self, cut: float = 0.05) -> None:
        self.cut = cut

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        compound = reference_analyser().polarity_scores(text)["compound"]
        label: Label = "positive" if compound >= self.cut else "negative" if compound <= -self.cut else "neutral"
        return Sentiment(label, compound, abs(compound), self.name)


def vader_features(polarity: Polarity, text: str) -> list[float]:
    """Return the dense features the linear layer reads, in the order of the weights file."""
    compound = polarity.compound
    return [compound, polarity.pos, polarity.neg, polarity.neu, compound * compound, abs(compound),
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
        return self.analyse_many_cleaned([(without_handles_and_urls(text), text)])[0]

    def analyse_many_cleaned(self, pairs: Sequence[tuple[str, str]]) -> list[Sentiment]:
        """Score (cleaned, text) pairs one stage at a time: each stage's tables (VADER's lexicon, the token weights)
        stay in the CPU cache for the whole batch, which measured about a third faster than text by text."""
        return [self.reading(probabilities) for probabilities in self.probabilities_many_cleaned(pairs)]

    def reading(self, probabilities: tuple[float, float, float]) -> Sentiment:
        p0, p1, p2 = probabilities
        best = 0 if p0 >= p1 and p0 >= p2 else 1 if p1 >= p2 else 2  # the first of equals, as max() picks
        return Sentiment(CLASSES[best], max(-1.0, min(1.0, p2 - p0)), probabilities[best], self.name)

    def probabilities_many_cleaned(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, float, float]]:
        """The negative, neutral and positive probabilities of each (cleaned, text) pair."""
        weights = self._weights or load_weights()
        scorer = _vader_scorer()
        lexicon = scorer.lexicon
        normalised = [normalise_tweet(cleaned, lexicon, handles_removed=True) for cleaned, _ in pairs]
        polarities = [scorer.polarity(text) for text in normalised]
        token_sets = [set(tweet_tokens(text)) for text in normalised]
        bias, dense, token_weights = weights.bias, weights.dense, weights.tokens
        found = []
        for (_, text), polarity, tokens in zip(pairs, polarities, token_sets):
            z0, z1, z2 = bias
            for value, (w0, w1, w2) in zip(vader_features(polarity, text), dense):
                if value:
                    z0 += value * w0
                    z1 += value * w1
                    z2 += value * w2
            for w0, w1, w2 in filter(None, map(token_weights.get, tokens)):
                z0 += w0
                z1 += w1
                z2 += w2
            top = max(z0, z1, z2)
            e0, e1, e2 = exp(z0 - top), exp(z1 - top), exp(z2 - top)
            total = e0 + e1 + e2
            found.append((e0 / total, e1 / total, e2 / total))
        return found


_EMOTICONS = {
    ":)": 0.6, ":-)": 0.6, ":D": 0.7, ":-D": 0.7, ";)": 0.4, ";-)": 0.4, "<3": 0.7, ":P": 0.3, ":p": 0.3,
    ":(": -0.6, ":-(": -0.6, ":'(": -0.7, ":/": -0.3, ":-/": -0.3, ">:(": -0.7, "</3": -0.6,
}


@cache
def _emoji_polarity() -> dict[str, float]:
    # Emoji are language-neutral: score each one once from its Unicode name, so no word of the text is read.
    vader = reference_analyser()
    table = {emoji: vader.polarity_scores(description)["compound"] for emoji, description in vader.emojis.items()}
    return {emoji: value for emoji, value in table.items() if abs(value) >= 0.2}


class EmojiAnalyser:
    """Score only emoji and emoticons, which read the same in every language; `unknown` when there are none."""

    name = "emoji"

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        return self.analyse_cleaned(without_handles_and_urls(text))  # "https://" contains ":/", which is not a frown

    def analyse_cleaned(self, cleaned: str) -> Sentiment:
        """Score text whose handles and URLs are already blanked out."""
        table = _emoji_polarity()
        values = [table[ch] for ch in cleaned if ch in table]
        values += [value for emoticon, value in _EMOTICONS.items() if emoticon in cleaned]
        if not values:
            return unknown_sentiment()
        score = sum(values) / len(values)
        if abs(score) < 0.2:
            return Sentiment("neutral", score, 0.2, self.name)
        label: Label = "positive" if score > 0 else "negative"
        # Emoji alone miss sarcasm and the words around them, so never claim much certainty.
        return Sentiment(label, score, min(EMOJI_CONFIDENCE_CAP, 0.2 + abs(score) / 2), self.name)


def model_dense_features(cleaned: str, text: str) -> list[float]:
    """The dense features the multilingual model reads beside its hashed n-grams (in DENSE_FEATURES' order): VADER's
    compound, pos and neg on the normalised text (its lexicon and emoji rules say something in any Latin-script
    tweet), the mean polarity of the emoji, whether there are any, and the raw text's ! and ?."""
    scorer = _vader_scorer()
    polarity = scorer.polarity(normalise_tweet(cleaned, scorer.lexicon, handles_removed=True))
    table = _emoji_polarity()
    emoji = [table[ch] for ch in cleaned if ch in table] if not cleaned.isascii() else []
    compound = polarity.compound
    return [compound, polarity.pos, polarity.neg, compound * compound, sum(emoji) / len(emoji) if emoji else 0.0,
            float(bool(emoji)), float("!" in text), float("?" in text)]


@cache
def _english_layer() -> EnglishTweetAnalyser:
    return EnglishTweetAnalyser()


READING_CACHE_SIZE = 20_000
MULTILINGUAL = "multilingual"


def _with_reason(reading: Sentiment, code: str | None) -> Sentiment:
    """An `unknown` reading of an unmodelled language says which language, or that none was detected."""
    if reading.label != "unknown":
        return reading
    return unknown_sentiment(f"unscored:{code or 'undetected'}")


class MentionAnalyser:
    """The default analyser: detect the language, then read it with the pooled multilingual model when the model was
    trained on it, or when no language was detected but the text is in Latin script; English (and undetected Latin
    text whose best guess is English) goes to the English reader the training recipe chose, or to the `english`
    analyser given. Any other language gets the emoji-only reading or `unknown` naming the language.

    Readings are cached by text without handles and links, so the retweets of one post are scored once.
    """

    def __init__(self, english: Analyser | None = None, other: Analyser | None = None, *,
                 cache_size: int = READING_CACHE_SIZE) -> None:
        self.english = english
        self.other = other or EmojiAnalyser()
        self._cache: dict[tuple[str, str | None, bool, bool], Sentiment] = {}
        self.cache_size = cache_size
        self.cache_hits = 0  # for benchmarks; counted without a lock, so approximate under threads

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        return self.analyse_many([(text, language)])[0]

    def analyse_many(self, items: Sequence[tuple[str, str | None]]) -> list[Sentiment]:
        """Score (text, language) pairs: cached readings first, then language detection for all, then each analyser."""
        readings: list[Sentiment | None] = [None] * len(items)
        todo: list[tuple[int, tuple[str, str | None, bool, bool], str, str, str | None]] = []
        repeats: dict[tuple[str, str | None, bool, bool], list[int]] = {}  # texts repeated inside this batch
        cache = self._cache
        for index, (text, language) in enumerate(items):
            cleaned = without_handles_and_urls(text)
            # The model reads the raw text's "!" and "?", so the key keeps them.
            key = (cleaned, language, "!" in text, "?" in text)
            found = cache.get(key)
            if found is not None:
                self.cache_hits += 1
                readings[index] = found
            elif key in repeats:
                self.cache_hits += 1
                repeats[key].append(index)
            else:
                repeats[key] = []
                todo.append((index, key, cleaned, text, language))
        detected = [(_iso_639_1(language), None) if language else _detect_with_guess(cleaned)
                    for _, _, cleaned, _, language in todo]
        codes = [code for code, _ in detected]
        reader = self.english_reader()
        own_english = reader != MULTILINGUAL
        # Latin-script text no detector is sure of, whose best guess is English, is read as English ("I love Acme").
        leaning = [code == "en" or (code is None and guess == "en" and is_latin_script(entry[2]))
                   for entry, (code, guess) in zip(todo, detected)]
        english = [entry for entry, lean in zip(todo, leaning) if lean and own_english]
        other = [(entry, code) for entry, code, lean in zip(todo, codes, leaning) if not (lean and own_english)]
        scored = self._read_english(reader, english)
        modelled = [(entry, code) for entry, code in other
                    if code in SCORED_LANGUAGES or (code is None and is_latin_script(entry[2]))]
        rest = [(entry, code) for entry, code in other
                if not (code in SCORED_LANGUAGES or (code is None and is_latin_script(entry[2])))]
        triples = [(cleaned, code, model_dense_features(cleaned, text)) for (_, _, cleaned, text, _), code in modelled]
        scored += [Sentiment(reading.label, reading.score, reading.confidence, MULTILINGUAL)  # type: ignore[arg-type]
                   for reading in self.multilingual().read_many(triples)]
        if isinstance(self.other, EmojiAnalyser):
            scored += [_with_reason(self.other.analyse_cleaned(cleaned), code) for (_, _, cleaned, _, _), code in rest]
        else:
            scored += [self.other.analyse(text, code) for (_, _, _, text, _), code in rest]
        done = english + [entry for entry, _ in modelled] + [entry for entry, _ in rest]
        for (index, key, _, _, _), reading in zip(done, scored):
            readings[index] = reading
            for repeat in repeats[key]:
                readings[repeat] = reading
            self._remember(key, reading)
        return readings  # type: ignore[return-value]  # every slot is filled above

    def english_reader(self) -> str:
        """Who reads English: the analyser given, else the one the training recipe chose on validation."""
        if self.english is not None:
            return "given"
        return self.multilingual().english_reader

    def _read_english(self, reader: str, entries: Sequence[tuple[int, Any, str, str, str | None]]) -> list[Sentiment]:
        if not entries:
            return []
        if reader == "given":
            assert self.english is not None
            return [self.english.analyse(text, "en") for _, _, _, text, _ in entries]
        layer = _english_layer()
        layered = layer.probabilities_many_cleaned([(cleaned, text) for _, _, cleaned, text, _ in entries])
        if reader == "vader+linear":
            return [layer.reading(probabilities) for probabilities in layered]
        # "blend": the mean of the layer's and the pooled model's class probabilities.
        pooled = self.multilingual().read_many(
            [(cleaned, "en", model_dense_features(cleaned, text)) for _, _, cleaned, text, _ in entries])
        blended = []
        for mine, theirs in zip(layered, pooled):
            mean = tuple((a + b) / 2 for a, b in zip(mine, theirs.probabilities))
            reading = layer.reading(mean)  # type: ignore[arg-type]
            blended.append(Sentiment(reading.label, reading.score, reading.confidence, "blend"))
        return blended

    def multilingual(self) -> MultilingualModel:
        """The shipped model, loaded on first use."""
        return shipped_model()

    def _remember(self, key: tuple[str, str | None, bool, bool], reading: Sentiment) -> None:
        if not self.cache_size:
            return
        if len(self._cache) >= self.cache_size:
            # Drop the oldest entry; pop with a default, as another thread may drop the same one.
            self._cache.pop(next(iter(self._cache), key), None)
        self._cache[key] = reading

    def clear_cache(self) -> None:
        """Forget every cached reading (benchmarks start each measurement cold)."""
        self._cache.clear()
        self.cache_hits = 0


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
