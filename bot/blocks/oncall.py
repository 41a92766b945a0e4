"""Block Kit builders for `/oncall` answers."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.access import AdminsAnswer
from bot.blocks.limits import MESSAGE_BLOCKS, SECTION_TEXT, fit_message, pack_lines
from bot.oncall import CoverRequestInfo, MyShifts, ScheduleAnswer, SwapRequestInfo, TimeOffInfo, WhoAnswer
from bot.rotation import Reason, Shift
from bot.slack_time import slack_date
from bot.when import describe_range

_REASON_NOTE = {
    Reason.OVERRIDE: "override", Reason.SWAP: "swap", Reason.TIME_OFF: "covering time off",
    Reason.HOLIDAY: "covering a public holiday", Reason.REBALANCE: "paying back a covered shift",
    Reason.HOLIDAY_WORKED: "working a public holiday: nobody else is free",
}


def _person(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_nobody_"


def _people(shift: Shift) -> str:
    text = f"primary {_person(shift.primary)}, backup {_person(shift.backup)}"
    if shift.shadow:
        text += f", shadow {_person(shift.shadow)}"
    note = _REASON_NOTE.get(shift.reason)
    return text + (f" ({note})" if note else "")


def build_who(answer: WhoAnswer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) saying who is on call now, until when, and who is next."""
    tz = answer.team.tz
    now = answer.now
    if now.reason is Reason.GAP or now.primary is None:
        headline = f"*Nobody is on call for {answer.team.name}* until {slack_date(now.end, tz)} — an admin should add an override."
    else:
        headline = f"On call for *{answer.team.name}*: {_people(now)} until {slack_date(now.end, tz)}."
    fields = [
        {"type": "mrkdwn", "text": f"*Primary*\n{_person(now.primary)}"},
        {"type": "mrkdwn", "text": f"*Backup*\n{_person(now.backup)}"},
    ]
    if now.shadow:
        fields.append({"type": "mrkdwn", "text": f"*Shadow*\n{_person(now.shadow)}"})
    fields.append({"type": "mrkdwn", "text": f"*Until*\n{slack_date(now.end, tz)}"})
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "section", "fields": fields},
    ]
    if answer.next is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Next: {_people(answer.next)} from {slack_date(answer.next.start, tz)}"}]})
    return fit_message(headline, blocks, owned=True)


def build_schedule(answer: ScheduleAnswer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) listing the final schedule, one line per stretch, sections split between lines."""
    tz = answer.team.tz
    lines = [f"{slack_date(s.start, tz)} → {slack_date(s.end, tz)}: {_people(s)}" for s in answer.shifts]
    span = f"{answer.weeks} week{'s' if answer.weeks != 1 else ''}"
    if answer.start is None:
        title = f"{answer.team.name}: the next {span} ({tz})"
    else:
        title = f"{answer.team.name}: {span} from {answer.start.astimezone(ZoneInfo(tz)):%a %d %b %Y %H:%M} ({tz})"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    # Header, a "not shown" note and the footer take three of the message's blocks.
    room = MESSAGE_BLOCKS - 3
    chunks = pack_lines(lines, SECTION_TEXT)
    shown = chunks[:room]
    for chunk in shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    listed = sum(chunk.count("\n") + 1 for chunk in shown)
    if listed < len(lines):
        rest = answer.shifts[listed]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{len(lines) - listed} more stretches from {slack_date(rest.start, tz)} not shown: "
            f"`/oncall schedule {answer.team.name} from {rest.start.astimezone(ZoneInfo(tz)):%Y-%m-%d}` shows them.")}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Read-only preview of the final schedule (overrides, swaps and time off included)."}]})
    return fit_message(title + "\n" + "\n".join(lines), blocks, owned=True)


def build_my_shifts(answer: MyShifts) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) listing the asker's next shifts."""
    if not answer.shifts:
        text = "You have no upcoming on-call shifts."
        return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], owned=True)
    lines = [f"*{team.name}* — {shift.role.value} from {slack_date(shift.start, team.tz)} to {slack_date(shift.end, team.tz)}"
             for team, shift in answer.shifts]
    return fit_message("Your next shifts:\n" + "\n".join(lines),
                       [{"type": "section", "text": {"type": "mrkdwn", "text": "*Your next shifts*\n" + "\n".join(lines)}}])


