"""Listening-tool webhook: POST /api/mentions (bearer token per source) and its OpenAPI document at GET /openapi.json.

Every 4xx/5xx body is a JSON {"error": ...}; 503 means nothing of the batch was stored, so retrying is safe.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import mentions
from handlers.deps import Deps

MAX_BODY_BYTES = 8 * 1024 * 1024  # 1,000 vendor documents of a few KB each fit with room to spare
RETRY_AFTER_S = 30
VIA = "webhook"  # the way in, as /metrics labels it


def error(status: int, message: str, **headers: str) -> JSONResponse:
    """Return the JSON error body every refusal uses."""
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def routes(deps: Deps) -> list[Route]:
    """Return the webhook's Starlette routes, bound to the runtime's collaborators."""

    def refused(reason: str, response: JSONResponse) -> JSONResponse:
        deps.mention_tally.refused(reason, via=VIA)
        return response

    async def post_mentions(request: Request) -> Response:
        token = _bearer(request)
        if token is None:
            return refused("no_token", error(401, "missing bearer token: send Authorization: Bearer <source token>", **{"WWW-Authenticate": "Bearer"}))
        try:
            source = await run_in_threadpool(lambda: mentions.source_for_token(deps.mentions.sources(), token))
        except mentions.StoreUnavailable:
            return refused("store_unavailable", error(503, "database unavailable; retry later", **{"Retry-After": str(RETRY_AFTER_S)}))
        if source is None:
            return refused("bad_token", error(401, "unknown or revoked token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'}))
        body = await _read_limited(request)
        if body is None:
            return refused("too_large", error(413, f"body is over the limit of {MAX_BODY_BYTES} bytes; send smaller batches"))
        try:
            payload = json.loads(body)
            items = mentions.split_batch(payload)
        except (UnicodeDecodeError, RecursionError):
            return refused("malformed_json", error(400, "malformed JSON: the body is not UTF-8 JSON text"))
        except json.JSONDecodeError as problem:
            return refused("malformed_json", error(400, f"malformed JSON: {problem.msg} at line {problem.lineno} column {problem.colno}"))
        except mentions.Rejected as problem:
            return refused("not_a_batch", error(400, str(problem)))
        if len(items) > mentions.MAX_BATCH_ITEMS:
            return refused("too_many_items", error(413, f"batch of {len(items)} items is over the limit of {mentions.MAX_BATCH_ITEMS}"))
        try:
            result = await run_in_threadpool(
                mentions.ingest, deps.mentions, items, source=source, analyser=mentions.default_analyser(), now=deps.clock(),
            )
        except mentions.StoreUnavailable:
            return refused("store_unavailable", error(503, "database unavailable; nothing of this batch was stored, retry it",
                                                      **{"Retry-After": str(RETRY_AFTER_S)}))
        deps.mention_tally.counted(result, via=VIA)
        if result.accepted:
            deps.mentions_stored.after_stored()  # a spike pages in seconds, not at the next detection pass
        return JSONResponse(result.to_dict(), status_code=202)

    async def openapi(_: Request) -> Response:
        return JSONResponse(openapi_document())

    return [
        Route("/api/mentions", post_mentions, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _read_limited(request: Request) -> bytes | None:
    """Return the body, or None as soon as it is known to be over the limit (without reading the rest)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3 description of the webhook."""
    mention = {
        "type": "object",
        "description": "A mention in the generic schema. Sources configured as brandwatch, talkwalker, mention or meltwater "
                       "send those tools' own documents instead (e.g. Brandwatch resourceId/fullText/date/sentiment).",
        "properties": {
            "id": {"type": "string", "description": "the source's own id; re-delivery of the same id is a duplicate"},
            "text": {"type": "string"},
            "title": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time", "description": "ISO 8601; epoch seconds or ms also accepted"},
            "topic": {"type": "string", "description": "topic name; otherwise keywords/hashtags decide, then the source's default topic"},
            "author": {"type": "string"},
            "author_reach": {"type": "integer", "minimum": 0, "description": "the author's followers"},
            "url": {"type": "string"},
            "language": {"type": "string", "description": "ISO 639-1; detected when absent"},
            "sentiment": {
                "description": "upstream sentiment, trusted and recorded as upstream",
                "oneOf": [
                    {"type": "string", "enum": ["negative", "neutral", "positive", "unknown"]},
                    {"type": "object", "required": ["label"], "properties": {
                        "label": {"type": "string", "enum": ["negative", "neutral", "positive", "unknown"]},
                        "score": {"type": "number", "minimum": -1, "maximum": 1},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    }},
                ],
            },
        },
        "required": ["text", "created_at"],
    }
    batch = {"type": "array", "maxItems": mentions.MAX_BATCH_ITEMS, "items": {"$ref": "#/components/schemas/Mention"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "socialops mentions webhook", "version": "1.0.0",
                 "description": "Listening tools push mentions here; each source has its own bearer token."},
        "paths": {
            "/api/mentions": {
                "post": {
                    "operationId": "postMentions",
                    "summary": "Store one mention or a batch of up to 1,000 (idempotent per source id)",
                    "security": [{"sourceToken": []}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/Mention"},
                        {"$ref": "#/components/schemas/MentionBatch"},
                        {"type": "object", "required": ["mentions"], "properties": {"mentions": {"$ref": "#/components/schemas/MentionBatch"}}},
                    ]}}}},
                    "responses": {
                        "202": {"description": "accepted; counts of new, duplicate and rejected items",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}},
                        "400": _error_response("malformed JSON or not a mention/batch"),
                        "401": _error_response("missing, unknown or revoked bearer token"),
                        "413": _error_response(f"over {mentions.MAX_BATCH_ITEMS} items or {MAX_BODY_BYTES} bytes"),
                        "503": {**_error_response("database unavailable; nothing stored, retry after Retry-After seconds"),
                                "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {"sourceToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Mention": mention,
                "MentionBatch": batch,
                "IngestResult": {
                    "type": "object",
                    "required": ["accepted", "duplicate", "rejected", "rejections"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 0},
                        "duplicate": {"type": "integer", "minimum": 0},
                        "rejected": {"type": "integer", "minimum": 0},
                        "rejections": {"type": "array", "items": {"type": "object", "required": ["index", "reason"], "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "id": {"type": "string", "nullable": True},
                            "reason": {"type": "string"},
                        }}},
                    },
                },
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            },
        },
    }
