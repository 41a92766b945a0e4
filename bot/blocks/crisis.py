"""Block Kit for crises: the card (channel and DM), its timeline lines, the resolve modal, `/crisis list|status`.

The card never mentions the person who pressed a button in a way that notifies them: people appear on the
card only through chat.update edits (edits do not notify); thread timeline lines name who acted in plain text
(their Slack name, no mention) and mention only the people paged (and a newly assigned commander, who should hear it).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.blocks.limits import clip, fit_message
from bot.crisis import MAX_NOTE, Crisis, CrisisEvent, EventKind, Status, describe_language_mix, distinct_mentions, notes
from bot.plural import counted

SPARK = "▁▂▃▄▅▆▇█"
RESOLVE_CALLBACK = "crisis-resolve"
NOTE_CALLBACK = "crisis-note"


class CrisisActions(StrEnum):
    acknowledge = "crisis-ack"
    responding = "crisis-responding"
    escalate = "crisis-escalate"
    resolve = "crisis-resolve"
    false_alarm = "crisis-false-alarm"
    add_note = "crisis-add-note"
    playbook = "crisis-playbook"


def sparkline(series: list[float] | tuple[float, ...], width: int = 30) -> str:
    """Return the last `width` values as block characters scaled to their maximum ("" for no data)."""
    values = list(series)[-width:]
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in values)


def duration(delta: timedelta) -> str:
    """Return a short duration like "3m12s" or "1h05m"."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def clock(at: datetime, tz: str = "UTC", *, day: bool = False) -> str:
    """Return a Slack date token: every reader sees their own local time (and day, with `day`); the fallback is in `tz`."""
    local = at.astimezone(ZoneInfo(tz))
    shown = "{date_short_pretty} {time}" if day else "{time}"
    fallback = f"{local:%a %d %b %H:%M} {local.tzname()}" if day else f"{local:%H:%M} {local.tzname()}"
    return f"<!date^{int(at.timestamp())}^{shown}|{fallback}>"


# Where a post was made, from its link; otherwise the card names the listening source it came through.
_NETWORKS = {"twitter.com": "X", "x.com": "X", "instagram.com": "Instagram", "facebook.com": "Facebook", "tiktok.com": "TikTok",
             "youtube.com": "YouTube", "youtu.be": "YouTube", "linkedin.com": "LinkedIn", "reddit.com": "Reddit",
             "threads.net": "Threads", "bsky.app": "Bluesky", "trustpilot.com": "Trustpilot"}


def network_of(mention: dict[str, Any]) -> str | None:
    """Return the social network of a mention by its link's host, else its listening source's name."""
    host = (urlsplit(str(mention.get("url") or "")).hostname or "").removeprefix("www.").removeprefix("m.")
    return _NETWORKS.get(host) or (str(mention["source"]) if mention.get("source") else None)


def mention_line(mention: dict[str, Any], tz: str) -> str:
    """Return one top-mention line: the linked text, then author · network · local time · reach."""
    text = clip(str(mention.get("text", "")).replace("\n", " "), 140)
    where = f"<{mention['url']}|{text}>" if mention.get("url") else text
    facts = []
    if mention.get("author"):
        facts.append(str(mention["author"]))
    if network := network_of(mention):
        facts.append(network)
    if mention.get("posted_at"):
        facts.append(clock(datetime.fromisoformat(str(mention["posted_at"])), tz, day=True))
    if mention.get("reach"):
        facts.append(f"reach {mention['reach']:,}")
    return f"• {where}" + (f" — {' · '.join(facts)}" if facts else "")


