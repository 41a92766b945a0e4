"""Command routing tables: every subcommand the grammar accepts has a declared route."""

from types import SimpleNamespace

from bot.crisis_query import CRISIS
from bot.oncall_query import ONCALL
from handlers.crisis_command import CrisisCommand
from handlers.oncall_command import OncallCommand
from handlers.routing import unrouted


def _deps():
    return SimpleNamespace()  # the routes only bind methods; nothing is called


def test_every_oncall_subcommand_has_a_route():
    """A subcommand added to the /oncall grammar without a route would crash at run time: this test names it first."""
    command = OncallCommand(_deps(), setup=None, calendar=None, offboarding=None)
    assert unrouted(ONCALL, command.routes) == set()


def test_every_crisis_subcommand_has_a_route():
    """The same for /crisis."""
    assert unrouted(CRISIS, CrisisCommand(_deps()).routes) == set()


def test_admin_only_routes_are_declared_beside_the_route():
    """The unconditional admin checks are read from the table, not from inside each method."""
    oncall = OncallCommand(_deps(), setup=None, calendar=None, offboarding=None)
    assert {name for name, route in oncall.routes.items() if route.admin_only} == {"override", "setup", "offboard"}
    assert {name for name, route in CrisisCommand(_deps()).routes.items() if route.admin_only} == {"watch"}
