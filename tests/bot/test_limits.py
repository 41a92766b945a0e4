"""Block Kit limits are enforced by truncation before sending, never by failing."""

from bot.blocks import limits
from bot.blocks.limits import fit_message, fit_view


def test_too_many_blocks_are_cut_to_fifty_with_a_note():
    """A 70-block message keeps 49 blocks plus a 'more not shown' context."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"item {i}"}} for i in range(70)]
    _, fitted = fit_message("x", blocks)
    assert len(fitted) == limits.MESSAGE_BLOCKS
    assert "21 more not shown" in fitted[-1]["elements"][0]["text"]


def test_long_strings_are_clipped_to_each_limit():
    """Section text, header, fields and button text are clipped to Slack's limits."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 500}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 5000}, "fields": [{"type": "mrkdwn", "text": "f" * 3000}] * 12},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 100}, "action_id": "a" * 300, "value": "v" * 3000}]},
    ]
    _, fitted = fit_message("x", blocks)
    assert len(fitted[0]["text"]["text"]) == limits.HEADER_TEXT
    assert len(fitted[1]["text"]["text"]) == limits.SECTION_TEXT
    assert len(fitted[1]["fields"]) == limits.FIELDS
    assert all(len(f["text"]) == limits.FIELD_TEXT for f in fitted[1]["fields"])
    button = fitted[2]["elements"][0]
    assert len(button["text"]["text"]) == limits.BUTTON_TEXT
    assert len(button["action_id"]) == limits.IDENTIFIER and len(button["value"]) == limits.BUTTON_VALUE


def test_fallback_text_is_never_empty():
    """An empty fallback gets a placeholder so Slack never answers no_text."""
    text, _ = fit_message("   ", None)
    assert text


def test_input_blocks_are_not_changed():
    """Fitting works on a copy; the caller's blocks stay as they were."""
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 500}}]
    fit_message("x", blocks)
    assert len(blocks[0]["text"]["text"]) == 500


def test_views_keep_one_hundred_blocks_and_short_titles():
    """Modals and Home allow 100 blocks and a 24-character title."""
    view = {"type": "modal", "title": {"type": "plain_text", "text": "A very long modal title indeed"},
            "blocks": [{"type": "divider"}] * 150}
    fitted = fit_view(view)
    assert len(fitted["blocks"]) == limits.VIEW_BLOCKS
    assert len(fitted["title"]["text"]) == limits.MODAL_TITLE
