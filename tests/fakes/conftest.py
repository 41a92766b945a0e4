"""Fixtures shared by the stand-in's own tests."""

from collections.abc import Iterator

import pytest

from bot.standin.web_api import SlackStandIn


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    """Run a stand-in for one test."""
    with SlackStandIn() as running:
        yield running
