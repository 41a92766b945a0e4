"""Counted nouns in messages: "1 page", "2 pages", "2 crises" (English plurals the messages use)."""

_IRREGULAR = {"crisis": "crises"}


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """Return "1 page" / "3 pages"; `plural` overrides the regular form."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or _IRREGULAR.get(noun) or noun + 's'}"
