"""`socialops sentiment`: the bot's reading of texts, one a line on standard input, one label a line out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from bot.sentiment import MentionAnalyser, detect_language


def read_lines(lines: Iterable[str], out: TextIO, *, as_json: bool, batch: int = 500) -> int:
    """Write a label (or a JSON object with language, score, confidence and analyser) for every input line."""
    analyser = MentionAnalyser()
    pending: list[str] = []

    def flush() -> None:
        for text, reading in zip(pending, analyser.analyse_many([(text, None) for text in pending])):
            if as_json:
                out.write(json.dumps({
                    "label": reading.label, "language": detect_language(text), "score": round(reading.score, 4),
                    "confidence": round(reading.confidence, 4), "analyser": reading.analyser,
                }, ensure_ascii=False) + "\n")
            else:
                out.write(f"{reading.label}\n")
        pending.clear()

    for line in lines:
        pending.append(line.rstrip("\n"))
        if len(pending) >= batch:
            flush()
    flush()
    return 0
