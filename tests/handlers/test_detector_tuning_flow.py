"""Per-team detector tuning, campaign windows and member paging settings end to end: signed `/crisis tuning` and
`/crisis campaign` requests, the detection job reading them, and paging that honours page_via and quiet hours."""

from __future__ import annotations

import random
from datetime import time, timedelta

from bot import jobs
from bot.detector_tuning import DetectorSettings
from bot.escalation import Target
from bot.home import MemberSettings, PageVia
from storage.crises import Crises, Detection
from storage.detector_settings import DetectorSettingsStore
from storage.member_settings import MemberSettingsStore
from storage.mentions import Mentions
from tests.handlers.test_crisis_flow import (  # noqa: F401 - fixtures
    CHLOE, GIULIA, MARCUS, PRIYA, T0, advance, channel_posts, clock, declare_and_settle, dms, seed_counts, slash, stopped_runtime,
    wait_until,
)


def audit_actions(runtime, action):
    return [e for e in runtime.deps.audit.entries() if e.action == action]


# --- /crisis tuning --------------------------------------------------------------------------------------


def test_tuning_shows_defaults_to_anyone_and_only_admins_change_it(stopped_runtime, signed):
    """No settings shows the team's tuning; a member's change is refused; an admin's is stored and audited before/after."""
    shown = slash(stopped_runtime, signed, "tuning", MARCUS)["text"]
    assert "sensitivity normal" in shown and "min-count 10" in shown and "Only admins" in shown
    assert "Only admins can change detector tuning" in slash(stopped_runtime, signed, "tuning sensitivity=high", MARCUS)["text"]
    changed = slash(stopped_runtime, signed, "tuning social sensitivity=high min-count=25 quiet-hours=hold-sev3", GIULIA)["text"]
    assert "changed" in changed and "sensitivity high" in changed and "hold-sev3" in changed
    settings = DetectorSettingsStore(stopped_runtime.database).detector_settings(1)
    assert (settings.sensitivity, settings.min_count, settings.quiet_hours.value) == ("high", 25, "hold-sev3")
    (record,) = audit_actions(stopped_runtime, "detector_tuning_changed")
    assert record.actor == GIULIA and record.before["min_count"] == 10 and record.after["min_count"] == 25


def test_tuning_with_bad_values_answers_with_usage(stopped_runtime, signed):
    """A bad key or value gets the usage text, and nothing changes."""
    for text in ("tuning sensitivity=loud", "tuning min-count=-3", "tuning colour=red"):
        assert "/crisis tuning" in slash(stopped_runtime, signed, text, GIULIA)["text"]
    assert audit_actions(stopped_runtime, "detector_tuning_changed") == []


def test_help_lists_tuning_and_campaign(stopped_runtime, signed):
    """`/crisis help` comes from the grammar and names both new subcommands."""
    text = slash(stopped_runtime, signed, "help", MARCUS)["text"]
    assert "/crisis tuning" in text and "/crisis campaign" in text


# --- /crisis campaign ------------------------------------------------------------------------------------


def add_topic(runtime, name="acme"):
    topic = Mentions(runtime.database).save_topic(workspace_id="T0DEMO", name=name, keywords=[name], hashtags=[], now=T0)
    Crises(runtime.database).watch_topic(topic_id=topic.id, team_id=1, now=T0)
    return topic


def test_admin_adds_lists_and_cancels_a_campaign_read_in_the_team_zone(stopped_runtime, signed):
    """Times are read in Europe/Rome; list shows the window; cancel ends it; both changes are audited."""
    add_topic(stopped_runtime)
    created = slash(stopped_runtime, signed, "campaign launch 2026-11-25 09:00 2026-11-27 18:00 ACME", GIULIA)["text"]
    assert "Campaign window set for social" in created and "#1" in created
    (window,) = DetectorSettingsStore(stopped_runtime.database).campaigns(team_id=1, ending_after=T0)
    assert window.topic == "acme"  # the topic's own spelling
    assert (window.starts_at.hour, window.ends_at.hour) == (8, 17)  # 09:00 and 18:00 CET in UTC
    assert "launch" in slash(stopped_runtime, signed, "campaign list", MARCUS)["text"]
    assert "Only admins" in slash(stopped_runtime, signed, "campaign cancel 1", MARCUS)["text"]
    assert "Cancelled campaign" in slash(stopped_runtime, signed, "campaign cancel 1", GIULIA)["text"]
    assert "No campaign windows" in slash(stopped_runtime, signed, "campaign list", MARCUS)["text"]
    assert [e.action for e in stopped_runtime.deps.audit.entries() if e.target == "campaign:1"] == ["campaign_created", "campaign_cancelled"]


