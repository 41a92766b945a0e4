"""Many-workspace mode: Slack's OAuth v2 install (Bolt's OAuthFlow) and finding each request's bot token.

An edge module (imports slack_bolt). With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, GET /slack/install shows "Add to
Slack", GET /slack/oauth_redirect exchanges the code (oauth.v2.access) and stores the bot token in slack_sdk's SQLAlchemy
installation store; the state store (same database) makes the redirect single-use, so any instance can finish it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes the install asks for; manifest.yml's oauth_config.scopes.bot lists the same (a test keeps them equal).
BOT_SCOPES = (
    "app_mentions:read", "channels:history", "channels:read", "chat:write", "chat:write.public", "commands", "files:write",
    "groups:history", "groups:read", "im:history", "im:write", "reactions:write", "usergroups:read", "usergroups:write",
    "users:read",
)


class StoredBotAuthorize(Authorize):
    """Authorize a request from the workspace's stored bot, without Bolt's per-request auth.test round trip.

    The handlers send through the SlackGateway (which picks the same token per workspace), so the only question here is
    whether the workspace has installed the app; an ack must not wait for a call to Slack to learn that.
    """

    def __init__(self, installation_store: InstallationStore) -> None:
        super().__init__()
        self._store = installation_store

    def __call__(self, *, context: BoltContext, enterprise_id: str | None, team_id: str | None, user_id: str | None,
                 **_actor: Any) -> AuthorizeResult | None:
        bot = self._store.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=context.is_enterprise_install)
        if bot is None:
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_user_id=bot.bot_user_id, bot_id=bot.bot_id,
                               bot_token=bot.bot_token, bot_scopes=bot.bot_scopes, user_id=user_id)


def oauth_settings(*, client_id: str, client_secret: str, installation_store: InstallationStore, state_store: OAuthStateStore,
                   redirect_uri: str | None, on_installed: Callable[[str], None], scopes: Sequence[str] = BOT_SCOPES) -> OAuthSettings:
    """Bolt's OAuth settings for the install flow; `on_installed(team_id)` runs after each install is stored."""

    def success(args: SuccessArgs) -> BoltResponse:
        if args.installation.team_id:
            on_installed(args.installation.team_id)
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        return args.default.failure(args)

    return OAuthSettings(
        client_id=client_id, client_secret=client_secret, scopes=list(scopes), redirect_uri=redirect_uri,
        install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store, installation_store_bot_only=True, state_store=state_store,
        callback_options=CallbackOptions(success=success, failure=failure),
    )
