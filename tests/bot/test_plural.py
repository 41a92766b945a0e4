"""Counted nouns read as English: one page, two pages, two crises."""

from bot.plural import counted


def test_counted_nouns_take_the_singular_for_one_and_crises_for_many():
    """1 page / 0 pages / 2 pages; crisis → crises; an explicit plural wins."""
    assert [counted(n, "page") for n in (0, 1, 2)] == ["0 pages", "1 page", "2 pages"]
    assert counted(2, "crisis") == "2 crises" and counted(1, "crisis") == "1 crisis"
    assert counted(3, "open crisis", "open crises") == "3 open crises"
