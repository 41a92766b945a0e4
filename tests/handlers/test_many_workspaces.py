"""Many-workspace mode (issue 16): the OAuth v2 install through Bolt's OAuthFlow into slack_sdk's SQLAlchemy stores, each
request and each job sending with its own workspace's token, no workspace seeing another's rows, and an uninstall that
stops sending for that workspace only (issues 16/18 item 6). Runs on SQLite and PostgreSQL; every outgoing call,
oauth.v2.access included, is checked against Slack's OpenAPI spec by the stand-in.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from apscheduler.triggers.date import DateTrigger

from bot import jobs
from bot.app import create_runtime
from bot.install_flow import BOT_SCOPES
from bot.server import BackgroundServer, build_asgi_app
from bot.standin.signed_requests import SignedRequests
from bot.workspace_scope import acting_for
from storage.admins import AdminDirectory
from storage.crises import Crises
from storage.rotations import Rotations
from storage.session import Database
from tests.conftest import SIGNING_SECRET, make_settings

ACME, GLOBEX, NOBODY = "T0ACME", "T0GLOBEX", "T0NOBODY"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "test-client-secret"
GIULIA, MARCUS, CHLOE, PRIYA, OLIVER = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004", "U0DEMO0005"
CRISIS_CHANNEL = "C0DEMOCRISIS"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # week 1: Chloe primary, Priya backup
TOPIC = {ACME: "rocket", GLOBEX: "zeppelin"}
ADMIN = {ACME: GIULIA, GLOBEX: OLIVER}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def oauth_runtime(fake_slack, database_url, clock):
    """Many-workspace mode (no SLACK_BOT_TOKEN), jobs bound but run by hand, a team and an admin in each workspace."""
    fake_slack.client_credentials = (CLIENT_ID, CLIENT_SECRET)
    settings = make_settings(fake_slack, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                             SOCIALOPS_ADMINS="")
    built = create_runtime(settings, clock=clock, database=Database.from_url(database_url))
    built.bind_jobs()
    for workspace in (ACME, GLOBEX):
        Rotations(built.database).create_team(workspace_id=workspace, name="social", tz="Europe/Rome", epoch=EPOCH, now=EPOCH,
                                              roster=[MARCUS, CHLOE, PRIYA], crisis_channel=CRISIS_CHANNEL)
        with acting_for(workspace):
            AdminDirectory(built.database).add(ADMIN[workspace], by="test", at=EPOCH)
    yield built
    built.stop()


@pytest.fixture
def server(oauth_runtime):
    with BackgroundServer(build_asgi_app(oauth_runtime)) as running:
        yield running


def signed_for(fake_slack, team_id: str) -> SignedRequests:
    return SignedRequests(SIGNING_SECRET, team_id=team_id, team_domain=team_id.lower(), workspace=fake_slack.workspace,
                          response_url_for=fake_slack.response_url)


def install(server, fake_slack, team_id: str) -> str:
    """Go through /slack/install and /slack/oauth_redirect as a browser would; return the bot token Slack issued."""
    token = fake_slack.grant_install(f"code-{team_id}", team_id=team_id, team_name=f"{team_id} Inc")
    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/slack/install")
        assert page.status_code == 200
        authorize_url = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text).group(1).replace("&amp;", "&")
        query = dict(httpx.URL(authorize_url).params)
        assert set(query["scope"].split(",")) == set(BOT_SCOPES) and query["client_id"] == CLIENT_ID
        # Bolt's state cookie is Secure; a browser on https would send it back, here it is handed over by hand.
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        done = browser.get("/slack/oauth_redirect", params={"code": f"code-{team_id}", "state": query["state"]},
                           headers={"Cookie": cookie})
        assert done.status_code == 200, done.text
    return token


def slash(runtime, signed, text, user=MARCUS):
    response = runtime.app.dispatch(signed.slash_command("/crisis", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    return response


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def advance(runtime, clock, until):
    """Run each date job at its run date up to `until` (the scheduler is not started)."""
    while True:
        due = sorted((job.trigger.run_date, job.id) for job in runtime.scheduler.get_jobs() if isinstance(job.trigger, DateTrigger))
        if not due or due[0][0] > until:
            break
        clock.now = max(clock.now, due[0][0])
        job = runtime.scheduler.get_job(due[0][1])
        runtime.scheduler.remove_job(job.id)
        job.func(*job.args)
    clock.now = until


def calls_about(fake_slack, word: str):
    return [c for c in fake_slack.calls() if c.method.startswith("chat.") and word in json.dumps(c.args)]


def crisis_of(runtime, workspace: str):
    (crisis,) = Crises(runtime.database).list_crises(workspace_id=workspace, open_only=True)
    return crisis


def declare_in_both(runtime, fake_slack):
    for workspace in (ACME, GLOBEX):
        slash(runtime, signed_for(fake_slack, workspace), f"declare {TOPIC[workspace]} sev1")
    wait_until(lambda: all(crisis_of(runtime, w).message_ts for w in (ACME, GLOBEX)))
    wait_until(lambda: all(runtime.scheduler.get_job(f"escalate:{crisis_of(runtime, w).id}:3") for w in (ACME, GLOBEX)))


def test_install_flow_stores_each_workspace_token_and_requests_act_for_their_workspace(oauth_runtime, server, fake_slack):
    """Two installs through /slack/install → oauth.v2.access; each workspace's requests and cards use its own token."""
    tokens = {workspace: install(server, fake_slack, workspace) for workspace in (ACME, GLOBEX)}
    exchanges = fake_slack.calls("oauth.v2.access")
    assert len(exchanges) == 2 and all(c.headers["authorization"].startswith("Basic ") for c in exchanges)
    assert {w: oauth_runtime.installations.bot_token(w) for w in tokens} == tokens
    declare_in_both(oauth_runtime, fake_slack)
    for workspace, token in tokens.items():
        sent = calls_about(fake_slack, TOPIC[workspace])
        assert sent and {c.token for c in sent} == {token}, workspace
    # A workspace that never installed is told to install; nothing of it is stored and nothing is sent.
    before = len(fake_slack.calls())
    slash(oauth_runtime, signed_for(fake_slack, NOBODY), "declare nobody sev1")
    wait_until(lambda: fake_slack.responses())  # Bolt answers through the command's response_url
    assert "reinstall this app" in fake_slack.responses()[-1].body["text"]
    assert Crises(oauth_runtime.database).list_crises(workspace_id=NOBODY, open_only=False) == []
    assert len(fake_slack.calls()) == before


