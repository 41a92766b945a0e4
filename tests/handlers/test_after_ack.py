"""The after-the-ack refusal decorators (handlers/after_ack.py), on plain callables: what the presser is told, and how."""

from types import SimpleNamespace

import pytest
from slack_bolt.util.utils import get_arg_names_of_callable

from bot.errors import Conflict, NotAllowed
from handlers.after_ack import refusals_to_field, refusals_to_presser


class Deps(SimpleNamespace):
    def __init__(self) -> None:
        super().__init__(sent=[], outbox=SimpleNamespace(send=lambda **call: self.sent.append(call) or 1),
                         run_later=lambda work: work())


class Respond:
    def __init__(self) -> None:
        self.said: list[dict] = []

    def __call__(self, **reply) -> None:
        self.said.append(reply)


ACTION = {"value": "7", "action_ts": "1700000000.1"}


def refusing(deps, error):
    @refusals_to_presser(deps, key="cover-refused")
    def take(ack, body, action, respond):
        ack()
        raise error
    return take


def test_a_refusal_in_a_message_button_is_answered_ephemerally_in_place():
    """Pressed on a message (Slack sent a response_url): the reason comes back ephemeral, the message stays."""
    deps, respond, acked = Deps(), Respond(), []
    refusing(deps, Conflict("Already taken by <@U2>."))(ack=lambda: acked.append(1), body={"user": {"id": "U1"}, "response_url": "https://x"},
                                                          action=ACTION, respond=respond)
    assert acked == [1]
    assert respond.said == [{"text": "Already taken by <@U2>.", "response_type": "ephemeral", "replace_original": False}]
    assert deps.sent == []


def test_a_refusal_in_an_app_home_button_is_sent_by_dm_once_per_press():
    """No response_url (App Home, modals): a DM through the outbox, keyed by the press."""
    deps, respond = Deps(), Respond()
    refusing(deps, NotAllowed("Only admins can."))(ack=lambda: None, body={"user": {"id": "U1"}}, action=ACTION, respond=respond)
    assert deps.sent == [{"dedupe_key": "cover-refused:7:U1:1700000000.1", "method": "dm", "payload": {"user": "U1", "text": "Only admins can."}}]
    assert respond.said == []


def test_other_errors_still_reach_the_error_handler():
    """Only product refusals are told here; a bug propagates (logged with an error id by the @app.error funnel)."""
    with pytest.raises(KeyError):
        refusing(Deps(), KeyError("boom"))(ack=lambda: None, body={"user": {"id": "U1"}}, action=ACTION, respond=Respond())


def test_bolt_still_sees_the_listeners_own_arguments():
    """Bolt injects arguments by the names the listener declares; the decorator keeps them visible."""
    assert get_arg_names_of_callable(refusing(Deps(), Conflict("x"))) == ["ack", "body", "action", "respond"]


def test_a_listener_that_cannot_be_told_about_is_rejected_when_decorated():
    """Without body/action/respond there is nobody to tell: a TypeError at registration, not a silent drop later."""
    with pytest.raises(TypeError, match="must take action, respond"):
        @refusals_to_presser(Deps(), key="k")
        def listener(ack, body):
            ack()


def test_a_refusal_in_a_modal_is_shown_next_to_the_field():
    """A view submission acks with response_action=errors on the named block."""
    acks = []

    @refusals_to_field("note")
    def submit(ack, body, view):
        raise NotAllowed("Only the acknowledger can resolve it.")

    submit(ack=lambda **reply: acks.append(reply), body={}, view={})
    assert acks == [{"response_action": "errors", "errors": {"note": "Only the acknowledger can resolve it."}}]