def status_line(crisis: Crisis) -> str:
    """Return the card's status, e.g. "Acked by @x at 03:14 — 3m12s"."""
    if crisis.status is Status.RESOLVED:
        assert crisis.resolved_at is not None
        real = {True: " (real crisis)", False: " (not a real crisis)"}.get(crisis.real, "")  # type: ignore[arg-type]
        return f":white_check_mark: Resolved by <@{crisis.resolved_by}> at {clock(crisis.resolved_at, crisis.team_tz)} — {duration(crisis.resolved_at - crisis.opened_at)}{real}"
    if crisis.status is Status.FALSE_ALARM:
        assert crisis.resolved_at is not None
        return f":zzz: False alarm, closed by <@{crisis.resolved_by}> at {clock(crisis.resolved_at, crisis.team_tz)}"
    if crisis.acked_by and crisis.acked_at:
        line = f":eyes: Acked by <@{crisis.acked_by}> at {clock(crisis.acked_at, crisis.team_tz)} — {duration(crisis.acked_at - crisis.opened_at)}"
        if crisis.responders:
            line += " · responding: " + ", ".join(f"<@{u}>" for u in crisis.responders)
        return line
    return ":rotating_light: Waiting for an acknowledgement"


def _button(text: str, action: CrisisActions, crisis: Crisis, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action.value, "value": str(crisis.id)}
    if style:
        button["style"] = style
    return button


def _headline(crisis: Crisis) -> str:
    return f"{crisis.severity.label} crisis #{crisis.id}: {crisis.topic}"


def build_crisis_card(crisis: Crisis, *, paging: tuple[str, ...] = ()) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) of the crisis card; buttons only while the crisis is open."""
    title = _headline(crisis)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": clip(":rotating_light: " + title, 150)}}]
    facts = [f"*Team* {crisis.team_name}", f"*Opened* {clock(crisis.opened_at, crisis.team_tz, day=True)} ({'declared by <@' + crisis.declared_by + '>' if crisis.declared_by else 'detected'})"]
    if crisis.summary:
        facts.append(f"*Summary* {crisis.summary}")
    if crisis.commander:
        facts.append(f"*Commander* <@{crisis.commander}>")
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}})
    stats = crisis.stats
    if stats is not None:
        fields = [
            {"type": "mrkdwn", "text": f"*Negative, last {stats.window_minutes} min*\n{stats.negative} (baseline {stats.baseline:.1f})"},
            {"type": "mrkdwn", "text": f"*Negative share*\n{stats.negative_share:.0%}"},
        ]
        spark = sparkline(stats.series)
        if spark:
            fields.append({"type": "mrkdwn", "text": f"*Trend*\n`{spark}`"})
        if stats.top_terms:
            fields.append({"type": "mrkdwn", "text": "*Driving it*\n" + ", ".join(stats.top_terms[:8])})
        if stats.languages:
            fields.append({"type": "mrkdwn", "text": "*Languages (negative)*\n" + describe_language_mix(stats.languages)})
        blocks.append({"type": "section", "fields": fields})
        # Cards stored before de-duplication repeat texts too, so de-duplicate here as well.
        lines = [mention_line(m, crisis.team_tz) for m in distinct_mentions(stats.top_mentions)]
        if lines:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Most-reached negative mentions*\n" + "\n".join(lines)}})
    who = paging or crisis.paged
    if who and not crisis.status.closed:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Paging " + ", ".join(f"<@{u}>" for u in who)}]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": status_line(crisis)}})
    if not crisis.status.closed:
        buttons = []
        if crisis.acked_by is None:
            buttons.append(_button("Acknowledge", CrisisActions.acknowledge, crisis, "primary"))
        buttons += [
            _button("I'm responding", CrisisActions.responding, crisis),
            _button("Escalate now", CrisisActions.escalate, crisis),
            _button("Resolve", CrisisActions.resolve, crisis),
            _button("False alarm", CrisisActions.false_alarm, crisis, "danger"),
            _button("Add note", CrisisActions.add_note, crisis),
            _button("Open playbook", CrisisActions.playbook, crisis),
        ]
        # A fresh block_id per state: Slack advises new block ids when a message is updated.
        blocks.append({"type": "actions", "block_id": f"crisis-{crisis.id}-{crisis.status.value}-{len(crisis.responders)}", "elements": buttons})
    text = f"{title} — {status_line(crisis)}"
    return fit_message(text, blocks)


def build_page(crisis: Crisis, *, channel: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM a paged person gets: the card, plus where the crisis is being handled."""
    text, blocks = build_crisis_card(crisis)
    where = f" Follow it in <#{channel}>." if channel else ""
    # The same builder re-renders DM copies in place, so a closed crisis no longer says "being paged".
    lead = "You were paged" if crisis.status.closed else "You are being paged"
    intro = {"type": "section", "text": {"type": "mrkdwn", "text": f"*{lead}* for {crisis.severity.label} on *{crisis.topic}*.{where}"}}
    return fit_message(f"{lead}: {text}", [intro, *blocks])


