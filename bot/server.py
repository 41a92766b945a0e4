"""HTTP mode: Bolt behind an ASGI app (Starlette) — Slack at POST /slack/events, GET /healthz."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from bot.app import Runtime


def build_asgi_app(runtime: Runtime) -> Starlette:
    """Return the ASGI app serving Slack's requests and the health check."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt's dispatch is synchronous (database reads, Web API calls): run it off the event loop
        # so one slow request does not stall every other connection.
        bolt_response = await run_in_threadpool(runtime.app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    async def healthz(_: Request) -> Response:
        healthy = await run_in_threadpool(runtime.database.is_healthy)
        if healthy:
            return JSONResponse({"ok": True, "database": "ok", "scheduler": "running" if runtime.scheduler.running else "stopped"})
        return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503, headers={"Retry-After": "10"})

    return Starlette(routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
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
