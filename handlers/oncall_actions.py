"""Buttons of /oncall messages: Take a cover request, accept or decline a swap."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import oncall
from bot.audit import Via
from bot.blocks.oncall import OncallActions, build_cover_card, build_cover_taken_note, build_swap_decided
from handlers.after_ack import refusals_to_presser
from handlers.app_home import refresh_team_homes
from handlers.deps import Deps
from handlers.replies import pressed_message, tell_presser, update_or_queue


def register(app: App, deps: Deps) -> None:
    @app.action(OncallActions.cover_take)
    @refusals_to_presser(deps, key="cover-refused")
    def take_cover(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        # The claim is one conditional UPDATE: of many simultaneous presses exactly one wins.
        request = oncall.take_cover(deps.rotations, deps.audit, request_id=int(action["value"]), user_id=user_id, now=deps.clock(), via=Via.button)
        refresh_team_homes(deps, request.team.id)
        deps.outbox.send(dedupe_key=f"cover-taken:{request.id}", method="dm", payload={"user": request.requester, "text": build_cover_taken_note(request)})
        tell_presser(deps, body, respond, f"You cover *{request.team.name}* for <@{request.requester}>. Thank you!", dedupe_key=f"cover-thanks:{request.id}")
        deps.run_later(lambda: _update_card(request, body))

    def _update_card(request: oncall.CoverRequestInfo, body: dict[str, Any]) -> None:
        text, blocks = build_cover_card(request)
        channel, ts = pressed_message(body)
        # Update the card in place for everyone; the Take button gives way to "Taken by".
        update_or_queue(deps, request.channel or channel, request.message_ts or ts, text=text, blocks=blocks, dedupe_key=f"cover-card:{request.id}")

    def decide(accept: bool):  # noqa: ANN202 - a Bolt listener
        @refusals_to_presser(deps, key="swap-refused")
        def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
            ack()
            swap = oncall.decide_swap(deps.rotations, deps.audit, swap_id=int(action["value"]), user_id=body["user"]["id"],
                                      accept=accept, now=deps.clock(), via=Via.button)
            deps.run_later(lambda: respond(text=f"Swap {swap.status}.", replace_original=True))
            deps.outbox.send(dedupe_key=f"swap-decided:{swap.id}", method="dm", payload={"user": swap.requester, "text": build_swap_decided(swap)})
        return listener

    app.action(OncallActions.swap_accept)(decide(True))
    app.action(OncallActions.swap_decline)(decide(False))