def build_channel_page(crisis: Crisis, *, people: tuple[str, ...], mention: str | None) -> str:
    """Return the channel line that mentions whoever a step pages."""
    names = [f"<@{u}>" for u in people] + ([mention] if mention else [])
    return f"{' '.join(names)} — {crisis.severity.label} crisis #{crisis.id} on *{crisis.topic}* needs an acknowledgement (card above)."


def build_dm_failed(crisis: Crisis, *, user_id: str, error: str) -> str:
    """Return the channel fallback (and admin note) when a page could not be delivered by DM."""
    return f"<@{user_id}> I could not DM you ({error}) — crisis #{crisis.id} on *{crisis.topic}* is waiting for an acknowledgement here."


def acted_by_a_person(event: CrisisEvent) -> bool:
    """Return whether a person (not the scheduler or the detector) did what `event` records."""
    return event.actor.startswith(("U", "W")) and event.kind is not EventKind.PAGE


def timeline_line(crisis: Crisis, event: CrisisEvent, *, name_actors: bool = False, actor_name: str | None = None) -> str:
    """Return one timeline line, naming who acted.

    `name_actors` mentions them, for ephemeral views (`/crisis status`), where a mention notifies nobody; in the
    thread `actor_name` (their Slack name) names them as plain text, so the line does not notify them again.
    """
    line = _timeline_text(crisis, event)
    if not acted_by_a_person(event):
        return line
    if name_actors:
        return line + f" — <@{event.actor}>"
    return line + f" — {_plain_name(actor_name or event.actor)}"


def _plain_name(name: str) -> str:
    # Slack markup in a display name (<, >, &) would be read as a token; escape as Slack asks.
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timeline_text(crisis: Crisis, event: CrisisEvent) -> str:
    at = clock(event.at, crisis.team_tz)
    # The opening line is history: the severity it was opened with (stored with the event), not today's.
    severity = (event.detail or {}).get("severity") or crisis.severity.label
    texts = {
        EventKind.DECLARED: f"{at} Declared ({severity}).",
        EventKind.DETECTED: f"{at} Detected a spike ({severity}).",
        EventKind.ACK: f"{at} Acknowledged via {event.via.replace('_', ' ')}.",
        EventKind.RESPONDING: f"{at} A responder joined (see the card).",
        EventKind.ESCALATED: f"{at} Escalated by hand to step {(event.detail or {}).get('step', '?')}.",
        EventKind.STILL_ON_IT: f"{at} Asked the acknowledger whether they are still on it.",
        EventKind.RESOLVED: f"{at} Resolved: {(event.detail or {}).get('note') or 'no note'}.",
        EventKind.FALSE_ALARM: f"{at} Closed as a false alarm.",
        EventKind.NOTE: f"{at} Note: {(event.detail or {}).get('note', '')}",
        EventKind.PLAYBOOK_CHECK: f"{at} Playbook: ✓ {(event.detail or {}).get('step', '')}",
        EventKind.SEVERITY: f"{at} Severity {(event.detail or {}).get('from', '?')} → {(event.detail or {}).get('to', '?')}.",
        # The one line that mentions someone who was not paged: being named commander should notify them.
        EventKind.ASSIGNED: f"{at} Commander: <@{event.target}>.",
        EventKind.STAKEHOLDER_UPDATE: f"{at} Stakeholder update{' in <#' + event.target + '>' if event.target else ''}: "
                                      f"{(event.detail or {}).get('text', '')}",
    }
    if event.kind is EventKind.PAGE:
        how = {"dm": "by DM", "channel": "in the channel", "channel_fallback": "in the channel instead", "call": "by phone call",
               "sms": "by SMS", "pagerduty": "through PagerDuty", "opsgenie": "through Opsgenie"}.get(event.method or "", event.method or "")
        state = "" if event.delivered else " — *not delivered*"
        target = event.target if (event.target or "").startswith("<") else f"<@{event.target}>"
        return f"{at} Paged {target} {how}{state}."
    return texts.get(event.kind, f"{at} {event.kind.value}")


