"""Personal iCal feeds: `/oncall calendar` gives the URL; GET /calendar/<team>.ics?token=… serves it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import oncall
from bot.blocks.oncall import build_confirmation
from bot.ical import build_feed
from bot.rotation import ScheduleIndex
from handlers.deps import Deps

PAST = timedelta(days=14)
AHEAD = timedelta(weeks=26)
Answer = tuple[str, list[dict[str, Any]]]


class CalendarLinks:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def answer(self, command: dict[str, Any], *, team: str | None) -> Answer:
        """Return the asker's secret subscription URL for the team's schedule."""
        rotation = oncall.pick_team(self.deps.rotations, command["team_id"], team if team else _only_team_of(self.deps, command))
        token = self.deps.calendar_tokens.token_for(workspace_id=command["team_id"], user_id=command["user_id"], now=self.deps.clock())
        url = f"{self.deps.public_url}/calendar/{rotation.team.name}.ics?token={token}"
        return build_confirmation(
            f"Subscribe to *{rotation.team.name}*'s on-call schedule in your calendar app with this private URL "
            f"(add `&mine=1` for only your shifts):\n{url}\nKeep it to yourself: anyone with it can read the schedule."
        )


def _only_team_of(deps: Deps, command: dict[str, Any]) -> str | None:
    mine = deps.rotations.teams_of_user(command["team_id"], command["user_id"])
    return mine[0] if len(mine) == 1 else None


def routes(deps: Deps) -> list[Route]:
    """Starlette routes of the feed; a wrong token or team is a 404 that reveals nothing."""

    def render(team: str, token: str, mine: bool) -> bytes | None:
        owner = deps.calendar_tokens.owner(token) if token else None
        if owner is None:
            return None
        workspace_id, user_id = owner
        rotation = deps.rotations.load_rotation(workspace_id, team)
        if rotation is None:
            return None
        now = deps.clock()
        shifts = ScheduleIndex(rotation.spec, rotation.layers).final_schedule(now - PAST, now + AHEAD)
        return build_feed(team_name=team, tz=rotation.team.tz, shifts=shifts, now=now, for_user=user_id if mine else None)

    async def feed(request: Request) -> Response:
        team = request.path_params["team"]
        body = await run_in_threadpool(render, team, request.query_params.get("token", ""), request.query_params.get("mine") == "1")
        if body is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": f'inline; filename="{team}.ics"', "Cache-Control": "private, max-age=300"})

    return [Route("/calendar/{team}.ics", feed, methods=["GET"])]
