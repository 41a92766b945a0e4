"""Buttons of a crisis' playbook: show the checklist (posted once in the card's thread) and tick its steps."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import crisis, playbook
from bot.audit import Via
from bot.blocks.crisis import CrisisActions
from bot.blocks.playbook import PlaybookActions, build_playbook_message, parse_check_value
from bot.slack_gateway import SlackCallFailed
from handlers.after_ack import refusal_told, refusals_to_presser
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    def render_playbook(found: crisis.Crisis) -> tuple[str, list[dict[str, Any]]]:
        book = playbook.team_playbook(deps.playbooks, found.team_id)
        return build_playbook_message(found, book, playbook.checks_by_step(deps.playbooks.checks(found.id)))

    def thread_link(found: crisis.Crisis, ts: str) -> str:
        try:
            return deps.slack.call("chat.getPermalink", channel=found.channel, message_ts=ts)["permalink"]
        except SlackCallFailed:
            return ""  # the reply still says where to look

    def show_playbook(crisis_id: int, respond: Respond) -> None:
        """Post the checklist in the card's thread once (later presses refresh it there); without a card, show it to the presser."""
        found = crisis.get(deps.crises, crisis_id)
        text, blocks = render_playbook(found)
        if found.channel is None or found.message_ts is None:
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            return
        if deps.crises.claim_playbook_post(crisis_id=found.id):
            try:
                posted = deps.slack.post_message(channel=found.channel, thread_ts=found.message_ts, text=text, blocks=blocks)
            except SlackCallFailed:
                deps.crises.set_playbook_post(crisis_id=found.id, ts=None)  # the next press tries again
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
                return
            deps.crises.set_playbook_post(crisis_id=found.id, ts=posted["ts"])
            ts = posted["ts"]
        else:
            ts = found.playbook_ts or ""
            if ts:
                update_playbook_message(found, text, blocks)
        link = thread_link(found, ts) if ts else ""
        where = f"<{link}|in the card's thread>" if link else f"in the thread under the card in <#{found.channel}>"
        respond(text=f"The playbook for {found.title} is {where}: tick each step there as it is done.", response_type="ephemeral",
                replace_original=False)

    def update_playbook_message(found: crisis.Crisis, text: str, blocks: list[dict[str, Any]]) -> None:
        assert found.channel is not None and found.playbook_ts
        try:
            deps.slack.update_message(channel=found.channel, ts=found.playbook_ts, text=text, blocks=blocks)
        except SlackCallFailed as failure:
            if not failure.transient:
                raise
            deps.outbox.send(dedupe_key=f"crisis-playbook:{found.id}:{text.splitlines()[0]}", method="chat.update",
                             payload={"channel": found.channel, "ts": found.playbook_ts, "text": text, "blocks": blocks})

    @app.action(CrisisActions.playbook)
    def open_playbook(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        crisis_id = int(action["value"])

        def after() -> None:
            with refusal_told(deps, body, action, respond, key="playbook-refused"):
                show_playbook(crisis_id, respond)
        deps.run_later(after)

    @app.action(PlaybookActions.check)
    @refusals_to_presser(deps, key="playbook-check-refused")
    def check_step(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        crisis_id, step_id = parse_check_value(action["value"])
        found = crisis.get(deps.crises, crisis_id)
        playbook.check_step(deps.playbooks, deps.crises, deps.audit, crisis=found, step_id=step_id, user_id=body["user"]["id"],
                            now=deps.clock(), via=Via.button)
        pressed_ts = (body.get("container") or {}).get("message_ts")

        def after() -> None:
            current = crisis.get(deps.crises, crisis_id)
            text, blocks = render_playbook(current)
            if current.playbook_ts:
                update_playbook_message(current, text, blocks)
            if pressed_ts != current.playbook_ts:
                respond(text=text, blocks=blocks, replace_original=True)  # an ephemeral copy of the checklist
            deps.crisis_flow.refresh_card(crisis_id)  # the tick's line in the thread timeline
        deps.run_later(after)
