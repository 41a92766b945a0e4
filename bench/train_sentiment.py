"""Train the linear layer over VADER (bot/sentiment_weights.json) on SemEval-2017 *validation* tweets only.
The test split is never read here, so bench/sentiment.py's SemEval-2017 test score stays a held-out score."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sentiment import macro_f1  # noqa: E402  (one macro-F1 for every bench script)
from bot.sentiment import (  # noqa: E402  (the repo root must be importable when run as a script)
    CLASSES,
    DENSE_FEATURES,
    WEIGHTS_RESOURCE,
    _vader_scorer,
    normalise_tweet,
    tweet_tokens,
    vader_features,
)

VALIDATION = REPO.parent / "shared" / "data" / "sentiment" / "tweeteval_semeval2017_sentiment"
OUTPUT = REPO / "bot" / WEIGHTS_RESOURCE
MIN_COUNT = 2  # tokens seen in fewer tweets than this carry noise, not signal
L2 = 0.01  # chosen by 5-fold cross-validation on the validation split (0.001..0.03, unigrams vs bigrams)
EPOCHS = 300
SEED = 0


def read_split(name: str) -> tuple[list[str], np.ndarray]:
    """Return the texts and labels of one TweetEval split."""
    labels = [int(x) for x in (VALIDATION / f"{name}_labels.txt").read_text().split()]
    texts = (VALIDATION / f"{name}_text.txt").read_text(encoding="utf-8").split("\n")[: len(labels)]
    return texts, np.array(labels)


def featurise(texts: list[str]) -> tuple[np.ndarray, list[set[str]]]:
    """Return dense VADER features and the token set of each text, exactly as the analyser computes them."""
    scorer = _vader_scorer()  # the same numbers as vaderSentiment's polarity_scores, faster
    dense, token_sets = [], []
    for text in texts:
        normalised = normalise_tweet(text, scorer.lexicon)
        dense.append(vader_features(scorer.polarity(normalised), text))
        token_sets.append(set(tweet_tokens(normalised)))
    return np.array(dense), token_sets


def design_matrix(dense: np.ndarray, token_sets: list[set[str]], vocabulary: dict[str, int]) -> np.ndarray:
    """Stack dense features and binary token indicators."""
    x = np.zeros((len(token_sets), dense.shape[1] + len(vocabulary)))
    x[:, : dense.shape[1]] = dense
    for row, tokens in enumerate(token_sets):
        for token in tokens:
            column = vocabulary.get(token)
            if column is not None:
                x[row, dense.shape[1] + column] = 1.0
    return x


def train_softmax(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Fit class-balanced multinomial logistic regression by full-batch Adam (deterministic)."""
    n, d = x.shape
    weights, bias = np.zeros((d, 3)), np.zeros(3)
    onehot = np.eye(3)[y]
    # Balance classes: macro-F1 rewards the rare positive class as much as the common neutral one.
    sample_weight = (len(y) / (3 * np.bincount(y, minlength=3)))[y][:, None]
    m_w, v_w, m_b, v_b = np.zeros_like(weights), np.zeros_like(weights), np.zeros(3), np.zeros(3)
    step = 0.05
    for t in range(1, EPOCHS + 1):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sample_weight / n
        g_w, g_b = x.T @ g + l2 * weights, g.sum(axis=0)
        m_w, v_w = 0.9 * m_w + 0.1 * g_w, 0.999 * v_w + 0.001 * g_w**2
        m_b, v_b = 0.9 * m_b + 0.1 * g_b, 0.999 * v_b + 0.001 * g_b**2
        weights -= step * (m_w / (1 - 0.9**t)) / (np.sqrt(v_w / (1 - 0.999**t)) + 1e-8)
        bias -= step * (m_b / (1 - 0.9**t)) / (np.sqrt(v_b / (1 - 0.999**t)) + 1e-8)
    return weights, bias


def vocabulary_of(token_sets: list[set[str]]) -> dict[str, int]:
    """Index the tokens that occur in at least MIN_COUNT tweets."""
    counts = Counter(token for tokens in token_sets for token in tokens)
    return {token: i for i, token in enumerate(sorted(t for t, n in counts.items() if n >= MIN_COUNT))}


def main() -> int:
    if not VALIDATION.is_dir():
        print(f"skip: {VALIDATION} is absent (needs ../shared beside the repo)")
        return 0
    texts, y = read_split("val")
    dense, token_sets = featurise(texts)

    folds = np.array_split(np.random.default_rng(SEED).permutation(len(y)), 5)
    scores = []
    for k, held_out in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        vocabulary = vocabulary_of([token_sets[i] for i in train])
        w, b = train_softmax(design_matrix(dense[train], [token_sets[i] for i in train], vocabulary), y[train], L2)
        held = design_matrix(dense[held_out], [token_sets[i] for i in held_out], vocabulary)
        scores.append(macro_f1(y[held_out].tolist(), (held @ w + b).argmax(axis=1).tolist()))
    print(f"5-fold CV macro-F1 on validation: {np.mean(scores):.4f}")

    vocabulary = vocabulary_of(token_sets)
    w, b = train_softmax(design_matrix(dense, token_sets, vocabulary), y, L2)
    n_dense = len(DENSE_FEATURES)
    tokens = {}
    for token, column in vocabulary.items():
        row = [round(float(v), 4) for v in w[n_dense + column]]
        if max(abs(v) for v in row) >= 0.005:  # near-zero rows only cost bytes and lookups
            tokens[token] = row
    payload = {
        "trained_on": "TweetEval/SemEval-2017 validation split (2,000 tweets); never the test split",
        "script": "bench/train_sentiment.py",
        "classes": list(CLASSES),
        "dense_features": list(DENSE_FEATURES),
        "bias": [round(float(v), 4) for v in b],
        "dense": [[round(float(v), 4) for v in w[i]] for i in range(n_dense)],
        "tokens": tokens,
    }
    OUTPUT.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n",
                      encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}: {len(tokens)} tokens, {OUTPUT.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