def test_campaign_refusals_and_bad_arguments(stopped_runtime, signed):
    """A member cannot add one; an unknown topic, a missing end or an unknown id is explained."""
    add_topic(stopped_runtime)
    assert "Only admins" in slash(stopped_runtime, signed, "campaign launch 2026-11-25 2026-11-27", MARCUS)["text"]
    assert "no listening topic called 'nosuch'" in slash(stopped_runtime, signed, "campaign launch 2026-11-25 2026-11-27 nosuch", GIULIA)["text"]
    assert "/crisis campaign" in slash(stopped_runtime, signed, "campaign launch tomorrow", GIULIA)["text"]
    assert "no campaign #9" in slash(stopped_runtime, signed, "campaign cancel 9", GIULIA)["text"]
    assert audit_actions(stopped_runtime, "campaign_created") == []


# --- detection and paging use them -------------------------------------------------------------------------


def calm_then_spike(runtime, clock, topic, *, spike: int = 60):
    """Two calm days, a detection pass, then four minutes of `spike` negatives and another pass."""
    rng = random.Random(7)
    calm = 2 * 24 * 60
    seed_counts(runtime.database, topic.id, T0 - timedelta(minutes=calm), calm, lambda i: rng.choice((0, 0, 1, 1, 2)))
    clock.now = T0 + timedelta(seconds=5)
    jobs.detect_spikes()
    seed_counts(runtime.database, topic.id, T0, 4, lambda i: spike)
    clock.now = T0 + timedelta(minutes=4, seconds=5)
    jobs.detect_spikes()


def test_the_detection_job_uses_the_team_minimum_count(stopped_runtime, clock):
    """The spike that pages with the defaults stays quiet when the team's minimum count is above it."""
    DetectorSettingsStore(stopped_runtime.database).save_detector_settings(team_id=1, settings=DetectorSettings(min_count=1000), user_id=GIULIA,
                                                                           now=T0)
    calm_then_spike(stopped_runtime, clock, add_topic(stopped_runtime))
    assert Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False) == []


def test_a_detected_crisis_in_a_campaign_window_pages_primary_and_backup_at_once(stopped_runtime, clock, fake_slack):
    """During the topic's campaign the first step pages Chloe (primary) and Priya (backup) together."""
    topic = add_topic(stopped_runtime)
    DetectorSettingsStore(stopped_runtime.database).add_campaign(team_id=1, name="launch", topic="acme", starts_at=T0 - timedelta(hours=1),
                                                                 ends_at=T0 + timedelta(days=1), user_id=GIULIA, now=T0)
    calm_then_spike(stopped_runtime, clock, topic)
    (opened,) = Crises(stopped_runtime.database).list_crises(workspace_id="T0DEMO", open_only=False)
    assert Crises(stopped_runtime.database).pending_steps(opened.id)[0].target is Target.BACKUP  # step 0 already ran
    pages = [(e.target, e.method, (e.detail or {}).get("step")) for e in Crises(stopped_runtime.database).timeline(opened.id) if e.kind.value == "page"]
    assert pages == [(CHLOE, "dm", 0), (PRIYA, "dm", 0)]
    assert len(dms(fake_slack, CHLOE)) == 1 and len(dms(fake_slack, PRIYA)) == 1


def test_a_campaign_for_another_topic_does_not_change_the_first_page(stopped_runtime, clock, fake_slack):
    """A window on a different topic leaves this topic's chain as the policy says: primary first."""
    topic = add_topic(stopped_runtime)
    DetectorSettingsStore(stopped_runtime.database).add_campaign(team_id=1, name="other", topic="globex", starts_at=T0 - timedelta(hours=1),
                                                                 ends_at=T0 + timedelta(days=1), user_id=GIULIA, now=T0)
    calm_then_spike(stopped_runtime, clock, topic)
    assert len(dms(fake_slack, CHLOE)) == 1 and dms(fake_slack, PRIYA) == []


def test_a_member_who_chose_channel_pages_is_mentioned_in_the_channel_not_dmed(stopped_runtime, signed, fake_slack, clock):
    """Chloe's App Home says "page me in the channel": no DM, a mention in the card's thread, a channel page on record."""
    MemberSettingsStore(stopped_runtime.database).save_settings(workspace_id="T0DEMO", user_id=CHLOE,
                                                                settings=MemberSettings(page_via=PageVia.channel), now=T0)
    slash(stopped_runtime, signed, "declare acme sev1", MARCUS)
    wait_until(lambda: any(f"<@{CHLOE}>" in c.args["text"] for c in channel_posts(fake_slack, top_level=False)))
    wait_until(lambda: any(e.kind.value == "page" for e in Crises(stopped_runtime.database).timeline(1)))
    assert dms(fake_slack, CHLOE) == []
    pages = [(e.target, e.method, e.delivered) for e in Crises(stopped_runtime.database).timeline(1) if e.kind.value == "page"]
    assert pages == [(CHLOE, "channel", True)]
    assert Crises(stopped_runtime.database).get_crisis(1).paged == (CHLOE,)  # the card's "Paging …" line names her


