"""HTTP mode: Slack at POST /slack/events through Bolt's own ASGI adapter; GET /healthz and the other routes on Starlette."""

from __future__ import annotations

import hmac
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any

from slack_bolt.adapter.asgi import SlackRequestHandler
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import Runtime
from bot.logs import RequestIds
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from handlers import calendar_feed, listening_webhook, provider_webhooks

SLACK_EVENTS_PATH = "/slack/events"
# /healthz fails when an escalation step is later than this (the sweep runs due steps every 15 s).
OVERDUE_STEP_LIMIT = timedelta(minutes=1)
EXIT_SCHEDULER_DIED = 70  # EX_SOFTWARE

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SlackFirst:
    """POST /slack/events goes straight to Bolt's ASGI adapter; everything else (health, webhooks, feeds) to Starlette.

    Slack's requests are the hot path: Bolt's adapter reads the body and dispatches inline (acks are fast
    reads; slow work goes to the work pool or the outbox), the very stack of the bare app in bench/ack.py.
    Starlette's routing, request and response objects added about a fifth to an ack's in-process cost.
    Bolt still verifies every signature.
    """

    def __init__(self, slack: AsgiApp, rest: AsgiApp, *, install_paths: frozenset[str] = frozenset()) -> None:
        self._slack = slack
        self._rest = rest
        self._install_paths = install_paths  # many-workspace mode: Bolt's OAuth flow answers GET /slack/install and the redirect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            (scope["path"] == SLACK_EVENTS_PATH and scope["method"] == "POST")
            or (scope["method"] == "GET" and scope["path"] in self._install_paths)
        ):
            await self._slack(scope, receive, send)
        else:
            await self._rest(scope, receive, send)  # lifespan too: Starlette answers it


def build_asgi_app(runtime: Runtime) -> RequestIds:
    """Return the ASGI app serving Slack's requests, the health check, the mentions webhook and calendar feeds."""

    async def healthz(_: Request) -> Response:
        healthy = await run_in_threadpool(runtime.database.is_healthy)
        # A standby is healthy: it serves requests while another instance runs the scheduler; a dead thread is not.
        died = runtime.scheduler.died
        scheduler = "dead" if died else str(runtime.scheduler_role)
        body = {"ok": healthy and not died, "database": "ok" if healthy else "unavailable", "scheduler": scheduler}
        if healthy:
            # Paging that silently stopped is the worst failure: a step this late means no scheduler runs them.
            late = await run_in_threadpool(runtime.deps.crises.due_steps, runtime.clock() - OVERDUE_STEP_LIMIT)
            body["overdue_escalation_steps"] = len(late)
            if late:
                body["ok"] = False
        if body["ok"]:
            return JSONResponse(body)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "10"})

    async def metrics(request: Request) -> Response:
        token = runtime.settings.metrics_token
        if not token:
            return JSONResponse({"error": "metrics are off: set SOCIALOPS_METRICS_TOKEN and send it as a bearer token"},
                                status_code=404)
        offered = request.headers.get("authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"error": "unauthorized: send Authorization: Bearer <SOCIALOPS_METRICS_TOKEN>"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body = await run_in_threadpool(runtime.metrics.exposition)  # the outbox gauge reads the database
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    rest = Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *listening_webhook.routes(runtime.deps),
        *calendar_feed.routes(runtime.deps),
        *provider_webhooks.routes(runtime.deps, runtime.settings.providers, public_url=runtime.settings.public_url),
    ])
    oauth = runtime.app.oauth_flow
    install_paths = frozenset() if oauth is None else frozenset({oauth.install_path, oauth.redirect_uri_path})
    return RequestIds(SlackFirst(SlackRequestHandler(runtime.app, path=SLACK_EVENTS_PATH), rest, install_paths=install_paths))


def serve(runtime: Runtime) -> int:
    """Run HTTP mode until interrupted; return 70 when it stopped because the scheduler thread died."""
    import uvicorn

    # A dead scheduler ends the process (uvicorn shuts down on SIGINT) so a supervisor restarts it.
    runtime.start(on_scheduler_death=lambda: os.kill(os.getpid(), signal.SIGINT))
    runtime.freeze_startup_heap()
    try:
        uvicorn.run(build_asgi_app(runtime), host=runtime.settings.host, port=runtime.settings.port,
                    log_level=runtime.settings.log_level.lower(), access_log=False,
                    log_config=None)  # uvicorn's lines go through socialops' handler: same format, same redaction
    finally:
        runtime.stop()
    return EXIT_SCHEDULER_DIED if runtime.scheduler.died else 0


class BackgroundServer:
    """uvicorn in a thread on 127.0.0.1 with a free port: for tests and benchmarks of the real HTTP path."""

    def __init__(self, asgi_app: AsgiApp, *, host: str = "127.0.0.1") -> None:
        import socket

        import uvicorn

        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and without it every
        # keep-alive request waited ~40 ms (Nagle holding the response body until the client's delayed ACK).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind((host, 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(asgi_app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
