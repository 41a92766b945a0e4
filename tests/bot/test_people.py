"""The one time-zone precedence for a person (bot.people.zone_of)."""

from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.people import roster_zone, zone_of

ZONES = ["Europe/Berlin", "America/Denver", "Asia/Kolkata", "Australia/Sydney", "UTC"]
maybe_zone = st.one_of(st.none(), st.just(""), st.just("Not/AZone"), st.sampled_from(ZONES))


@given(chosen=maybe_zone, known=maybe_zone, roster=maybe_zone, team=maybe_zone)
def test_the_first_valid_zone_in_home_slack_roster_team_order_wins(chosen, known, roster, team):
    """Whatever is stored, the answer is the first real zone among Home choice, Slack's, the roster's, the team's; else UTC."""
    expected = next((z for z in (chosen, known, roster, team) if z in ZONES), "UTC")
    assert zone_of(chosen=chosen, known=known, roster=roster, team=team) == ZoneInfo(expected)


@given(chosen=st.sampled_from(ZONES), rest=st.lists(maybe_zone, min_size=3, max_size=3))
def test_a_zone_chosen_on_the_home_always_wins(chosen, rest):
    """A person's own choice beats whatever Slack, the roster or the team say."""
    known, roster, team = rest
    assert zone_of(chosen=chosen, known=known, roster=roster, team=team) == ZoneInfo(chosen)


def test_an_unknown_person_of_no_team_is_read_in_utc():
    """With nothing stored at all the zone is UTC (every echo shows the zone it used)."""
    assert zone_of() == ZoneInfo("UTC")


def test_a_misspelt_roster_zone_falls_through_to_the_team():
    """A zone name zoneinfo does not know is skipped, not trusted."""
    assert zone_of(roster="Europe/Berlln", team="America/Denver") == ZoneInfo("America/Denver")


def test_the_roster_zone_is_the_members_own_entry():
    """The roster gives a zone only to the member it lists; anyone else has none from it."""
    from types import SimpleNamespace

    members = [SimpleNamespace(user_id="U1", tz="Asia/Tokyo"), SimpleNamespace(user_id="U2", tz=None)]
    assert roster_zone(members, "U1") == "Asia/Tokyo"
    assert roster_zone(members, "U2") is None and roster_zone(members, "U3") is None
