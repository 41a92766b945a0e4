"""Slash-command acks as ready Bolt responses, rendered and serialized once per answer object.

Answers repeat: `/oncall help` never changes and `/oncall who` holds for a whole stretch (bot.oncall's
cache hands back the same answer object until then). Rendering Block Kit and JSON-encoding it cost
more than the rest of such an ack (bench/ack.py), so both are remembered per answer object.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from slack_bolt import BoltResponse

from handlers.replies import JSON_HEADERS, ephemeral_body

Key = TypeVar("Key")
Value = TypeVar("Value")
Answer = tuple[str, list[dict[str, Any]]]
# Answers alive at once: one help per grammar, one `who` per team and stretch; the rest are built per request.
REMEMBERED_ANSWERS = 64


class IdentityMemo(Generic[Key, Value]):
    """`compute(key)` remembered for the most recently used few key objects, by identity.

    Identity, not equality: the keys are answers that come back as the very same object while they hold,
    and hashing or comparing them field by field would cost what the memo saves. Each entry keeps its key
    alive, so an id is never reused while it is remembered. Thread-safe (Socket Mode dispatches in threads).
    """

    def __init__(self, compute: Callable[[Key], Value], *, size: int = REMEMBERED_ANSWERS) -> None:
        self._compute = compute
        self._size = size
        self._entries: OrderedDict[int, tuple[Key, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: Key) -> Value:
        with self._lock:
            entry = self._entries.get(id(key))
            if entry is not None and entry[0] is key:
                self._entries.move_to_end(id(key))
                return entry[1]
        value = self._compute(key)
        with self._lock:
            self._entries[id(key)] = (key, value)
            self._entries.move_to_end(id(key))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


class EphemeralAcks:
    """Turns a command's (text, blocks) answer into the ack Bolt sends back, an ephemeral reply."""

    def __init__(self) -> None:
        self._bodies: IdentityMemo[Answer, str] = IdentityMemo(lambda answer: ephemeral_body(*answer))

    def __call__(self, answer: Answer) -> BoltResponse:
        # Returned by the listener instead of calling ack(): with process_before_response (bot.app) Bolt
        # sends a listener's BoltResponse as the ack, and this one carries the already-encoded body.
        return BoltResponse(status=200, body=self._bodies(answer), headers=JSON_HEADERS)
