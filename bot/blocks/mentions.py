"""Block Kit for `/crisis sources`: sources, topics with last-hour counts, listening channels, a new token once."""

from __future__ import annotations

from typing import Any

from bot.blocks.limits import fit_message
from bot.mentions import SourcesAnswer


def build_sources_answer(answer: SourcesAnswer) -> tuple[str, list[dict[str, Any]]]:
    """Return (fallback text, blocks) for the sources overview."""
    topic_names = {t.id: t.name for t in answer.topics}
    source_lines = [f"• *{s.name}* ({s.vendor})" + (f" → {topic_names.get(s.default_topic_id, '?')}" if s.default_topic_id else "")
                    for s in answer.sources] or ["• none yet — `/crisis sources add NAME`"]
    topic_lines = []
    for topic in answer.topics:
        count = answer.hour_counts.get(topic.name)
        terms = ", ".join([*topic.keywords, *("#" + h for h in topic.hashtags)]) or "no keywords"
        hour = f"{count.total} in the last hour, {count.negative} negative" if count else "0 in the last hour"
        topic_lines.append(f"• *{topic.name}* ({terms}): {hour}")
    channel_lines = [f"• <#{c.channel_id}>" + (f" → {topic_names.get(c.topic_id, '?')}" if c.topic_id else "") for c in answer.channels]
    sections = [
        ("Sources (POST /api/mentions)", source_lines),
        ("Topics", topic_lines or ["• none yet — `/crisis sources topic NAME keyword, #hashtag`"]),
        ("Listening channels", channel_lines or ["• none — `/crisis sources channel #channel`"]),
    ]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": answer.summary}}]
    if answer.token:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                       "text": f"Token (shown once; send as `Authorization: Bearer …`):\n`{answer.token}`"}})
    for title, lines in sections:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n" + "\n".join(lines)}})
    text = answer.summary + (f" Token: {answer.token}" if answer.token else "")
    return fit_message(text, blocks)
