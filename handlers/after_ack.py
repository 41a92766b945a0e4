"""Refusals raised after the ack: the one `@app.error` handler answers only inside the ack, so a listener that acks
first hands its SocialopsError to the presser through these (ephemerally in place, else by DM; in a modal, next to
the field).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from slack_bolt import Respond

from bot.errors import SocialopsError
from handlers.deps import Deps
from handlers.replies import tell_presser

Listener = TypeVar("Listener", bound=Callable[..., None])


@contextmanager
def refusal_told(deps: Deps, body: dict[str, Any], action: dict[str, Any], respond: Respond, *, key: str) -> Iterator[None]:
    """Tell the presser a SocialopsError raised inside the block; its DM (when there is no response_url) is sent once
    per press, under f"{key}:{action value}:{user}:{action_ts}"."""
    try:
        yield
    except SocialopsError as refusal:
        dedupe_key = f"{key}:{action.get('value', '')}:{body['user']['id']}:{action.get('action_ts', '')}"
        tell_presser(deps, body, respond, str(refusal), dedupe_key=dedupe_key)


def refusals_to_presser(deps: Deps, *, key: str) -> Callable[[Listener], Listener]:
    """Decorate a block-action listener (which acks first) so a SocialopsError it raises is told to the presser.

    The listener must name `body`, `action` and `respond`: Bolt passes arguments by the names the listener declares
    (it reads them through functools.wraps).
    """
    def decorate(listener: Listener) -> Listener:
        _require_arguments(listener, "body", "action", "respond")

        @functools.wraps(listener)
        def wrapper(**kwargs: Any) -> None:
            with refusal_told(deps, kwargs["body"], kwargs["action"], kwargs["respond"], key=key):
                listener(**kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def refusals_to_field(block_id: str) -> Callable[[Listener], Listener]:
    """Decorate a view-submission listener (which acks last) so a SocialopsError it raises before acking is shown in
    the modal next to `block_id`; a plain message body would be ignored by Slack."""
    def decorate(listener: Listener) -> Listener:
        _require_arguments(listener, "ack")

        @functools.wraps(listener)
        def wrapper(**kwargs: Any) -> None:
            try:
                listener(**kwargs)
            except SocialopsError as refusal:
                kwargs["ack"](response_action="errors", errors={block_id: str(refusal)})
        return wrapper  # type: ignore[return-value]
    return decorate


def _require_arguments(listener: Callable[..., None], *names: str) -> None:
    missing = [name for name in names if name not in inspect.signature(listener).parameters]
    if missing:
        raise TypeError(f"{listener.__qualname__} must take {', '.join(missing)} to have its refusals told")