def build_time_off_list(ranges: list[TimeOffInfo], tz: ZoneInfo) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) listing the asker's booked time off with the ids `away cancel` takes."""
    if not ranges:
        text = "You have no time off booked. `/oncall away <from> <to>` books some."
        return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], owned=True)
    lines = [f"#{r.id}  {describe_range(r.start, r.end, tz)}" for r in ranges]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
                                    for chunk in pack_lines(["*Your time off*", *lines], SECTION_TEXT)][:MESSAGE_BLOCKS - 1]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "`/oncall away cancel <id>` cancels one (one in progress ends now)."}]})
    return fit_message("Your time off:\n" + "\n".join(lines), blocks, owned=True)


def build_admins(answer: AdminsAnswer) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) naming the admins, after a change when there was one."""
    names = ", ".join(f"<@{user_id}>" for user_id in answer.admins) or "_nobody yet_ (set SOCIALOPS_ADMINS)"
    text = f"Admins: {names}."
    if answer.changed is not None:
        text = f"<@{answer.who}> {'is now an admin' if answer.changed == 'added' else 'is no longer an admin'}. " + text
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    note = "Admins change rotations, policies and the admin list: `/oncall admins add @who`, `/oncall admins remove @who` (audited)."
    if answer.bootstrap:
        note += " These come from SOCIALOPS_ADMINS until the first change stores them."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return fit_message(text, blocks, owned=True)


class OncallActions(StrEnum):
    """action_ids of /oncall buttons (one place, so builders and handlers agree)."""

    cover_take = "oncall-cover-take"
    swap_accept = "oncall-swap-accept"
    swap_decline = "oncall-swap-decline"
    offboard_confirm = "oncall-offboard-confirm"


def build_cover_card(request: CoverRequestInfo) -> tuple[str, list[dict[str, Any]]]:
    """Return the cover request card: open with a Take button, or the taken state in its place."""
    tz = request.team.tz
    span = f"{slack_date(request.start, tz)} → {slack_date(request.end, tz)}"
    headline = f"<@{request.requester}> needs cover for *{request.team.name}*: {span}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    if request.note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Note: {request.note}"}]})
    if request.status == "open":
        blocks.append({"type": "actions", "block_id": f"cover-{request.id}", "elements": [
            {"type": "button", "action_id": OncallActions.cover_take, "value": str(request.id), "style": "primary",
             "text": {"type": "plain_text", "text": "Take"}},
        ]})
        text = f"Cover needed for {request.team.name}: {span}"
    else:
        taken = f"Taken by <@{request.taken_by}>" + (f" at {slack_date(request.taken_at, tz)}" if request.taken_at else "")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":white_check_mark: {taken}"}]})
        text = f"Cover for {request.team.name} {span}: {taken}"
    return fit_message(text, blocks, owned=True)


def build_cover_taken_note(request: CoverRequestInfo) -> str:
    """Return the DM telling the requester who covers them."""
    tz = request.team.tz
    return f"<@{request.taken_by}> took your cover request for *{request.team.name}* ({slack_date(request.start, tz)} → {slack_date(request.end, tz)})."


def build_swap_request(swap: SwapRequestInfo) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM asking `other` to accept or decline a swap."""
    tz = swap.team.tz
    text = (f"<@{swap.requester}> asks to swap on *{swap.team.name}*: you take their shift at {slack_date(swap.requester_at, tz)}, "
            f"they take yours at {slack_date(swap.other_at, tz)}.")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"swap-{swap.id}", "elements": [
            {"type": "button", "action_id": OncallActions.swap_accept, "value": str(swap.id), "style": "primary", "text": {"type": "plain_text", "text": "Accept"}},
            {"type": "button", "action_id": OncallActions.swap_decline, "value": str(swap.id), "text": {"type": "plain_text", "text": "Decline"}},
        ]},
    ]
    return fit_message(text, blocks, owned=True)


def build_swap_decided(swap: SwapRequestInfo) -> str:
    """Return the note telling the requester how their swap request ended."""
    return f"<@{swap.other}> {swap.status} your swap request on *{swap.team.name}*."


def build_confirmation(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return a one-section ephemeral confirmation."""
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], owned=True)
