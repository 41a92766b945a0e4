"""Block Kit builders for the burnout guard: the sleep-hour offer DMs, the rebalancing section, the limits answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.blocks.limits import fit_message
from bot.burnout import LIMIT_WORDS, Limits, ProposalStatus, RebalanceProposal, SleepOffer
from bot.oncall import TeamInfo
from bot.plural import counted
from bot.slack_time import slack_date

MAX_FINDINGS = 10
MAX_MOVES = 10


class BurnoutActions(StrEnum):
    accept_offer = "burnout-offer-accept"
    apply_rebalance = "burnout-rebalance-apply"


def rebalance_block_id(proposal_id: int) -> str:
    """Return the block_id of a proposal's Apply row, so the applied message replaces just that row."""
    return f"burnout-rebalance-{proposal_id}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def build_offer_to_backup(offer: SleepOffer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) asking the backup to take the rest of the primary's shift, with the one button."""
    tz = offer.team.tz
    text = (f"<@{offer.primary}> has had {counted(offer.sleep_pages, 'page')} in their sleep hours this shift on *{offer.team.name}* "
            f"(the team's limit is {offer.limit}). Can you, as backup, take the rest of this shift, until {slack_date(offer.shift_end, tz)}?")
    blocks = [_section(text), {"type": "actions", "block_id": f"burnout-offer-{offer.id}", "elements": [
        {"type": "button", "action_id": BurnoutActions.accept_offer, "value": str(offer.id), "style": "primary",
         "text": {"type": "plain_text", "text": "Backup takes the rest of this shift"}}]}]
    return fit_message(text, blocks)


def build_offer_to_primary(offer: SleepOffer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) telling the primary the backup has been offered the rest of their shift."""
    text = (f"You've had {counted(offer.sleep_pages, 'page')} in your sleep hours this shift on *{offer.team.name}* "
            f"(limit {offer.limit}). I've asked <@{offer.backup}> to take the rest of this shift; "
            "I'll tell you when they do. Until then pages still come to you.")
    return fit_message(text, [_section(text)])


def build_offer_accepted(offer: SleepOffer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) of the offer once taken: replaces the backup's DM and goes to the primary."""
    text = (f"<@{offer.accepted_by}> is primary for *{offer.team.name}* from now until {slack_date(offer.shift_end, offer.team.tz)}, "
            f"taking over from <@{offer.primary}>. Get some sleep.")
    return fit_message(text, [_section(text)])


def rebalance_blocks(proposal: RebalanceProposal) -> list[dict[str, Any]]:
    """Return the announcement's rebalancing section: who is overloaded, the proposed moves and the Apply button."""
    tz = proposal.team.tz
    lines = [f"• <@{f.user_id}> {f.reason}" for f in proposal.findings[:MAX_FINDINGS]]
    blocks = [_section("*Load check* :battery:\n" + "\n".join(lines))]
    if not proposal.moves:
        blocks.append(_note("Nobody else is free to take these shifts without going over a limit; an admin may add an override."))
        return blocks
    moves = [f"• <@{m.to_user}> takes <@{m.from_user}>'s shift {slack_date(m.start, tz)} → {slack_date(m.end, tz)}"
             for m in proposal.moves[:MAX_MOVES]]
    blocks.append(_section("*Proposed rebalancing*\n" + "\n".join(moves)))
    if proposal.status == ProposalStatus.applied:
        blocks.append(applied_note(proposal))
    elif proposal.id is not None:
        blocks.append({"type": "actions", "block_id": rebalance_block_id(proposal.id), "elements": [
            {"type": "button", "action_id": BurnoutActions.apply_rebalance, "value": str(proposal.id), "style": "primary",
             "text": {"type": "plain_text", "text": "Apply"}}]})
    return blocks


def applied_note(proposal: RebalanceProposal) -> dict[str, Any]:
    when = slack_date(proposal.applied_at, proposal.team.tz) if proposal.applied_at else "just now"
    block = _note(f":white_check_mark: Applied by <@{proposal.applied_by}> {when}: the overrides are in `/oncall schedule`.")
    if proposal.id is not None:
        block["block_id"] = rebalance_block_id(proposal.id)
    return block


def applied_reply(proposal: RebalanceProposal) -> str:
    """Return what the admin who pressed Apply is told."""
    moved = len(proposal.moves)
    return f"Rebalancing applied: {moved} shift{'s' if moved != 1 else ''} moved. `/oncall schedule` shows them."


def mark_applied(blocks: list[dict[str, Any]], proposal: RebalanceProposal) -> list[dict[str, Any]]:
    """Return the posted message's blocks with the proposal's Apply row replaced by who applied it."""
    assert proposal.id is not None
    wanted = rebalance_block_id(proposal.id)
    return [applied_note(proposal) if b.get("block_id") == wanted else b for b in blocks]


def build_limits(team: TeamInfo, limits: Limits, *, before: Limits | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) showing a team's burnout limits, marking what just changed."""
    words = {field: word for word, (field, _, _) in LIMIT_WORDS.items()}
    described = {
        "sleep_pages": "sleep-hour pages per shift before the backup is offered the rest",
        "consecutive_weeks": "shifts in a row as primary",
        "weekends_per_month": "weekends on call as primary in any four weeks",
    }
    lines = []
    for name, meaning in described.items():
        value = getattr(limits, name)
        changed = f" (was {getattr(before, name)})" if before is not None and getattr(before, name) != value else ""
        lines.append(f"• `{words[name]}={value}` — {meaning}{changed}")
    head = f"Burnout limits for *{team.name}*" + (" updated" if before is not None and before != limits else "")
    text = head + ":\n" + "\n".join(lines)
    blocks = [_section(text), _note("Admins change them with `/oncall limits [team] sleep-pages=N weeks=N weekends=N`.")]
    return fit_message(text, blocks, owned=True)
