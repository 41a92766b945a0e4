"""Acks rendered once per answer object: the memo's identity semantics and the ack Bolt sends."""

import json

from handlers.acks import EphemeralAcks, IdentityMemo


class Answer:
    """Stands in for a domain answer: equal by value, but the memo must go by identity."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answer) and other.value == self.value

    __hash__ = None  # type: ignore[assignment] - like an unhashable answer; the memo must not need hashing


def test_the_same_object_is_computed_once_an_equal_one_again():
    computed = []
    memo = IdentityMemo(lambda answer: computed.append(answer) or answer.value.upper())
    first, twin = Answer("who"), Answer("who")
    assert memo(first) == "WHO" and memo(first) == "WHO"
    assert computed == [first]
    assert memo(twin) == "WHO" and len(computed) == 2  # equal is not enough: it may be a newer answer


def test_only_the_most_recent_answers_are_remembered():
    computed = []
    memo = IdentityMemo(lambda answer: computed.append(answer.value) or answer.value, size=2)
    a, b, c = Answer("a"), Answer("b"), Answer("c")
    memo(a), memo(b), memo(a), memo(c)  # a was used again after b: b is the oldest when c arrives
    assert computed == ["a", "b", "c"]
    memo(a)
    memo(b)
    assert computed == ["a", "b", "c", "b"]


def test_the_ack_is_an_ephemeral_json_reply_encoded_once_per_answer():
    acks = EphemeralAcks()
    answer = ("/oncall help: who", [{"type": "section", "text": {"type": "mrkdwn", "text": "`/oncall who` — who is on call"}}])
    first, second = acks(answer), acks(answer)
    assert first.status == 200 and first.headers["content-type"] == ["application/json;charset=utf-8"]
    assert json.loads(first.body) == {"response_type": "ephemeral", "text": answer[0], "blocks": answer[1]}
    assert second is not first and second.body is first.body  # a fresh response each time, the same encoded body
    assert json.loads(acks(("plain", [])).body) == {"response_type": "ephemeral", "text": "plain"}
