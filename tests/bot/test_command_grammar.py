"""The slash-command grammar parses, produces help, and answers bad input with usage."""

import pytest

from bot.command_grammar import Grammar, Subcommand
from bot.errors import UsageError
from bot.oncall_query import ONCALL

GRAMMAR = Grammar(
    command="/demo", summary="demo",
    subcommands=(Subcommand("help", "show help"), Subcommand("cover", "ask for cover", "<from> <to> [note]", min_args=2, max_args=None)),
)


def test_empty_text_means_the_default_subcommand():
    """`/oncall` alone runs the default."""
    assert GRAMMAR.parse("").name == "help"


def test_quoted_arguments_stay_together():
    """Quotes group words like a shell."""
    assert GRAMMAR.parse('cover today tomorrow "dentist at 3"').args == ("today", "tomorrow", "dentist at 3")


def test_unknown_subcommand_gets_usage_listing_every_subcommand():
    """A typo is answered with the list of valid forms."""
    with pytest.raises(UsageError) as caught:
        GRAMMAR.parse("covr x y")
    assert "/demo cover <from> <to> [note]" in caught.value.usage


def test_too_few_arguments_get_that_subcommands_usage():
    """Missing arguments show the one usage line that applies."""
    with pytest.raises(UsageError) as caught:
        GRAMMAR.parse("cover today")
    assert caught.value.usage.startswith("Usage: `/demo cover")


def test_unbalanced_quote_does_not_crash():
    """A stray quote falls back to whitespace splitting."""
    assert GRAMMAR.parse('cover "a b').args == ('"a', "b")


def test_oncall_help_lists_help():
    """The real /oncall grammar documents itself."""
    assert any("/oncall help" in line for line in ONCALL.help_lines())
