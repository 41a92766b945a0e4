"""The crisis card: status line, sparkline, buttons while open only, limits, and no mention of the presser in timeline lines."""

from datetime import UTC, datetime, timedelta

from bot.blocks.crisis import CrisisActions, build_crisis_card, duration, sparkline, status_line, timeline_line
from bot.crisis import Crisis, CrisisEvent, EventKind, SpikeStats, Status
from bot.spikes import Severity

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
BASE = Crisis(id=7, team_id=1, team_name="social", workspace_id="T1", topic="acme", severity=Severity.SEV1, summary="",
              origin="detected", declared_by=None, status=Status.OPEN, opened_at=T0, last_activity_at=T0,
              stats=SpikeStats(negative=42, baseline=3.2, negative_share=0.71, series=(1, 2, 1, 9, 30),
                               top_mentions=({"text": "broken again", "reach": 120000, "url": "https://x.example/1"},),
                               top_terms=("#acmefail", "refund")))


def test_status_line_reads_acked_by_at_time_with_elapsed():
    """"Acked by @x at 03:14 — 3m12s"."""
    acked = Crisis(**{**BASE.__dict__, "status": Status.ACKNOWLEDGED, "acked_by": "UP", "acked_at": T0 + timedelta(minutes=3, seconds=12)})
    assert status_line(acked).startswith(":eyes: Acked by <@UP> at <!date^") and status_line(acked).endswith("— 3m12s")


def test_open_card_has_all_buttons_and_the_spike_facts():
    """An open card shows the counts, share, trend, top mention with its link, drivers, and six buttons."""
    text, blocks = build_crisis_card(BASE)
    body = str(blocks)
    assert "SEV1 crisis #7: acme" in text
    assert "42 (baseline 3.2)" in body and "71%" in body and "https://x.example/1" in body and "#acmefail" in body
    actions = [b for b in blocks if b["type"] == "actions"][0]["elements"]
    assert [a["action_id"] for a in actions] == [a.value for a in CrisisActions]


def test_closed_card_has_no_buttons():
    """A resolved card keeps its facts and loses its buttons."""
    resolved = Crisis(**{**BASE.__dict__, "status": Status.RESOLVED, "resolved_by": "UP", "resolved_at": T0 + timedelta(hours=1), "real": True})
    _, blocks = build_crisis_card(resolved)
    assert all(b["type"] != "actions" for b in blocks)
    assert "Resolved by <@UP>" in str(blocks) and "real crisis" in str(blocks)


def test_sparkline_scales_to_the_maximum():
    """The largest value is a full block, zero the lowest; no data is empty."""
    assert sparkline([0, 5, 10]) == "▁▅█" and sparkline([]) == "" and sparkline([0, 0]) == "▁▁"


def test_timeline_ack_line_names_the_presser_without_mentioning_them():
    """A thread line names who acted by their Slack name (no mention, so no second notification); pages mention whom they paged."""
    ack = timeline_line(BASE, CrisisEvent(at=T0, kind=EventKind.ACK, actor="UP", via="button"), actor_name="priya")
    page = timeline_line(BASE, CrisisEvent(at=T0, kind=EventKind.PAGE, actor="system", via="scheduler", target="UB", method="dm", delivered=False))
    assert ack.endswith("Acknowledged via button. — priya") and "<@UP>" not in ack
    assert "<@UB>" in page and "not delivered" in page and "system" not in page


def test_every_person_action_in_the_thread_says_who_did_it():
    """Notes, resolves, escalations, playbook ticks and responders carry the actor's name; scheduler events do not."""
    for kind in (EventKind.NOTE, EventKind.RESOLVED, EventKind.ESCALATED, EventKind.RESPONDING, EventKind.FALSE_ALARM, EventKind.PLAYBOOK_CHECK):
        line = timeline_line(BASE, CrisisEvent(at=T0, kind=kind, actor="U0CHLOE", via="button", detail={"note": "x", "step": 2}),
                             actor_name="chloe <admin>")
        assert line.endswith(" — chloe &lt;admin&gt;"), line
    assert " — " not in timeline_line(BASE, CrisisEvent(at=T0, kind=EventKind.STILL_ON_IT, actor="system", via="scheduler"))
    assert timeline_line(BASE, CrisisEvent(at=T0, kind=EventKind.NOTE, actor="U0CHLOE", via="button", detail={"note": "x"}),
                         name_actors=True).endswith(" — <@U0CHLOE>")


def test_the_opening_line_keeps_the_severity_it_was_detected_with():
    """A SEV2 detection later raised to SEV1 still reads "Detected a spike (SEV2)"; history does not change."""
    raised = Crisis(**{**BASE.__dict__, "severity": Severity.SEV1})
    detected = CrisisEvent(at=T0, kind=EventKind.DETECTED, actor="system", via="detector", detail={"severity": "SEV2", "summary": ""})
    declared = CrisisEvent(at=T0, kind=EventKind.DECLARED, actor="U0MARCUS", via="slash_command", detail={"severity": "SEV3", "summary": ""})
    assert "Detected a spike (SEV2)." in timeline_line(raised, detected)
    assert "Declared (SEV3)." in timeline_line(raised, declared, actor_name="marcus")


