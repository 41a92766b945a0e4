"""The product's exception tree; one Bolt error handler turns these into ephemeral replies.

    SocialopsError
    ├── UsageError(usage)   bad arguments: the reply carries the usage text
    ├── NotFound            the thing asked about does not exist
    ├── NotAllowed          the asker may not do this; the message says who can
    ├── Conflict            the thing changed under us (already taken, already acked)
    └── ConfigError         start-up configuration is wrong; one line says how to fix it
"""


class SocialopsError(Exception):
    """Base of every error the product explains to a person."""


class UsageError(SocialopsError):
    """Bad arguments; `usage` is the text that explains the right form."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class NotFound(SocialopsError):
    """The team, crisis or person asked about does not exist."""


class NotAllowed(SocialopsError):
    """The asker lacks the role; the message names who can do it."""


class Conflict(SocialopsError):
    """The state changed under the request (already taken, already acknowledged)."""


class ConfigError(SocialopsError):
    """Start-up configuration is wrong or incomplete."""
