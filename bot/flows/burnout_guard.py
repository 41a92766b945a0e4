"""The burnout guard after the ack: after each page, offer the backup the rest of a shift that woke the primary too
often (once per shift); at each handoff, the rebalancing proposal its announcement carries.

The decisions are bot/burnout.py's (sleep_offer_due, propose_rebalance); this is the executor on ports. A person's
zone follows bot.people.zone_of, asking Slack (and remembering its answer) when nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot import burnout
from bot.audit import AuditSink, Via
from bot.blocks.burnout import build_offer_to_backup, build_offer_to_primary
from bot.errors import DeliveryFailed
from bot.flows.ports import Later, OutboxSender, instant_key
from bot.oncall import TeamRotation
from bot.people import ZoneFacts, roster_zone, zone_of

GUARD_JOB = "bot.jobs:guard_sleep_pages"
# A primary stretch longer than this (many weeks of overrides in a row) has its older sleep pages ignored.
SLEEP_GUARD_LOOKBACK_SHIFTS = 4


class BurnoutFacts(burnout.LimitStore, burnout.OfferStore, Protocol):
    """Limits, pages and offers of the burnout guard (storage/burnout.py)."""

    def pages(self, *, team_id: int, since: datetime, until: datetime) -> list[burnout.PageRecord]: ...
    def save_proposal(self, proposal: burnout.RebalanceProposal, *, now: datetime) -> burnout.RebalanceProposal: ...


class RotationSource(Protocol):
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...


class ZoneDirectory(Protocol):
    """A person's stored zone facts (storage/people.py)."""

    def tz_facts(self, workspace_id: str, user_id: str) -> ZoneFacts: ...
    def remember_zone(self, *, workspace_id: str, user_id: str, tz: str, now: datetime) -> None: ...


class SlackUsers(Protocol):
    def user_info(self, user_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BurnoutGuard:
    clock: Callable[[], datetime]
    store: BurnoutFacts
    audit: AuditSink
    rotations: RotationSource
    people: ZoneDirectory
    slack: SlackUsers
    outbox: OutboxSender
    later: Later

    def after_page(self, team_id: int, user_id: str, at: datetime) -> None:
        """Check the guard in a job of its own, so paging never waits for it or fails because of it."""
        self.later.at(GUARD_JOB, job_id=f"burnout-page:{team_id}:{user_id}:{instant_key(at)}", when=self.clock(),
                      args=[team_id, user_id, at.isoformat()])

    def guard_sleep_pages(self, team_id: int, user_id: str, paged_at: datetime) -> None:
        """After a page to `user_id`: past the sleep-page limit this shift, offer the backup the rest of it (once per shift)."""
        rotation = self.rotations.load_rotation_by_id(team_id)
        if rotation is None:
            return
        limits = self.store.limits(team_id)
        pages = self.store.pages(team_id=team_id, since=paged_at - rotation.spec.length * SLEEP_GUARD_LOOKBACK_SHIFTS, until=paged_at)
        offer = burnout.sleep_offer_due(rotation.spec, rotation.layers, rotation.team, limits, pages, user_id=user_id,
                                        tz=self.person_zone(rotation, user_id), now=paged_at)
        if offer is None:
            return
        stored = burnout.make_offer(self.store, self.audit, offer, now=self.clock(), via=Via.scheduler)
        if stored is None:
            return  # this shift had its offer already
        text, blocks = build_offer_to_backup(stored)
        self.outbox.send(dedupe_key=f"burnout-offer:{stored.id}:backup", method="dm", payload={"user": stored.backup, "text": text, "blocks": blocks})
        text, blocks = build_offer_to_primary(stored)
        self.outbox.send(dedupe_key=f"burnout-offer:{stored.id}:primary", method="dm", payload={"user": stored.primary, "text": text, "blocks": blocks})

    def rebalance_proposal(self, rotation: TeamRotation, handoff: datetime, now: datetime) -> burnout.RebalanceProposal | None:
        """Return the stored rebalancing proposal for this handoff's announcement, or None when nobody is overloaded."""
        limits = self.store.limits(rotation.team.id)
        since = handoff - burnout.LOOKBACK - rotation.spec.length * (limits.consecutive_weeks + 1)
        pages = self.store.pages(team_id=rotation.team.id, since=since, until=handoff)
        zones = {u: self.person_zone(rotation, u) for u in burnout.active_roster(rotation.spec)}
        proposal = burnout.propose_rebalance(rotation.spec, rotation.layers, rotation.team, limits, pages, zones, handoff=handoff)
        return None if proposal is None else self.store.save_proposal(proposal, now=now)

    def person_zone(self, rotation: TeamRotation, user_id: str) -> str:
        """Return the person's zone by bot.people.zone_of, asking Slack (and remembering its answer) when nothing is stored."""
        workspace_id = rotation.team.workspace_id
        facts = self.people.tz_facts(workspace_id, user_id)
        known = facts.known
        if not facts.chosen and not known:
            try:
                known = self.slack.user_info(user_id).get("tz")
            except DeliveryFailed as failure:
                if not failure.transient and failure.code != "user_not_found":
                    raise
                known = None  # Slack cannot say now: the roster's zone is the best guess
            if known:
                self.people.remember_zone(workspace_id=workspace_id, user_id=user_id, tz=known, now=self.clock())
        return zone_of(chosen=facts.chosen, known=known, roster=roster_zone(rotation.spec.members, user_id), team=rotation.team.tz).key