def test_a_reused_or_forged_state_is_refused(oauth_runtime, server, fake_slack):
    """The OAuth state is single-use and stored in the database: a second redirect with it installs nothing."""
    install(server, fake_slack, ACME)
    fake_slack.grant_install("code-again", team_id=GLOBEX, team_name="Globex")
    with httpx.Client(base_url=server.url) as browser:
        forged = browser.get("/slack/oauth_redirect", params={"code": "code-again", "state": "made-up"},
                             headers={"Cookie": "slack-app-oauth-state=made-up"})
    assert forged.status_code >= 400 and oauth_runtime.installations.bot_token(GLOBEX) is None


def test_jobs_send_with_the_crisis_workspace_token_and_page_only_its_admins(oauth_runtime, server, fake_slack, clock, caplog):
    """Escalation steps run by the scheduler use the right token, and the admins step pages that workspace's admins only."""
    tokens = {workspace: install(server, fake_slack, workspace) for workspace in (ACME, GLOBEX)}
    declare_in_both(oauth_runtime, fake_slack)
    advance(oauth_runtime, clock, T0 + timedelta(minutes=31))  # backup +5, group +15, admins +30
    # Every call reached Slack with an issued token (App Homes and DMs included): none went out unscoped and was refused.
    assert {c.token for c in fake_slack.calls() if c.method != "oauth.v2.access"} <= set(tokens.values())
    assert fake_slack.calls("views.publish") and [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    for workspace, token in tokens.items():
        sent = calls_about(fake_slack, TOPIC[workspace])
        assert len(sent) > 4 and {c.token for c in sent} == {token}, workspace
        admin_dms = [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == "D" + ADMIN[workspace][1:]]
        topics = {w for c in admin_dms for w, topic in TOPIC.items() if topic in json.dumps(c.args)}
        assert topics == {workspace}, f"{ADMIN[workspace]} was paged about {topics}"
        assert {c.token for c in fake_slack.calls("conversations.open") if c.args["users"] == ADMIN[workspace]} == {token}


def test_one_workspace_never_sees_another_workspace_records(oauth_runtime, server, fake_slack, clock):
    """/crisis list, team names, the export (crises, pages, audit) and the topics are each workspace's own."""
    for workspace in (ACME, GLOBEX):
        install(server, fake_slack, workspace)
    declare_in_both(oauth_runtime, fake_slack)
    for workspace, other in ((ACME, GLOBEX), (GLOBEX, ACME)):
        listing = json.loads(slash(oauth_runtime, signed_for(fake_slack, workspace), "list").body)
        assert TOPIC[workspace] in json.dumps(listing) and TOPIC[other] not in json.dumps(listing)
        export = oauth_runtime.deps.reports.export(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), workspace_id=workspace)
        assert [c.topic for c in export.crises] == [TOPIC[workspace]]
        assert {p.crisis_id for p in export.pages} == {crisis_of(oauth_runtime, workspace).id}
        assert export.audit and all(r.team_id in (workspace, None) for r in export.audit)
        assert TOPIC[other] not in json.dumps([r.after for r in export.audit])
    assert oauth_runtime.deps.rotations.team_names(ACME) == ["social"] and oauth_runtime.deps.rotations.team_names(NOBODY) == []
    # Mentions: each workspace configures its own "brandwatch" source and topic, and /crisis sources lists only its own.
    for workspace in (ACME, GLOBEX):
        slash(oauth_runtime, signed_for(fake_slack, workspace), f"sources topic {TOPIC[workspace]} {TOPIC[workspace]}", user=ADMIN[workspace])
        added = json.loads(slash(oauth_runtime, signed_for(fake_slack, workspace), f"sources add brandwatch brandwatch {TOPIC[workspace]}",
                                 user=ADMIN[workspace]).body)
        assert "added" in added["text"], added
    for workspace, other in ((ACME, GLOBEX), (GLOBEX, ACME)):
        listing = json.dumps(json.loads(slash(oauth_runtime, signed_for(fake_slack, workspace), "sources", user=ADMIN[workspace]).body))
        assert "brandwatch" in listing and TOPIC[workspace] in listing and TOPIC[other] not in listing
    assert {s.workspace_id for s in oauth_runtime.deps.mentions.sources() if s.name == "brandwatch"} == {ACME, GLOBEX}
    # An admin of one workspace is nobody in the other.
    refused = json.loads(slash(oauth_runtime, signed_for(fake_slack, GLOBEX), "sources add sneaky", user=ADMIN[ACME]).body)
    assert "Only admins" in refused["text"] and f"<@{ADMIN[GLOBEX]}>" in refused["text"]