def test_durations_read_short():
    """Minutes and seconds under an hour, hours and minutes above."""
    assert duration(timedelta(seconds=192)) == "3m12s" and duration(timedelta(hours=1, minutes=5)) == "1h05m"


def test_the_card_names_the_language_mix_of_the_negative_mentions():
    """62 % Italian, 30 % English among the negatives reads "62 % it, 30 % en" on the card and survives storage."""
    from bot.crisis import describe_language_mix, language_mix

    languages = ["it"] * 31 + ["en"] * 15 + [None] * 4
    mix = language_mix(languages)
    assert mix == (("it", 0.62), ("en", 0.30))
    assert describe_language_mix(mix) == "62 % it, 30 % en"
    stats = SpikeStats(**{**BASE.stats.__dict__, "languages": mix})
    assert SpikeStats.from_dict(stats.to_dict()) == stats
    _, blocks = build_crisis_card(Crisis(**{**BASE.__dict__, "stats": stats}))
    assert "*Languages (negative)*\\n62 % it, 30 % en" in str(blocks)


def test_no_language_line_without_negative_mentions():
    """An empty window names no languages."""
    from bot.crisis import language_mix

    assert language_mix([]) == ()
    assert "Languages" not in str(build_crisis_card(BASE)[1])


def test_crisis_list_heading_says_crises():
    """Two open crises read "2 open crises", one reads "1 open crisis"."""
    from bot.blocks.crisis import build_crisis_list
    second = Crisis(**{**BASE.__dict__, "id": 8})
    assert build_crisis_list([BASE, second])[0].startswith("2 open crises: ")
    assert build_crisis_list([BASE])[0].startswith("1 open crisis: ")


def test_top_negative_posts_are_distinct_and_say_who_where_and_when():
    """Three copies of one text (a retweet, a cross-post with a link) show once, with author, network and the post's time as a
    date token (reader's zone) whose fallback is the team's zone; a source name stands in when the link names no network."""
    posted = "2026-11-24T01:52:00+00:00"
    copies = ({"text": "Broken AGAIN, @acme!", "author": "@dana", "reach": 120000, "url": "https://x.com/dana/1", "source": "bw", "posted_at": posted},
              {"text": "broken again @acme https://t.co/z", "author": "@eve", "reach": 900, "url": "https://x.com/eve/2", "source": "bw"},
              {"text": "broken  again, @ACME", "author": "@fay", "reach": 10, "url": None, "source": "bw"},
              {"text": "Refund still missing", "author": "Gio", "reach": 50, "url": "https://forum.example/t/9", "source": "talkwalker"})
    rome = Crisis(**{**BASE.__dict__, "team_tz": "Europe/Rome",
                     "stats": SpikeStats(negative=42, baseline=3.2, negative_share=0.71, series=(1, 2), top_mentions=copies)})
    _, blocks = build_crisis_card(rome)
    section = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "negative mentions" in b.get("text", {}).get("text", ""))
    lines = section.split("\n")[1:]
    assert len(lines) == 2
    stamp = int(datetime.fromisoformat(posted).timestamp())
    assert lines[0] == (f"• <https://x.com/dana/1|Broken AGAIN, @acme!> — @dana · X · <!date^{stamp}^{{date_short_pretty}} {{time}}|Tue 24 Nov 02:52 CET>"
                        " · reach 120,000")
    assert lines[1] == "• <https://forum.example/t/9|Refund still missing> — Gio · talkwalker · reach 50"


def test_card_times_are_reader_zone_tokens_with_a_team_zone_fallback():
    """Opened and acked times are <!date^…> tokens (each reader sees their own zone); the fallback is the team's zone, not UTC."""
    acked = Crisis(**{**BASE.__dict__, "team_tz": "America/New_York", "status": Status.ACKNOWLEDGED, "acked_by": "UP",
                      "acked_at": T0 + timedelta(minutes=3)})
    text, blocks = build_crisis_card(acked)
    body = str(blocks)
    assert f"<!date^{int(T0.timestamp())}^{{date_short_pretty}} {{time}}|Mon 23 Nov 21:00 EST>" in body
    assert f"<!date^{int((T0 + timedelta(minutes=3)).timestamp())}^{{time}}|21:03 EST>" in text
    assert " UTC>" not in body


def test_spike_stats_keep_one_of_each_repeated_text():
    """The card's five mentions are five different texts, however many retweets the most-reached one had."""
    from bot.crisis import spike_stats

    mentions = [{"text": "same complaint", "reach": 100 - i} for i in range(10)] + [{"text": f"other {i}", "reach": 1} for i in range(6)]
    stats = spike_stats([], expected_per_minute=1.0, mentions=mentions)
    assert [m["text"] for m in stats.top_mentions] == ["same complaint", "other 0", "other 1", "other 2", "other 3"]
