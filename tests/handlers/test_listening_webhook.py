"""The listening-tool webhook over real HTTP (uvicorn): auth, batches, vendor payloads, every error status, outages, OpenAPI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import event

from bot import mentions
from bot.server import BackgroundServer, build_asgi_app
from handlers import listening_webhook

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def server(runtime):
    with BackgroundServer(build_asgi_app(runtime)) as running:
        yield running


@pytest.fixture
def tokens(runtime) -> dict[str, str]:
    """One source per vendor, all feeding workspace T1's "acme" topic; returns vendor -> bearer token."""
    store = runtime.deps.mentions
    acme = store.save_topic(workspace_id="T1", name="acme", keywords=["acme"], hashtags=["acmefail"], now=NOW)
    store.save_topic(workspace_id="T1", name="globex", keywords=["globex"], hashtags=[], now=NOW)
    made = {}
    for vendor in ("generic", "brandwatch", "talkwalker", "mention", "meltwater"):
        made[vendor] = mentions.new_token()
        store.add_source(name=f"{vendor}-tool", vendor=vendor, workspace_id="T1", token_hash=mentions.hash_token(made[vendor]),
                         now=NOW, default_topic_id=acme.id if vendor != "generic" else None)
    return made


def post(server, body, token: str | None, **kwargs) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(f"{server.url}/api/mentions", content=content, headers=headers | kwargs.pop("headers", {}), timeout=30, **kwargs)


def generic(i: int, text: str = "acme is down again", **extra) -> dict:
    return {"id": str(i), "text": text, "created_at": (NOW - timedelta(minutes=1)).isoformat()} | extra


def hour_total(runtime, topic: str = "acme") -> int:
    return runtime.deps.mentions.totals_since(workspace_id="T1", since=NOW - timedelta(hours=1))[topic].total


def test_one_generic_mention_is_accepted_with_202(server, tokens, runtime):
    """A single object is a batch of one: 202, accepted 1, and the topic's counter moves."""
    response = post(server, generic(1), tokens["generic"])
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicate": 0, "rejected": 0, "rejections": []}
    assert hour_total(runtime) == 1


def test_retried_batch_is_counted_as_duplicates_not_twice(server, tokens, runtime):
    """A tool that retries after a timeout gets duplicates back and the counters do not move."""
    batch = [generic(i) for i in range(20)]
    assert post(server, batch, tokens["generic"]).json()["accepted"] == 20
    again = post(server, {"mentions": batch}, tokens["generic"]).json()
    assert (again["accepted"], again["duplicate"]) == (0, 20)
    assert hour_total(runtime) == 20


def test_mixed_batch_answers_each_rejection_with_its_index_and_reason(server, tokens, runtime):
    """Valid items are stored; each invalid one is named with a reason; off-topic text is rejected too."""
    batch = [generic(1), {"id": "2", "text": "acme"}, generic(3, "the weather is nice"), "nonsense", generic(1), generic(5, sentiment="negative")]
    body = post(server, batch, tokens["generic"]).json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 3)
    reasons = {r["index"]: r["reason"] for r in body["rejections"]}
    assert "created_at is missing" in reasons[1]
    assert "matches no topic" in reasons[2]
    assert "not an object" in reasons[3]


@pytest.mark.parametrize(("vendor", "payload"), [
    ("brandwatch", {"resultsTotal": 1, "resultsPage": 0, "resultsPageSize": 1, "results": [{
        "resourceId": 5550001, "queryName": "Acme", "date": NOW.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "url": "https://twitter.com/a/status/1", "pageType": "twitter", "fullText": "worst acme support ever",
        "author": "angry", "language": "en", "sentiment": "negative", "twitterFollowers": 120000}]}),
    ("talkwalker", {"status_code": "0", "result_content": {"data": [{"data": {
        "url": "https://x.com/b/status/2", "published": int(NOW.timestamp() * 1000), "content": "<b>Acme</b> refund never came",
        "lang": "en", "sentiment": -3, "reach": 4000, "external_id": "2", "extra_author_attributes": {"name": "b"}}}]}}),
    ("mention", {"mentions": [{"id": "9000001", "alert_id": 1, "title": "", "description": "acme delivery late again",
                               "original_url": "https://forum.example/t/1", "published_at": NOW.isoformat(), "language_code": "en",
                               "tone": -1}]}),
    ("meltwater", {"request": {"company_id": "c", "hook_id": "h", "inputs": []}, "documents": [{
        "id": "mw-1", "url": "https://x.com/c/status/3", "created_at": NOW.isoformat(), "content": {"text": "acme leaked my data"},
        "author": {"username": "c"}, "metrics": {"audience": 50}, "language_code": "en", "sentiment": "negative"}]}),
])
def test_vendor_payloads_are_mapped_and_their_sentiment_is_recorded_as_upstream(server, tokens, runtime, vendor, payload):
    """Each vendor's own payload (with its envelope) is accepted on that vendor's source and counted negative."""
    response = post(server, payload, tokens[vendor])
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    counts = runtime.deps.mentions.totals_since(workspace_id="T1", since=NOW - timedelta(hours=1))["acme"]
    assert (counts.total, counts.negative) == (1, 1)


