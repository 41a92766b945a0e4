"""Local stand-ins for Slack: a Web API server, a demo workspace and a signed inbound-request builder.

Used by the test suite and by console mode; nothing here talks to the real Slack.
"""

from bot.standin.signed_requests import SignedRequest, SignedRequests
from bot.standin.web_api import RecordedCall, RecordedResponse, SlackStandIn
from bot.standin.workspace import SlackChannel, SlackUser, SlackUsergroup, Workspace, demo_workspace

__all__ = [
    "RecordedCall",
    "RecordedResponse",
    "SignedRequest",
    "SignedRequests",
    "SlackChannel",
    "SlackStandIn",
    "SlackUser",
    "SlackUsergroup",
    "Workspace",
    "demo_workspace",
]
