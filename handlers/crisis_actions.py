"""The crisis card's interactive surfaces: its buttons (handlers/crisis_buttons.py) and its playbook's
(handlers/playbook_buttons.py); the resolve and note modals they open are submitted to handlers/crisis_forms.py."""

from __future__ import annotations

from slack_bolt import App

from handlers import crisis_buttons, playbook_buttons
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    crisis_buttons.register(app, deps)
    playbook_buttons.register(app, deps)
