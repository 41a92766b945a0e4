"""HTTP mode: Bolt behind an ASGI app (Starlette) — Slack at POST /slack/events, GET /healthz, mentions at POST /api/mentions."""

from __future__ import annotations

import threading
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from bot.app import Runtime
from handlers import calendar_feed, listening_webhook


def build_asgi_app(runtime: Runtime) -> Starlette:
    """Return the ASGI app serving Slack's requests and the health check."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Dispatch inline, as Bolt's own ASGI adapter does: acks are fast reads (slow work is handed to the
        # work pool or the outbox), and a hop into a thread pool costs more than the ack itself (bench/ack.py).
        return to_starlette_response(runtime.app.dispatch(to_bolt_request(request, body)))

    async def healthz(_: Request) -> Response:
        healthy = await run_in_threadpool(runtime.database.is_healthy)
        if healthy:
            return JSONResponse({"ok": True, "database": "ok", "scheduler": "running" if runtime.scheduler.running else "stopped"})
        return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503, headers={"Retry-After": "10"})

    return Starlette(routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *listening_webhook.routes(runtime.deps),
        *calendar_feed.routes(runtime.deps),
    ])


def serve(runtime: Runtime) -> None:
    """Run HTTP mode until interrupted."""
    import uvicorn

    runtime.start()
    try:
        uvicorn.run(build_asgi_app(runtime), host=runtime.settings.host, port=runtime.settings.port,
                    log_level=runtime.settings.log_level.lower(), access_log=False)
    finally:
        runtime.stop()


class BackgroundServer:
    """uvicorn in a thread on 127.0.0.1 with a free port: for tests and benchmarks of the real HTTP path."""

    def __init__(self, asgi_app: Starlette, *, host: str = "127.0.0.1") -> None:
        import socket

        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