def test_uninstall_stops_sending_there_keeps_its_data_and_holds_its_queue(oauth_runtime, server, fake_slack, clock):
    """app_uninstalled: 200 + audit, its token forgotten, its queued messages held (not sent, not retried), its jobs
    skipped, its crisis kept; the other workspace carries on; installing again releases the held messages."""
    tokens = {workspace: install(server, fake_slack, workspace) for workspace in (ACME, GLOBEX)}
    declare_in_both(oauth_runtime, fake_slack)
    with acting_for(ACME):
        queued = jobs.enqueue_call(dedupe_key="later-for-acme", method="dm", payload={"user": CHLOE, "text": "rocket later"},
                                   due_at=T0 + timedelta(minutes=1))
    response = oauth_runtime.app.dispatch(signed_for(fake_slack, ACME).event({"type": "app_uninstalled"}, event_id="EvGONE").as_bolt_request())
    assert response.status == 200
    (entry,) = oauth_runtime.deps.audit.entries(action="app_uninstalled")
    assert entry.team_id == ACME and entry.after["held_messages"] >= 1
    assert oauth_runtime.installations.bot_token(ACME) is None and oauth_runtime.outbox.get(queued).status == "held"
    sent_before = len(calls_about(fake_slack, TOPIC[ACME]))
    advance(oauth_runtime, clock, T0 + timedelta(minutes=31))
    jobs.sweep_outbox()
    jobs.sweep_crises()
    assert len(calls_about(fake_slack, TOPIC[ACME])) == sent_before  # nothing more went to the uninstalled workspace
    assert oauth_runtime.outbox.get(queued).status == "held" and oauth_runtime.outbox.get(queued).attempts == 0
    assert crisis_of(oauth_runtime, ACME).topic == TOPIC[ACME]  # its data stays
    # Its waiting steps are not overdue (so /healthz stays healthy), the other workspace's are.
    late = {crisis for crisis, _ in oauth_runtime.deps.crises.due_steps(clock.now + timedelta(hours=3))}
    assert late == {crisis_of(oauth_runtime, GLOBEX).id}
    assert {c.token for c in calls_about(fake_slack, TOPIC[GLOBEX])} == {tokens[GLOBEX]}
    assert len(calls_about(fake_slack, TOPIC[GLOBEX])) > 4  # the other workspace's chain went on

    again = install(server, fake_slack, ACME)
    (back,) = oauth_runtime.deps.audit.entries(action="app_reinstalled")
    assert back.team_id == ACME and back.after["released_messages"] >= 1
    advance(oauth_runtime, clock, clock.now + timedelta(seconds=1))
    assert oauth_runtime.outbox.get(queued).status == "sent"
    assert {c.token for c in calls_about(fake_slack, "rocket later")} == {again}


