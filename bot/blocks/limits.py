"""Block Kit limits enforced before anything is sent: truncate, never fail (slack-contract §7)."""

from __future__ import annotations

import copy
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
HEADER_TEXT = 150
MARKDOWN_BLOCK = 12000
ACTION_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
URL = 3000
IDENTIFIER = 255
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
CONFIRM = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
MESSAGE_TEXT = 4000
ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut; never inside a `<…>` token (mention, date, link)."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    # Half a `<!date^…>` or `<@U…>` token renders as raw markup (or eats the rest), so cut before its `<`.
    opening = text.rfind("<", 0, cut)
    if opening != -1 and text.find(">", opening, cut) == -1:
        cut = opening
    return text[:cut] + ELLIPSIS


def pack_lines(lines: list[str], limit: int = SECTION_TEXT) -> list[str]:
    """Join `lines` into as few newline-joined chunks of at most `limit` characters as fit, cutting only between lines."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, limit)
        if current and size + 1 + len(line) > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        size += len(line) + (1 if current else 0)
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


def _clip_text_object(obj: dict[str, Any] | None, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip(obj["text"], limit)


def _fit_element(element: dict[str, Any]) -> None:
    if element.get("type") == "button":
        _clip_text_object(element.get("text"), BUTTON_TEXT)
        if "value" in element:
            element["value"] = element["value"][:BUTTON_VALUE]
        if "url" in element:
            element["url"] = element["url"][:URL]
    for key in ("action_id", "block_id"):
        if key in element:
            element[key] = element[key][:IDENTIFIER]
    if "options" in element:
        element["options"] = element["options"][:OPTIONS]
        for option in element["options"]:
            _clip_text_object(option.get("text"), OPTION_TEXT)
            if "value" in option:
                option["value"] = option["value"][:OPTION_VALUE]
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        for part, limit in CONFIRM.items():
            _clip_text_object(confirm.get(part), limit)


def _fit_block(block: dict[str, Any]) -> None:
    kind = block.get("type")
    if "block_id" in block:
        block["block_id"] = block["block_id"][:IDENTIFIER]
    if kind == "section":
        _clip_text_object(block.get("text"), SECTION_TEXT)
        if "fields" in block:
            block["fields"] = block["fields"][:FIELDS]
            for field in block["fields"]:
                _clip_text_object(field, FIELD_TEXT)
        if isinstance(block.get("accessory"), dict):
            _fit_element(block["accessory"])
    elif kind == "header":
        _clip_text_object(block.get("text"), HEADER_TEXT)
    elif kind == "markdown" and isinstance(block.get("text"), str):
        block["text"] = clip(block["text"], MARKDOWN_BLOCK)
    elif kind == "actions":
        block["elements"] = block.get("elements", [])[:ACTION_ELEMENTS]
        for element in block["elements"]:
            _fit_element(element)
    elif kind == "context":
        block["elements"] = block.get("elements", [])[:CONTEXT_ELEMENTS]
        for element in block["elements"]:
            _clip_text_object(element, SECTION_TEXT)
    elif kind == "input" and isinstance(block.get("element"), dict):
        _fit_element(block["element"])


def _fit_blocks(blocks: list[dict[str, Any]], limit: int, *, copy_first: bool = True) -> list[dict[str, Any]]:
    fitted = copy.deepcopy(blocks) if copy_first else list(blocks)
    if len(fitted) > limit:
        dropped = len(fitted) - limit + 1
        fitted = fitted[: limit - 1] + [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{ELLIPSIS} {dropped} more not shown"}]}
        ]
    for block in fitted:
        _fit_block(block)
    return fitted


def fit_message(text: str, blocks: list[dict[str, Any]] | None, *, owned: bool = False) -> tuple[str, list[dict[str, Any]] | None]:
    """Return (text, blocks) within message limits; the fallback text is never empty.

    `owned=True` lets a builder that has just made `blocks` skip the defensive deep copy (the ack path is hot).
    """
    fallback = clip(text.strip() or "(socialops message)", MESSAGE_TEXT)
    return fallback, None if blocks is None else _fit_blocks(blocks, MESSAGE_BLOCKS, copy_first=not owned)


def fit_view(view: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a modal or Home view within view limits."""
    fitted = dict(view)
    fitted["blocks"] = _fit_blocks(view.get("blocks", []), VIEW_BLOCKS)
    for key in ("title", "submit", "close"):
        if isinstance(fitted.get(key), dict):
            fitted[key] = dict(fitted[key])
            _clip_text_object(fitted[key], MODAL_TITLE)
    if "private_metadata" in fitted:
        fitted["private_metadata"] = fitted["private_metadata"][:PRIVATE_METADATA]
    for key in ("callback_id", "external_id"):
        if key in fitted:
            fitted[key] = fitted[key][:IDENTIFIER]
    return fitted