def test_malformed_json_gets_400_with_a_clear_json_message(server, tokens):
    """Broken JSON says where it broke."""
    response = post(server, b'{"id": "1", "text": ', tokens["generic"])
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON: Expecting value at line 1 column")


def test_json_that_is_not_a_mention_gets_400(server, tokens):
    """A bare number is valid JSON but not a mention or a batch."""
    response = post(server, b"42", tokens["generic"])
    assert response.status_code == 400 and "expected a mention object" in response.json()["error"]


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_missing_or_wrong_token_gets_401_and_stores_nothing(server, tokens, runtime, token):
    """No token, an unknown token or an empty one: 401 JSON, and nothing is stored."""
    response = post(server, generic(1), token)
    assert response.status_code == 401
    assert "error" in response.json() and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert runtime.deps.mentions.mention_count() == 0


def test_basic_auth_is_not_a_bearer_token(server, tokens):
    """Only the Bearer scheme is accepted."""
    response = post(server, generic(1), None, headers={"Authorization": f"Basic {tokens['generic']}"})
    assert response.status_code == 401


def test_more_than_a_thousand_items_gets_413(server, tokens, runtime):
    """1,001 items are over the batch limit; nothing is stored."""
    response = post(server, [generic(i) for i in range(1001)], tokens["generic"])
    assert response.status_code == 413 and "1000" in response.json()["error"]
    assert runtime.deps.mentions.mention_count() == 0


def test_body_over_the_byte_limit_gets_413(server, tokens):
    """A body larger than the byte limit is refused (declared length checked before reading)."""
    big = json.dumps([generic(i, "acme " + "x" * 9000) for i in range(listening_webhook.MAX_BODY_BYTES // 9000 + 2)])
    response = post(server, big, tokens["generic"])
    assert response.status_code == 413 and "bytes" in response.json()["error"]


def test_database_outage_mid_batch_gets_503_and_a_retry_stores_it_once(server, tokens, runtime):
    """The counter upsert fails after the mentions insert: 503 with Retry-After, nothing half-stored; the retry lands once."""
    engine = runtime.database.engine
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    def fail(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith("INSERT INTO MENTION_COUNTS"):
            raise dbapi_error("simulated outage")

    batch = [generic(i) for i in range(30)]
    event.listen(engine, "before_cursor_execute", fail)
    try:
        response = post(server, batch, tokens["generic"])
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0 and "retry" in response.json()["error"]
    assert runtime.deps.mentions.mention_count() == 0 and hour_total(runtime) == 0
    retry = post(server, batch, tokens["generic"]).json()
    assert (retry["accepted"], retry["duplicate"]) == (30, 0)
    assert hour_total(runtime) == 30


def test_openapi_document_is_served_and_valid(server):
    """GET /openapi.json is a valid OpenAPI 3 document describing POST /api/mentions and its statuses."""
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]["/api/mentions"]["post"]["responses"]) == {"202", "400", "401", "413", "503"}
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    validator.validate(document)


def test_fuzzing_the_webhook_from_its_openapi_document_never_gets_a_5xx(server, tokens):
    """Schemathesis generates requests from the OpenAPI document; none may produce a server error."""
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
    schema = schemathesis.openapi.from_dict(listening_webhook.openapi_document())
    failures = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=schema["/api/mentions"]["POST"].as_strategy())
    def fuzz(case):
        response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {tokens['generic']}"}, timeout=30)
        if response.status_code >= 500:
            failures.append((case.body, response.status_code, response.text))

    fuzz()
    assert failures == []


def test_console_serves_the_webhook_and_simulated_mentions_move_the_counts(tmp_path):
    """Console mode prints the local webhook URL and a demo token; /simulate mentions goes through it to the counters."""
    import io

    from bot.config import load_settings
    from bot.console import run_console

    out = io.StringIO()
    code = run_console(load_settings({}), db_path=str(tmp_path / "c.db"),
                       stdin=io.StringIO("/simulate mentions acme 40 1.0\n/crisis sources\nquit\n"), out=out)
    text = out.getvalue()
    assert code == 0
    assert "Mentions webhook: POST http://127.0.0.1:" in text and "Bearer so_" in text
    assert "Posted 40 synthetic mentions of acme" in text and "40 accepted" in text
    assert "*acme* (acme, acme phone, #acmefail): 40 in the last hour" in text


def test_outage_in_a_later_chunk_of_a_large_batch_gets_503_and_stores_nothing(server, tokens, runtime):
    """A 600-item batch is written in chunks while the next is scored; an outage on the third chunk still stores nothing."""
    engine = runtime.database.engine
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError
    inserts = []

    def fail(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith("INSERT INTO MENTIONS "):
            inserts.append(statement)
            if len(inserts) == 3:
                raise dbapi_error("simulated outage")

    batch = [generic(i) for i in range(600)]
    assert len(mentions.chunk_bounds(len(batch))) >= 3
    event.listen(engine, "before_cursor_execute", fail)
    try:
        response = post(server, batch, tokens["generic"])
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    assert response.status_code == 503 and len(inserts) == 3
    assert runtime.deps.mentions.mention_count() == 0 and hour_total(runtime) == 0
    retry = post(server, batch, tokens["generic"]).json()
    assert (retry["accepted"], retry["duplicate"], retry["rejected"]) == (600, 0, 0)
    assert hour_total(runtime) == 600
