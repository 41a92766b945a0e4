"""The acting workspace: nested scopes restore the outer one, and work handed to a pool keeps the submitter's."""

from concurrent.futures import ThreadPoolExecutor

from bot.installs import bot_tokens_revoked
from bot.workspace_scope import UNSCOPED, acting_for, carry_scope, current_workspace


def test_nested_scopes_restore_the_outer_workspace():
    """A job run inside a request acts for its own workspace, then the request's comes back; "" keeps the current one."""
    assert current_workspace() == UNSCOPED
    with acting_for("T1"):
        with acting_for("T2"):
            assert current_workspace() == "T2"
        with acting_for(""):
            assert current_workspace() == "T1"
        assert current_workspace() == "T1"
    assert current_workspace() == UNSCOPED


def test_pool_threads_act_for_the_submitter_only_when_the_work_carries_the_scope():
    """A bare pool thread is unscoped (context variables are per thread); carry_scope hands the workspace over."""
    with ThreadPoolExecutor(max_workers=1) as pool, acting_for("T1"):
        assert pool.submit(current_workspace).result() == UNSCOPED
        assert pool.submit(carry_scope(current_workspace)).result() == "T1"


def test_only_a_revoked_bot_token_stops_sending():
    """tokens_revoked lists user (oauth) and bot tokens; only the bot's matters for what the bot sends."""
    assert bot_tokens_revoked({"bot": ["U0BOT"]}) and bot_tokens_revoked({"oauth": ["U1"], "bot": ["U0BOT"]})
    assert not bot_tokens_revoked({"oauth": ["U1"]}) and not bot_tokens_revoked(None)
