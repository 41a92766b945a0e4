"""Behaviour of bot.sentiment: English scoring, language routing, vendor scales, and a held-out quality check."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from bench.sentiment import macro_f1, read_pairs
from bot import sentiment
from bot.sentiment import (
    EmojiAnalyser,
    EnglishTweetAnalyser,
    MentionAnalyser,
    Sentiment,
    VaderAnalyser,
    detect_language,
    from_upstream,
    tweet_tokens,
)

SEMEVAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment" / "tweeteval_semeval2017_sentiment"
UMSAB_TEST = SEMEVAL.parent / "xlmt_umsab_test"


@pytest.fixture(scope="module")
def analyser() -> MentionAnalyser:
    return MentionAnalyser()


@pytest.mark.parametrize("text", [
    "Worst customer service ever. I am furious and never buying from them again.",
    "My order arrived broken and support ignored me for a week. Terrible.",
    "This update is awful, the app crashes every time :(",
])
def test_obvious_english_complaints_are_negative(analyser: MentionAnalyser, text: str) -> None:
    """Plain English complaints are labelled negative with a negative score."""
    result = analyser.analyse(text)
    assert result.label == "negative"
    assert result.score < 0
    assert result.analyser == analyser.english_reader()  # the reader the recipe chose on validation


@pytest.mark.parametrize("text", [
    "I love this phone, best purchase I have made all year!",
    "Huge thanks to the support team, they were amazing and fixed it in minutes",
    "Sooooo happy with my new headphones 😍",
])
def test_obvious_english_praise_is_positive(analyser: MentionAnalyser, text: str) -> None:
    """Plain English praise (including elongation and emoji) is labelled positive."""
    result = analyser.analyse(text)
    assert result.label == "positive"
    assert result.score > 0


def test_negated_praise_is_not_positive(analyser: MentionAnalyser) -> None:
    """'not good' reads as worse than 'good'."""
    plain = analyser.analyse("The new checkout flow is good")
    negated = analyser.analyse("The new checkout flow is not good")
    assert negated.label != "positive"
    assert negated.score < plain.score


def test_negation_marks_the_following_words() -> None:
    """Tokens after a negator carry a NEG_ prefix so the model can learn their flipped weight."""
    assert tweet_tokens("i don't like it") == ["i", "don't", "NEG_like", "NEG_it"]


def test_handles_and_urls_do_not_change_the_reading(analyser: MentionAnalyser) -> None:
    """Anonymised handles and links are noise, not sentiment."""
    bare = analyser.analyse("This airline lost my luggage again, unbelievable", "en")
    noisy = analyser.analyse("@user This airline lost my luggage again, unbelievable https://t.co/x1", "en")
    assert noisy == bare


def test_german_text_is_read_by_the_multilingual_model_not_the_english_one(analyser: MentionAnalyser) -> None:
    """A German complaint is detected as German and scored negative by the multilingual model, never by VADER."""
    text = "Der Kundenservice ist eine Katastrophe, ich bin total enttäuscht und wütend"
    assert detect_language(text) == "de"
    result = analyser.analyse(text)
    assert result.label == "negative"
    assert result.analyser == "multilingual"


@pytest.mark.parametrize("text", [
    "Il nuovo telefono Acme è una schifezza",
    "El servicio de Acme es horrible",
    "Acme ist furchtbar",
])
def test_the_complaints_a_new_user_tried_are_negative(analyser: MentionAnalyser, text: str) -> None:
    """The Italian, Spanish and German complaints that used to be stored as unknown now count as negative."""
    assert analyser.analyse(text).label == "negative"


@pytest.mark.parametrize(("text", "code"), [("이 제품 정말 최악이에요", "ko"), ("این محصول افتضاح است", "fa")])
def test_korean_and_persian_are_detected_but_stay_unknown_with_the_reason(analyser: MentionAnalyser, text: str, code: str) -> None:
    """Languages the model was not trained on are detected and left unscored, naming the language."""
    assert detect_language(text) == code
    assert analyser.analyse(text) == Sentiment("unknown", 0.0, sentiment.UNKNOWN_CONFIDENCE, f"unscored:{code}")


def test_scoring_needs_no_network(analyser: MentionAnalyser, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the shipped weights and scoring every path works with sockets blocked."""
    import socket

    from bot import multilingual

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("sentiment tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    multilingual.shipped_model.cache_clear()
    readings = MentionAnalyser().analyse_many([("Acme ist furchtbar", None), ("Acme is awful", None), ("Wspaniały 😀", None)])
    assert [reading.label for reading in readings] == ["negative", "negative", "positive"]


def test_the_weights_ship_inside_the_installed_package() -> None:
    """The model file is package data next to bot/multilingual.py, small enough to install anywhere."""
    from importlib import resources

    from bot.multilingual import WEIGHTS_FILE

    shipped = resources.files("bot").joinpath(WEIGHTS_FILE)
    assert shipped.is_file()
    assert len(shipped.read_bytes()) < 20_000_000


def test_declared_language_skips_detection(analyser: MentionAnalyser) -> None:
    """A language the source declares ("ko-KR") is trusted over detection, here English."""
    assert detect_language("Acme is awful") == "en"
    assert analyser.analyse("Acme is awful", language="ko-KR").analyser == "unscored:ko"


def test_short_latin_text_no_detector_is_sure_of_is_still_scored(analyser: MentionAnalyser) -> None:
    """"I love Acme" is too short for either detector, yet Latin-script text leaning English is read as English, and
    undetected Latin text leaning elsewhere by the pooled model: neither is unknown."""
    assert detect_language("I love Acme") is None
    result = analyser.analyse("I love Acme")
    assert (result.label, result.analyser) == ("positive", analyser.english_reader())
    assert detect_language("Acme est nul") is None
    reading = analyser.analyse("Acme est nul")
    assert (reading.label, reading.analyser) == ("negative", "multilingual")


def test_a_short_spanish_complaint_is_not_taken_for_english() -> None:
    """One English-looking loanword ("horrible") no longer makes a short Spanish sentence English."""
    assert detect_language("El servicio de Acme es horrible") == "es"
    assert detect_language("Acme support is horrible today") == "en"


def test_a_script_names_the_language_when_no_detector_is_sure() -> None:
    """Devanagari reads as Hindi, Hangul as Korean, Arabic script as Arabic or, with Persian-only letters, Persian."""
    assert sentiment._language_of_script("बहुत बुरा") == "hi"
    assert sentiment._language_of_script("최악") == "ko"
    assert sentiment._language_of_script("سيء جدا") == "ar"
    assert sentiment._language_of_script("خیلی بد") == "fa"
    assert sentiment._language_of_script("very bad") is None


def test_unknown_language_gets_unknown_label_with_low_confidence(analyser: MentionAnalyser) -> None:
    """Text in a language we have no analyser for, without emoji, is an honest unknown."""
    result = analyser.analyse("Wszystko jest w porządku, dziękuję bardzo za szybką odpowiedź")
    assert result == Sentiment("unknown", 0.0, sentiment.UNKNOWN_CONFIDENCE, "unscored:pl")


def test_text_without_letters_is_unknown(analyser: MentionAnalyser) -> None:
    """A bare link or number gives no language and no sentiment."""
    assert analyser.analyse("https://t.co/abc 123").label == "unknown"


def test_emoji_in_unmodelled_languages_give_a_low_confidence_reading(analyser: MentionAnalyser) -> None:
    """Emoji read the same in any language, so in a language no model covers they give a capped hint."""
    result = analyser.analyse("Nowa aktualizacja jest wreszcie dostępna, dziękujemy 😍😍😍")
    assert result.label == "positive"
    assert result.analyser == "emoji"
    assert result.confidence <= sentiment.EMOJI_CONFIDENCE_CAP


def test_emoji_analyser_without_emoji_is_unknown() -> None:
    """No emoji and no emoticon means no reading."""
    assert EmojiAnalyser().analyse("rien à signaler").label == "unknown"


def test_every_reading_stays_in_range(analyser: MentionAnalyser) -> None:
    """Scores stay in -1..1 and confidences in 0..1 for odd inputs."""
    odd = ["", " ", "!!!!!!!!", "NOOOOOOOOO", "😂" * 50, "a" * 5000, "\ud800 broken surrogate", "nul\x00byte in a tweet"]
    for text in odd:
        result = analyser.analyse(text)
        assert -1 <= result.score <= 1 and 0 <= result.confidence <= 1


def test_sentiment_rejects_out_of_range_values() -> None:
    """A score outside -1..1 is a programming error, not data."""
    with pytest.raises(ValueError, match="outside -1..1"):
        Sentiment("positive", 1.5, 0.5, "test")


@pytest.mark.parametrize(("vendor", "value", "label", "score"), [
    ("brandwatch", "positive", "positive", 1.0),
    ("brandwatch", "neutral", "neutral", 0.0),
    ("Brandwatch", "Negative", "negative", -1.0),
    ("talkwalker", 5, "positive", 1.0),
    ("talkwalker", -3, "negative", -0.6),
    ("talkwalker", "0", "neutral", 0.0),
    ("mention", -1, "negative", -1.0),
    ("mention", 0, "neutral", 0.0),
    ("mention", 1, "positive", 1.0),
    ("meltwater", "positive", "positive", 1.0),
    ("meltwater", "negative", "negative", -1.0),
    ("meltwater", "neutral", "neutral", 0.0),
    ("sprinklr", "NEGATIVE", "negative", -1.0),
    ("sprinklr", "Uncategorized", "unknown", 0.0),
])
def test_vendor_sentiment_maps_to_our_scale(vendor: str, value: object, label: str, score: float) -> None:
    """Each listening tool's scale lands on -1..1 and is recorded as upstream."""
    result = from_upstream(vendor, value)
    assert (result.label, result.score) == (label, pytest.approx(score))
    assert result.analyser == f"upstream:{vendor.lower()}"


def test_uncategorized_vendor_sentiment_has_no_confidence() -> None:
    """Sprinklr's Uncategorized says nothing, so it carries no weight."""
    assert from_upstream("sprinklr", "Uncategorized").confidence == 0.0


@pytest.mark.parametrize(("vendor", "value"), [
    ("talkwalker", 6), ("talkwalker", 2.5), ("talkwalker", True), ("talkwalker", None),
    ("mention", 2), ("mention", "positive"), ("brandwatch", "great"), ("brandwatch", 1), ("hootsuite", "positive"),
])
def test_vendor_values_off_their_scale_are_rejected(vendor: str, value: object) -> None:
    """A value outside the vendor's scale (or an unknown vendor) raises instead of guessing."""
    with pytest.raises(ValueError):
        from_upstream(vendor, value)


def test_sentiment_module_stays_pure() -> None:
    """bot/sentiment.py imports no Slack, database or scheduler library."""
    tree = ast.parse(Path(sentiment.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy", "apscheduler"}


@pytest.mark.skipif(not SEMEVAL.is_dir(), reason=f"SemEval-2017 test set absent ({SEMEVAL}): needs ../shared")
def test_macro_f1_on_semeval_sample_is_not_below_vader_alone(analyser: MentionAnalyser) -> None:
    """On 1,500 held-out SemEval-2017 test tweets our analyser scores at least VADER's macro-F1."""
    labels = [int(x) for x in (SEMEVAL / "test_labels.txt").read_text().split()]
    texts = (SEMEVAL / "test_text.txt").read_text(encoding="utf-8").split("\n")[: len(labels)]
    sample = random.Random(2017).sample(range(len(labels)), 1500)
    classes = {"negative": 0, "neutral": 1, "positive": 2, "unknown": 1}
    gold = [labels[i] for i in sample]
    ours = [classes[analyser.analyse(texts[i]).label] for i in sample]
    vader = VaderAnalyser()
    baseline = [classes[vader.analyse(texts[i]).label] for i in sample]
    assert macro_f1(gold, ours) >= macro_f1(gold, baseline)


@pytest.mark.skipif(not UMSAB_TEST.is_dir(), reason=f"UMSAB test splits absent ({UMSAB_TEST}): needs ../shared")
@pytest.mark.parametrize("language", ["english", "german", "french", "spanish", "italian", "portuguese", "arabic", "hindi"])
def test_macro_f1_on_each_umsab_test_split_beats_vader_alone(analyser: MentionAnalyser, language: str) -> None:
    """On 400 held-out UMSAB test tweets of each language (language detected, as in production) we beat VADER alone."""
    texts, labels = read_pairs(UMSAB_TEST / language)
    sample = random.Random(13).sample(range(len(labels)), 400)
    classes = {"negative": 0, "neutral": 1, "positive": 2, "unknown": 1}
    gold = [labels[i] for i in sample]
    ours = [classes[reading.label] for reading in analyser.analyse_many([(texts[i], None) for i in sample])]
    vader = VaderAnalyser()
    baseline = [classes[vader.analyse(texts[i]).label] for i in sample]
    assert macro_f1(gold, ours) > macro_f1(gold, baseline)


def test_english_analyser_accepts_injected_weights() -> None:
    """Weights can be passed in, so a retrained layer drops in without touching the file."""
    flat = sentiment.LinearWeights(bias=(0.0, 5.0, 0.0), dense=((0.0, 0.0, 0.0),) * 8, tokens={})
    assert EnglishTweetAnalyser(flat).analyse("I hate this").label == "neutral"


def test_a_batch_reads_the_same_as_one_text_at_a_time() -> None:
    """analyse_many (staged: detection, then VADER, then the layer) equals analyse on each text, cached or not."""
    texts = ["I love this phone!", "@user worst support ever http://t.co/x?", "Der Service ist schlecht 😡", "",
             "https://t.co/abc 123", "not good, not good at all", "I love this phone!", "¿Qué tal? 😍"]
    one_by_one = [MentionAnalyser(cache_size=0).analyse(text) for text in texts]
    cached = MentionAnalyser()
    assert cached.analyse_many([(text, None) for text in texts]) == one_by_one
    assert cached.cache_hits == 1  # the repeated text
    assert cached.analyse_many([(text, None) for text in texts]) == one_by_one
    assert sentiment.analyse_all(VaderAnalyser(), [("good", None)]) == [VaderAnalyser().analyse("good")]


def test_cache_key_keeps_what_the_reading_depends_on(analyser: MentionAnalyser) -> None:
    """Retweets of one post (other handles and links) share a reading; a declared language or a '?' does not."""
    fresh = MentionAnalyser()
    first = fresh.analyse("RT @ann: acme support is awful https://t.co/1")
    assert fresh.analyse("RT @bob: acme support is awful https://t.co/2") == first and fresh.cache_hits == 1
    assert fresh.analyse("RT @bob: acme support is awful https://t.co/2", "ko").analyser == "unscored:ko"
    assert fresh.analyse("RT @bob: acme support is awful https://t.co/2?") == MentionAnalyser(cache_size=0).analyse(
        "RT @bob: acme support is awful https://t.co/2?")


def test_reading_cache_stays_bounded() -> None:
    """The cache drops its oldest readings beyond its size."""
    small = MentionAnalyser(cache_size=3)
    for i in range(10):
        small.analyse(f"text number {i} is good")
    assert len(small._cache) == 3


def test_the_sentiment_command_writes_one_label_a_line_and_json_on_request() -> None:
    """`socialops sentiment` reads stdin a line at a time; --json names language, score, confidence and analyser."""
    import json
    import subprocess
    import sys

    lines = "Acme ist furchtbar\n이 제품 정말 최악이에요\n"
    plain = subprocess.run([sys.executable, "-m", "bot", "sentiment"], input=lines, capture_output=True, text=True, check=True)
    assert plain.stdout.splitlines() == ["negative", "unknown"]
    rich = subprocess.run([sys.executable, "-m", "bot", "sentiment", "--json"], input=lines, capture_output=True, text=True, check=True)
    first, second = (json.loads(line) for line in rich.stdout.splitlines())
    assert first["label"] == "negative" and first["language"] == "de" and first["analyser"] == "multilingual"
    assert -1 <= first["score"] < 0 and 0 < first["confidence"] <= 1
    assert second == {"label": "unknown", "language": "ko", "score": 0.0, "confidence": 0.05, "analyser": "unscored:ko"}
