"""The `/crisis declare` words: topic, an optional severity, the summary; an unknown severity is a usage error."""

import pytest

from bot.crisis_query import parse_declare
from bot.errors import UsageError


@pytest.mark.parametrize("word", ["sev9", "SEV0", "sev", "sev2x", "sev12"])
def test_declare_with_an_unknown_severity_is_rejected_with_usage(word):
    """`/crisis declare acme sev9 …` answers with usage instead of opening a SEV2 whose summary starts with "sev9"."""
    with pytest.raises(UsageError) as raised:
        parse_declare(("acme", word, "influencer", "video"))
    assert repr(word) in str(raised.value) and "sev1, sev2 or sev3" in str(raised.value)
    assert "/crisis declare <topic> [sev1|sev2|sev3] [summary]" in raised.value.usage


@pytest.mark.parametrize(("words", "severity", "summary"), [
    (("acme", "sev1", "recall", "video"), "sev1", "recall video"),
    (("acme", "3"), "3", ""),
    (("acme", "several", "angry", "posts"), None, "several angry posts"),
    (("acme",), None, ""),
])
def test_declare_keeps_known_severities_and_plain_summaries(words, severity, summary):
    """sev1-3 (or a bare 1-3) are the severity; a summary word that merely starts with "sev" stays in the summary."""
    parsed = parse_declare(words)
    assert (parsed.topic, parsed.severity_word, parsed.summary) == ("acme", severity, summary)