def test_revoking_only_user_tokens_changes_nothing_but_a_revoked_bot_token_stops_sending(oauth_runtime, server, fake_slack):
    """tokens_revoked with user tokens only is audited and sending goes on; with the bot's token it stops like an uninstall."""
    install(server, fake_slack, ACME)
    signed = signed_for(fake_slack, ACME)
    oauth_runtime.app.dispatch(signed.event({"type": "tokens_revoked", "tokens": {"oauth": ["U0DEMO0002"]}}, event_id="EvUSER").as_bolt_request())
    assert oauth_runtime.installations.bot_token(ACME) is not None
    oauth_runtime.app.dispatch(signed.event({"type": "tokens_revoked", "tokens": {"bot": ["U0ACMEBOT"]}}, event_id="EvBOT").as_bolt_request())
    assert oauth_runtime.installations.bot_token(ACME) is None
    assert [e.after.get("tokens") for e in oauth_runtime.deps.audit.entries(action="tokens_revoked")] == [
        {"oauth": ["U0DEMO0002"]}, {"bot": ["U0ACMEBOT"]}]


def test_single_token_mode_uninstall_holds_the_queue_until_the_workspace_is_back(runtime, signed, fake_slack):
    """With SLACK_BOT_TOKEN: app_uninstalled stops sending and holds the queue; the next request from that workspace (it
    installed again) resumes it and the held message goes out."""
    response = runtime.app.dispatch(signed.event({"type": "app_uninstalled"}, event_id="EvBYE").as_bolt_request())
    assert response.status == 200 and not runtime.workspace_states.is_sending("T0DEMO")
    with acting_for("T0DEMO"):
        queued = jobs.enqueue_call(dedupe_key="after-uninstall", method="dm", payload={"user": CHLOE, "text": "still there?"})
    wait_until(lambda: runtime.outbox.get(queued).status == "held")
    jobs.sweep_outbox()
    assert runtime.outbox.get(queued).status == "held" and calls_about(fake_slack, "still there?") == []
    with acting_for("T0DEMO"):
        with pytest.raises(jobs.SlackCallFailed, match="not_installed"):
            runtime.gateway.post_message(channel=CRISIS_CHANNEL, text="direct")  # not even a direct call gets through
    answer = runtime.app.dispatch(signed.slash_command("/oncall", "help", user_id=MARCUS, channel_id="C0DEMOTEAM").as_bolt_request())
    assert answer.status == 200 and runtime.workspace_states.is_sending("T0DEMO")
    wait_until(lambda: runtime.outbox.get(queued).status == "sent")
    assert [e.action for e in runtime.deps.audit.entries() if e.team_id == "T0DEMO"][-2:] == ["app_uninstalled", "app_reinstalled"]


def test_install_scopes_are_the_manifest_scopes():
    """The install asks for exactly the bot scopes manifest.yml declares, and the manifest names the redirect URL."""
    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert any(url.endswith("/slack/oauth_redirect") for url in manifest["oauth_config"]["redirect_urls"])


def test_an_install_begun_on_one_instance_finishes_on_another(oauth_runtime, server, fake_slack, database_url, clock):
    """Behind a load balancer the redirect may reach another instance: the state and the token live in the shared database."""
    settings = make_settings(fake_slack, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    other = create_runtime(settings, clock=clock, database=Database.from_url(database_url))
    try:
        token = fake_slack.grant_install("code-elsewhere", team_id=ACME, team_name="Acme")
        with httpx.Client(base_url=server.url) as browser, BackgroundServer(build_asgi_app(other)) as second:
            page = browser.get("/slack/install")
            state = re.search(r"state=([A-Za-z0-9_.-]+)", page.text).group(1)
            cookie = page.headers["set-cookie"].split(";", 1)[0]
            done = httpx.get(f"{second.url}/slack/oauth_redirect", params={"code": "code-elsewhere", "state": state},
                             headers={"Cookie": cookie})
        assert done.status_code == 200
        assert oauth_runtime.installations.bot_token(ACME) == token == other.installations.bot_token(ACME)
    finally:
        other.stop()