def build_resolve_modal(crisis: Crisis, *, false_alarm: bool = False) -> dict[str, Any]:
    """Return the resolve modal: a resolution note and "was it a real crisis?"."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_headline(crisis)}*"}},
        {"type": "input", "block_id": "note", "label": {"type": "plain_text", "text": "Resolution note"},
         "element": {"type": "plain_text_input", "action_id": "note", "multiline": True}, "optional": false_alarm},
        {"type": "input", "block_id": "real", "label": {"type": "plain_text", "text": "Was it a real crisis?"},
         "element": {"type": "radio_buttons", "action_id": "real", "options": [
             {"text": {"type": "plain_text", "text": "Yes, a real crisis"}, "value": "yes"},
             {"text": {"type": "plain_text", "text": "No"}, "value": "no"},
         ]}},
    ]
    return {"type": "modal", "callback_id": RESOLVE_CALLBACK, "title": {"type": "plain_text", "text": f"Resolve #{crisis.id}"},
            "submit": {"type": "plain_text", "text": "Resolve"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"crisis_id": crisis.id}), "blocks": blocks}


def build_crisis_list(crises: list[Crisis]) -> tuple[str, list[dict[str, Any]]]:
    """Return the open crises, one line each."""
    if not crises:
        text = "No open crises."
        return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
    lines = [f"• *{c.title}* ({c.team_name}) — {status_line(c)}" for c in crises]
    heading = counted(len(crises), "open crisis", "open crises")
    text = f"{heading}: " + ", ".join(c.title for c in crises)
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*\n" + "\n".join(lines)}}])


def build_crisis_status(crisis: Crisis, timeline: list[CrisisEvent]) -> tuple[str, list[dict[str, Any]]]:
    """Return the card without buttons, its notes (all of them, with authors) and its latest timeline (for `/crisis status`)."""
    text, blocks = build_crisis_card(crisis)
    blocks = [b for b in blocks if b["type"] != "actions"]
    written = notes(timeline)
    if written:
        lines = [f"{clock(e.at, crisis.team_tz)} <@{e.actor}>: {(e.detail or {}).get('note', '')}" for e in written[-15:]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(f"*Notes ({len(written)})*\n" + "\n".join(lines), 3000)}})
        text += f" — {len(written)} note" + ("s" if len(written) != 1 else "")
    lines = [timeline_line(crisis, e, name_actors=True) for e in timeline[-20:]]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip("*Timeline*\n" + "\n".join(lines), 3000)}})
    return fit_message(text, blocks)


def build_note_modal(crisis: Crisis) -> dict[str, Any]:
    """Return the "Add note" modal: one multiline note for the crisis record."""
    return {"type": "modal", "callback_id": NOTE_CALLBACK, "title": {"type": "plain_text", "text": f"Note on #{crisis.id}"},
            "submit": {"type": "plain_text", "text": "Add note"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"crisis_id": crisis.id}),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{_headline(crisis)}*"}},
                       {"type": "input", "block_id": "note", "label": {"type": "plain_text", "text": "Note for the record"},
                        "element": {"type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": MAX_NOTE},
                        "hint": {"type": "plain_text", "text": "It goes to the card's thread and to the crisis record."}}]}


def build_confirmation(text: str) -> tuple[str, list[dict[str, Any]]]:
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def build_joined_declare(crisis: Crisis, *, where: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the answer to a declare that found the topic already in crisis: it joined that one."""
    return build_confirmation(f"*{crisis.topic}* already has an open crisis, {crisis.title} ({status_line(crisis)}). "
                              f"Your declaration was added to its timeline; follow it in {where}.")
