"""Benchmark bot.sentiment against VADER alone: macro-F1/accuracy on the ../shared sentiment sets, and texts/s.
Our `unknown` counts as neutral when scoring (it is the 'no signal' answer); the coverage column shows how often."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.multilingual import WEIGHTS_FILE  # noqa: E402  (repo root is put on the path above)
from bot.sentiment import MentionAnalyser, VaderAnalyser  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "sentiment"
LABELS = {"negative": 0, "neutral": 1, "positive": 2, "unknown": 1}
UMSAB_LANGUAGES = ("english", "german", "french", "spanish", "italian", "portuguese", "arabic", "hindi")


def _rss_mb() -> float:
    """This process' resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def macro_f1(gold: list[int], predicted: list[int]) -> float:
    """Return the mean F1 of the negative, neutral and positive classes."""
    scores = []
    for c in range(3):
        tp = sum(1 for g, p in zip(gold, predicted) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, predicted) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, predicted) if g == c and p != c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 3


def read_pairs(folder: Path, split: str = "test") -> tuple[list[str], list[int]]:
    """Return one TweetEval-format split (one text per line, labels 0/1/2)."""
    labels = [int(x) for x in (folder / f"{split}_labels.txt").read_text().split()]
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")[: len(labels)]
    return texts, labels


def read_vader_tweets() -> tuple[list[str], list[int]]:
    """Return VADER's 4,200 rated tweets with 3-class gold labels.

    The cut is the paper's own ±0.05 on the mean rating normalised to -1..1 (mean/4), as the README says;
    it yields 2,700 positive / 1,203 negative / 297 neutral, so neutral is rare and hard here.
    """
    texts, labels = [], []
    path = DATA / "vader_hutto2014_tweets" / "tweets_GroundTruth.txt"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        _, mean, text = line.split("\t", 2)
        normalised = float(mean) / 4
        labels.append(2 if normalised >= 0.05 else 0 if normalised <= -0.05 else 1)
        texts.append(text)
    return texts, labels


def run(analyse: Callable[[str], str], texts: list[str]) -> tuple[list[int], float]:
    """Return predicted class ids and the share of texts not labelled `unknown`."""
    labels = [analyse(text) for text in texts]
    coverage = sum(1 for label in labels if label != "unknown") / len(labels)
    return [LABELS[label] for label in labels], coverage


def texts_per_second(analyse: Callable[[str], object], texts: list[str]) -> float:
    """Return the rate of one pass over `texts`."""
    start = time.perf_counter()
    for text in texts:
        analyse(text)
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    if not DATA.is_dir():
        print(f"skip: {DATA} is absent; the sentiment bench needs ../shared beside the repo")
        return 0
    ours, vader = MentionAnalyser(), VaderAnalyser()
    # Warm both up so start-up (lexicon load, weights, py3langid's model) is not counted as throughput.
    ours.analyse("warm up :)")
    ours.analyse("x")
    vader.analyse("warm up")

    sets: list[tuple[str, list[str], list[int]]] = []
    sets.append(("SemEval-2017 test (en)", *read_pairs(DATA / "tweeteval_semeval2017_sentiment")))
    for language in UMSAB_LANGUAGES:
        folder = DATA / "xlmt_umsab_test" / language
        if folder.is_dir():
            sets.append((f"UMSAB test {language}", *read_pairs(folder)))
    sets.append(("VADER tweets (Hutto 2014)", *read_vader_tweets()))

    print(f"{'set':28} {'n':>6} | {'ours F1':>7} {'acc':>5} {'cover':>5} | {'VADER F1':>8} {'acc':>5}")
    for name, texts, gold in sets:
        mine, coverage = run(lambda t: ours.analyse(t).label, texts)
        base, _ = run(lambda t: vader.analyse(t).label, texts)
        accuracy = sum(g == p for g, p in zip(gold, mine)) / len(gold)
        base_accuracy = sum(g == p for g, p in zip(gold, base)) / len(gold)
        print(f"{name:28} {len(texts):>6} | {macro_f1(gold, mine):7.3f} {accuracy:5.3f} {coverage:5.2f} |"
              f" {macro_f1(gold, base):8.3f} {base_accuracy:5.3f}")

    # Interleave and keep the best of three passes: on a shared machine the slowest pass measures neighbours.
    # Throughput is measured without the reading cache (the F1 pass above has filled it with these very texts).
    texts = sets[0][1]
    uncached = MentionAnalyser(cache_size=0)
    batch = 500  # as ingestion scores them: one webhook or import batch at a time

    def batched_rate() -> float:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            uncached.analyse_many([(text, None) for text in texts[i:i + batch]])
        return len(texts) / (time.perf_counter() - start)

    best_ours = best_batched = best_vader = 0.0
    for _ in range(3):
        best_vader = max(best_vader, texts_per_second(vader.analyse, texts))
        best_ours = max(best_ours, texts_per_second(uncached.analyse, texts))
        best_batched = max(best_batched, batched_rate())
    print(f"\nthroughput on SemEval-2017 test ({len(texts)} tweets, best of 3, one process, no reading cache):"
          f" VADER alone {best_vader:,.0f} texts/s; ours text by text {best_ours:,.0f} texts/s"
          f" ({best_ours / best_vader:.0%} of VADER), in batches of {batch} {best_batched:,.0f} texts/s"
          f" ({best_batched / best_vader:.0%}); language detection included")
    others = [text for language in UMSAB_LANGUAGES if language != "english"
              for text in read_pairs(DATA / "xlmt_umsab_test" / language)[0]]
    # A fresh process, so "before" holds everything a server imports but not the model.
    probe = ("import bench.sentiment as b, bot.app; before = b._rss_mb(); from bot.multilingual import shipped_model;"
             " shipped_model(); print(before, b._rss_mb())")
    measured = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    rss_before, rss_after = (float(value) for value in measured.stdout.split())
    analyser = MentionAnalyser(cache_size=0)
    best_other = best_other_vader = 0.0
    for _ in range(3):
        best_other_vader = max(best_other_vader, texts_per_second(vader.analyse, others))
        started = time.perf_counter()
        for start in range(0, len(others), batch):
            analyser.analyse_many([(text, None) for text in others[start:start + batch]])
        best_other = max(best_other, len(others) / (time.perf_counter() - started))
    print(f"non-English throughput (UMSAB test, {len(others)} tweets in 7 languages, batches of {batch}, best of 3):"
          f" {best_other:,.0f} texts/s; VADER alone on the same texts {best_other_vader:,.0f} texts/s"
          f" ({best_other / best_other_vader:.0%} of VADER)")
    print(f"resident memory: {rss_before:.0f} MB before the multilingual model loads, {rss_after:.0f} MB after")
    print(f"ours = language detection (CLD2, py3langid fallback, script) -> the shipped pooled model for de fr es it"
          f" pt ar hi and undetected Latin-script text, English (and undetected Latin text py3langid guesses is"
          f" English) read by {ours.english_reader()}, emoji-only or unknown otherwise; unknown scored as neutral. VADER = VADER alone, ±0.05 cut, on every text.")
    print(f"weights: bot/{WEIGHTS_FILE} {(REPO / 'bot' / WEIGHTS_FILE).stat().st_size / 1e6:.1f} MB on disk")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