def quiet_nights(runtime, user):
    MemberSettingsStore(runtime.database).save_settings(workspace_id="T0DEMO", user_id=user, now=T0,
                                                        settings=MemberSettings(tz="Europe/Rome", quiet_start=time(22, 0), quiet_end=time(7, 0)))


def test_hold_sev3_waits_for_the_primary_quiet_hours_to_end_while_the_chain_goes_on(stopped_runtime, signed, fake_slack, clock):
    """At 03:00 Rome a SEV3 is held for Chloe until 07:00 Rome; the backup is paged at +5 min meanwhile; Chloe's DM comes at 07:00."""
    quiet_nights(stopped_runtime, CHLOE)
    slash(stopped_runtime, signed, "tuning quiet-hours=hold-sev3", GIULIA)
    slash(stopped_runtime, signed, "declare acme sev3", MARCUS)
    wait_until(lambda: stopped_runtime.scheduler.get_job(f"held-page:1:0:{CHLOE}") is not None)
    wait_until(lambda: stopped_runtime.scheduler.get_job("escalate:1:7") is not None)
    assert dms(fake_slack, CHLOE) == []
    assert not any(f"<@{CHLOE}>" in c.args["text"] for c in channel_posts(fake_slack, top_level=False))
    assert any("held until" in ((e.detail or {}).get("note") or "") for e in Crises(stopped_runtime.database).timeline(1))
    assert audit_actions(stopped_runtime, "crisis_page_held")[0].after["who"] == CHLOE
    advance(stopped_runtime, clock, T0 + timedelta(minutes=6))
    assert len(dms(fake_slack, PRIYA)) == 1 and dms(fake_slack, CHLOE) == []
    ran = advance(stopped_runtime, clock, T0 + timedelta(hours=4, minutes=1))  # 07:01 in Rome
    assert (T0 + timedelta(hours=4), f"held-page:1:0:{CHLOE}") in ran
    assert len(dms(fake_slack, CHLOE)) >= 1


def test_a_held_page_is_dropped_once_someone_acknowledged(stopped_runtime, signed, fake_slack, clock):
    """If the backup acknowledges during the night, Chloe is not woken at 07:00 for a crisis in hand."""
    quiet_nights(stopped_runtime, CHLOE)
    slash(stopped_runtime, signed, "tuning quiet-hours=hold-sev3", GIULIA)
    slash(stopped_runtime, signed, "declare acme sev3", MARCUS)
    wait_until(lambda: stopped_runtime.scheduler.get_job(f"held-page:1:0:{CHLOE}") is not None)
    slash(stopped_runtime, signed, "ack 1", PRIYA)
    wait_until(lambda: Crises(stopped_runtime.database).get_crisis(1).acked_by == PRIYA)
    jobs.deliver_held_page(1, CHLOE, 0)
    assert dms(fake_slack, CHLOE) == []


