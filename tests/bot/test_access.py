"""Permission rules: admins pass, everyone else gets a refusal naming who can."""

import pytest

from bot.access import require_admin
from bot.errors import NotAllowed


class Admins:
    def __init__(self, ids):
        self.ids = ids

    def is_admin(self, user_id):
        return user_id in self.ids

    def admin_ids(self):
        return list(self.ids)


def test_admin_passes():
    """An admin may change the rotation."""
    require_admin(Admins(["U1"]), "U1", action="change the rotation")


def test_refusal_names_the_admins():
    """A member is told which admins can do it."""
    with pytest.raises(NotAllowed, match=r"Only admins can change the rotation\. Ask <@U1>, <@U2>\."):
        require_admin(Admins(["U1", "U2"]), "U3", action="change the rotation")


def test_refusal_without_admins_explains_the_bootstrap():
    """With no admin anywhere, the message says how to make one."""
    with pytest.raises(NotAllowed, match="SOCIALOPS_ADMINS"):
        require_admin(Admins([]), "U3", action="set up a team")
