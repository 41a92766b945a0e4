"""Console rendering of Block Kit: readable text, numbered buttons."""

from bot.blocks.text_render import plain, render_blocks, render_view


def test_headers_sections_fields_and_context_render_as_lines():
    """Each block kind becomes readable text."""
    rendered = render_blocks([
        {"type": "header", "text": {"type": "plain_text", "text": "On call now"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Primary <@U1>"}, "fields": [{"type": "mrkdwn", "text": "*Until*\nMon"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "handoff Monday"}]},
    ], names={"U1": "ana"})
    assert rendered.lines[0] == "ON CALL NOW"
    assert "Primary @ana" in rendered.lines
    assert "  • *Until* — Mon" in rendered.lines
    assert any("handoff Monday" in line for line in rendered.lines)


def test_buttons_are_numbered_for_pressing():
    """Buttons get `press N` numbers continuing from `first_button`."""
    rendered = render_blocks([{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Take"}, "action_id": "cover-take", "value": "7"},
        {"type": "button", "text": {"type": "plain_text", "text": "Ack"}, "action_id": "ack", "value": "8"},
    ]}], first_button=3)
    assert "[Take] (press 3)" in rendered.lines[0] and "[Ack] (press 4)" in rendered.lines[0]
    assert [b.action_id for b in rendered.buttons] == ["cover-take", "ack"]


def test_slack_markup_becomes_plain_text():
    """Dates show their fallback, links their label and URL, channels their name."""
    text = plain("<!date^1700000000^{date_short}|Nov 14> in <#C1|crisis> see <https://x.test|post>")
    assert text == "Nov 14 in #crisis see post (https://x.test)"


def test_views_show_title_and_submit():
    """A modal renders with a frame, its title and submit label."""
    rendered = render_view({"type": "modal", "title": {"type": "plain_text", "text": "Setup"},
                            "submit": {"type": "plain_text", "text": "Save"}, "blocks": []})
    assert "Setup" in rendered.lines[0] and "[Save]" in rendered.lines[-1]


def test_menus_show_their_choice_and_option_count_and_number_like_buttons():
    """A select (grouped options flattened) or an accessory menu is numbered with the buttons, for `pick N`."""
    rendered = render_blocks([
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Calendar*"},
         "accessory": {"type": "static_select", "action_id": "cal", "initial_option": {"text": {"type": "plain_text", "text": "IT"}, "value": "IT"},
                       "option_groups": [{"label": {"type": "plain_text", "text": "I"}, "options": [
                           {"text": {"type": "plain_text", "text": "IE"}, "value": "IE"}, {"text": {"type": "plain_text", "text": "IT"}, "value": "IT"}]},
                           {"label": {"type": "plain_text", "text": "N"}, "options": [{"text": {"type": "plain_text", "text": "NZ"}, "value": "NZ"}]}]}},
        {"type": "actions", "elements": [
            {"type": "static_select", "action_id": "from", "placeholder": {"type": "plain_text", "text": "Quiet from"},
             "options": [{"text": {"type": "plain_text", "text": "22:00"}, "value": "22:00"}]},
            {"type": "button", "action_id": "off", "text": {"type": "plain_text", "text": "Off"}}]},
    ], first_button=4)
    assert "  <IT ▾> (pick 4 <option>, 3 options)" in rendered.lines
    assert "  <Quiet from ▾> (pick 5 <option>, 1 options)   [Off] (press 6)" in rendered.lines
    calendar, quiet, off = rendered.buttons
    assert calendar.is_menu and calendar.options == (("IE", "IE"), ("IT", "IT"), ("NZ", "NZ")) and not off.is_menu
