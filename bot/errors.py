"""The product's exception tree; one Bolt error handler turns these into ephemeral replies.

    SocialopsError
    ├── UsageError(usage)   bad arguments: the reply carries the usage text
    ├── NotFound            the thing asked about does not exist
    ├── NotAllowed          the asker may not do this; the message says who can
    ├── Conflict            the thing changed under us (already taken, already acked)
    └── ConfigError         start-up configuration is wrong; one line says how to fix it

    DeliveryFailed          a message could not be delivered (the Slack gateway raises its SlackCallFailed subclass)
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


TRANSIENT_CODES = frozenset({"ratelimited", "rate_limited", "connection_error", "server_error", "service_unavailable",
                             "fatal_error", "internal_error", "request_timeout"})


class DeliveryFailed(Exception):
    """A call to the messaging service that was refused or never got through, keyed by the service's error code.

    Not a SocialopsError: nobody asked for it in a request; the flows retry, queue or fall back.
    """

    def __init__(self, method: str, code: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(f"{method}: {code}")
        self.method = method
        self.code = code
        self.retry_after = retry_after
        self.status = status

    @property
    def transient(self) -> bool:
        """Return whether waiting and trying again may help."""
        return self.code in TRANSIENT_CODES
