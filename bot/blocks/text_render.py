"""Render Block Kit as plain text for console mode: what a person would see in Slack, readably."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_USER = re.compile(r"<@([UW][A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([CDG][A-Z0-9]+)(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>")
_MENUS = {"static_select", "radio_buttons", "overflow"}  # action elements a console user picks an option of


@dataclass(frozen=True)
class Button:
    """A pressable element: its label and what pressing it sends back."""

    label: str
    action_id: str
    value: str | None
    block_id: str | None
    url: str | None = None
    kind: str = "button"  # or a menu: static_select, radio_buttons, overflow (chosen with `pick N <option>`)
    options: tuple[tuple[str, str], ...] = ()  # a menu's (label, value) pairs, groups flattened

    @property
    def is_menu(self) -> bool:
        return self.kind != "button"


@dataclass
class Rendered:
    lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


def plain(text: str, names: dict[str, str] | None = None) -> str:
    """Turn Slack markup (mentions, dates, links) into readable text."""
    names = names or {}
    text = _USER.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _SUBTEAM.sub(lambda m: (m.group(2) or "@" + names.get(m.group(1), m.group(1))), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: Any, names: dict[str, str]) -> str:
    if isinstance(obj, dict):
        return plain(str(obj.get("text", "")), names)
    return plain(str(obj or ""), names)


def _elements_text(elements: list[dict[str, Any]], names: dict[str, str]) -> str:
    parts = []
    for element in elements:
        if element.get("type") == "image":
            parts.append(f"[image: {element.get('alt_text', '')}]")
        else:
            parts.append(_text_of(element, names))
    return "  ".join(p for p in parts if p)


def render_blocks(blocks: list[dict[str, Any]], names: dict[str, str] | None = None, first_button: int = 1,
                  numbering: Callable[[Button], int] | None = None) -> Rendered:
    """Render blocks as indented lines; buttons are numbered from `first_button` for `press N`, or by `numbering`."""
    names = names or {}
    out = Rendered()

    def add_button(element: dict[str, Any], block_id: str | None) -> str:
        button = Button(
            label=_text_of(element.get("text"), names), action_id=element.get("action_id", ""),
            value=element.get("value"), block_id=block_id, url=element.get("url"),
        )
        out.buttons.append(button)
        number = numbering(button) if numbering else first_button + len(out.buttons) - 1
        return f"[{button.label}] (press {number})" if not button.url else f"[{button.label}] → {button.url}"

    def add_menu(element: dict[str, Any], block_id: str | None) -> str:
        groups = element.get("option_groups") or [{"options": element.get("options", [])}]
        options = tuple((_text_of(o.get("text"), names), str(o.get("value", ""))) for g in groups for o in g.get("options", []))
        current = _text_of((element.get("initial_option") or {}).get("text"), names) or _text_of(element.get("placeholder"), names)
        menu = Button(label=current or "choose", action_id=element.get("action_id", ""), value=None, block_id=block_id,
                      kind=element.get("type", "static_select"), options=options)
        out.buttons.append(menu)
        number = numbering(menu) if numbering else first_button + len(out.buttons) - 1
        return f"<{menu.label} ▾> (pick {number} <option>, {len(options)} options)"

    for block in blocks:
        kind = block.get("type")
        block_id = block.get("block_id")
        if kind == "header":
            title = _text_of(block.get("text"), names)
            out.lines += [title.upper(), "=" * min(len(title), 60)]
        elif kind == "section":
            if block.get("text"):
                out.lines += _text_of(block["text"], names).splitlines()
            for item in block.get("fields", []):
                out.lines.append("  • " + _text_of(item, names).replace("\n", " — "))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                out.lines.append("  " + add_button(accessory, block_id))
            elif isinstance(accessory, dict) and accessory.get("type") in _MENUS:
                out.lines.append("  " + add_menu(accessory, block_id))
        elif kind == "context":
            out.lines.append("  " + _elements_text(block.get("elements", []), names))
        elif kind == "divider":
            out.lines.append("-" * 40)
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    labels.append(add_button(element, block_id))
                elif element.get("type") in _MENUS:
                    labels.append(add_menu(element, block_id))
                else:
                    labels.append(f"<{element.get('type')}>")
            out.lines.append("  " + "   ".join(labels))
        elif kind == "markdown":
            out.lines += plain(str(block.get("text", "")), names).splitlines()
        elif kind == "image":
            out.lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            label = _text_of(block.get("label"), names)
            element = block.get("element", {})
            out.lines.append(f"  {label}: <{element.get('type', 'input')}> (block {block_id})")
            # Prefilled values, so a console user sees what `submit` would send unchanged.
            prefilled = element.get("initial_value") or _text_of((element.get("initial_option") or {}).get("text"), names) or _picked(element, names)
            out.lines += [f"    | {line}" for line in str(prefilled).splitlines()[:12]] if prefilled else []
        else:
            out.lines.append(f"[{kind} block]")
    return out


def _picked(element: dict[str, Any], names: dict[str, str]) -> str:
    """Return what a user, channel or checkbox element starts with, readably ("@giulia, @marcus")."""
    people = element.get("initial_users") or ([element["initial_user"]] if element.get("initial_user") else [])
    places = (element.get("initial_conversations") or element.get("initial_channels")
              or [c for c in (element.get("initial_conversation"), element.get("initial_channel")) if c])
    options = element.get("initial_options") or []
    return ", ".join([*("@" + names.get(u, u) for u in people), *("#" + names.get(c, c) for c in places),
                      *(_text_of(o.get("text"), names) for o in options)])


def render_view(view: dict[str, Any], names: dict[str, str] | None = None, first_button: int = 1,
                numbering: Callable[[Button], int] | None = None) -> Rendered:
    """Render a modal or Home view with its title and submit label."""
    names = names or {}
    body = render_blocks(view.get("blocks", []), names, first_button, numbering)
    title = _text_of(view.get("title"), names) if view.get("title") else "Home"
    head = [f"┌─ {title} ({view.get('type', 'view')}) ─"]
    tail = [f"└─ [{_text_of(view['submit'], names)}] (type: submit)"] if view.get("submit") else ["└─"]
    return Rendered(lines=head + ["│ " + line for line in body.lines] + tail, buttons=body.buttons)