def test_console_tunes_sets_a_campaign_and_the_simulated_spike_pages_primary_and_backup_together(tmp_path):
    """In console mode an admin changes the tuning and adds a campaign on acme; `/simulate spike` then pages both at once."""
    import io
    import re

    from bot.config import load_settings
    from bot.console import run_console

    out = io.StringIO()
    script = ("/crisis tuning\n/crisis tuning sensitivity=high\n/crisis campaign launch now +2h acme\n/crisis campaign list\n/simulate spike\n"
              "/crisis tuning reset acme\nquit\n")
    assert run_console(load_settings({}), db_path=str(tmp_path / "c.db"), stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "*Detector tuning of social*" in text and "sensitivity: high (smaller spikes page too)" in text
    assert "Campaign window set for social: #1 *launch*" in text and "topic *acme* (social)" in text
    assert re.search(r"Paging @\w+, @\w+", text)  # primary and backup (who they are depends on today's date)
    assert "Labels have not changed the sensitivity of 'acme'" in text  # reset is reachable from the console too


# --- labels teach ------------------------------------------------------------------------------------------


def test_a_false_alarm_on_a_detected_crisis_makes_the_topic_less_sensitive_until_an_admin_resets_it(stopped_runtime, signed, fake_slack,
                                                                                                      clock):
    """False alarm on the detected card → the next pass raises acme's threshold (audited, shown in `/crisis tuning`);
    a member cannot reset it, an admin can, and bad args get the usage."""
    from bot.blocks.crisis import CrisisActions
    from bot.crisis import Status
    from tests.handlers.test_crisis_flow import press

    topic = add_topic(stopped_runtime)
    calm_then_spike(stopped_runtime, clock, topic)
    card = next(c for c in channel_posts(fake_slack) if "acme" in c.args["text"])
    press(stopped_runtime, signed, GIULIA, CrisisActions.false_alarm, card)
    wait_until(lambda: Crises(stopped_runtime.database).get_crisis(1).status is Status.FALSE_ALARM)
    clock.now = T0 + timedelta(minutes=6)
    jobs.detect_spikes()
    (learned,) = audit_actions(stopped_runtime, "detector_topic_learned")
    assert (learned.actor, learned.target, learned.after["label"], learned.after["crisis_id"]) == (GIULIA, f"topic:{topic.id}", "false_alarm", 1)
    jobs.detect_spikes()  # a second pass does not learn from the same crisis again
    assert len(audit_actions(stopped_runtime, "detector_topic_learned")) == 1
    (_, name, adjustment), = DetectorSettingsStore(stopped_runtime.database).topic_adjustments(1)
    assert name == "acme" and adjustment.false_alarms == 1 and adjustment.factor(clock.now) > 1.04
    shown = slash(stopped_runtime, signed, "tuning", MARCUS)["text"]
    assert "acme: less sensitive (threshold ×1.05; 1 false alarm, 0 missed)" in shown
    assert "Only admins" in slash(stopped_runtime, signed, "tuning reset acme", MARCUS)["text"]
    assert "reset <topic>" in slash(stopped_runtime, signed, "tuning reset", GIULIA)["text"]
    assert "globex" in slash(stopped_runtime, signed, "tuning reset globex", GIULIA)["text"]
    assert "Reset what labels taught acme" in slash(stopped_runtime, signed, "tuning reset acme", GIULIA)["text"]
    assert DetectorSettingsStore(stopped_runtime.database).topic_adjustments(1) == []
    (reset,) = audit_actions(stopped_runtime, "detector_topic_reset")
    assert reset.actor == GIULIA and reset.before["factor"] > 1 and reset.after["factor"] == 1.0
    assert "less sensitive" not in slash(stopped_runtime, signed, "tuning", MARCUS)["text"]


def test_a_real_crisis_declared_while_the_detector_stayed_silent_makes_the_topic_more_sensitive(stopped_runtime, signed, fake_slack, clock):
    """Calm counts, a hand-declared acme crisis the detector never scored, resolved as real → acme pages at a lower threshold."""
    from bot import crisis as crisis_use

    topic = add_topic(stopped_runtime)
    rng = random.Random(3)
    seed_counts(stopped_runtime.database, topic.id, T0 - timedelta(days=2), 2 * 24 * 60, lambda i: rng.choice((0, 1, 2)))
    clock.now = T0 + timedelta(seconds=5)
    jobs.detect_spikes()
    declare_and_settle(stopped_runtime, signed, fake_slack, text="declare acme sev2")
    clock.now = T0 + timedelta(minutes=3)
    jobs.detect_spikes()  # the detector learns the declared crisis is open
    crisis_use.resolve(Crises(stopped_runtime.database), stopped_runtime.deps.audit, crisis_id=1, user_id=GIULIA, note="handled", real=True,
                       on_call=(), is_admin=True, now=clock.now, via="test")
    clock.now = T0 + timedelta(minutes=5)
    jobs.detect_spikes()
    (learned,) = audit_actions(stopped_runtime, "detector_topic_learned")
    assert learned.after["label"] == "missed" and learned.after["factor"] < 1
    assert "acme: more sensitive (threshold ×0.95; 0 false alarms, 1 missed)" in slash(stopped_runtime, signed, "tuning", MARCUS)["text"]


def test_a_new_topic_starts_from_its_teams_settled_topics(stopped_runtime, clock):
    """acme has two days with a daily cycle; globex, watched later with no history, starts its detector from acme's
    daily shape (the workspace prior), so its first evening is not read as a spike."""
    import math

    acme = add_topic(stopped_runtime)
    seed_counts(stopped_runtime.database, acme.id, T0 - timedelta(days=2), 2 * 24 * 60,
                lambda i: round(4 * (1 + math.sin(2 * math.pi * i / 1440))))
    clock.now = T0 + timedelta(seconds=5)
    jobs.detect_spikes()
    globex = add_topic(stopped_runtime, "globex")
    clock.now = T0 + timedelta(minutes=2, seconds=5)
    jobs.detect_spikes()
    states = {topic_id: state for topic_id, _, _, state, _ in Detection(stopped_runtime.database).watches()}
    shape, borrowed = states[acme.id]["tod"], states[globex.id]["tod"]
    assert max(abs(v) for v in shape) > 0.3
    assert sum(a * b for a, b in zip(shape, borrowed)) > 0.5 * sum(a * a for a in shape)
