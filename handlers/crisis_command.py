"""`/crisis` adapter: parse the text, call the use case, render the answer (ephemeral); paging runs after the ack."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App

from bot import campaigns, crisis, detector_tuning, mentions, playbook, reach, stakeholders
from bot.audit import AuditRecord, Via
from bot.blocks.detector_tuning import build_campaign_cancelled, build_campaign_created, build_campaign_list, build_tuning_answer
from bot.blocks.crisis import build_confirmation, build_crisis_list, build_crisis_status, build_joined_declare
from bot.blocks.escalation_policy import build_policy_answer, build_policy_modal
from bot.blocks.playbook import build_playbook_modal, build_playbook_preview
from bot.blocks.help import build_help
from bot.blocks.reach import REACH_USAGE, build_reach_answer
from bot.blocks.stakeholders import build_stakeholders_answer
from bot.blocks.mentions import build_sources_answer
from bot.command_grammar import ParsedCommand, parse_user
from bot.crisis_query import CRISIS, parse_channel, parse_crisis_id, parse_declare, parse_sources
from bot.errors import NotFound, UsageError
from bot.escalation import Policy, describe_policy, parse_policy, plan_chain
from bot.oncall import TeamRotation, pick_team
from bot.spikes import Severity
from handlers.deps import Deps
from handlers.routing import Route, dispatch

Answer = tuple[str, list[dict[str, Any]]]


class CrisisCommand:
    """One instance per app; each method answers one subcommand."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        # Subcommand name → method, and the permission it needs (checked before the method runs).
        self.routes: dict[str, Route] = {
            "help": Route(self._help),
            "sources": Route(self._sources),
            "declare": Route(self._declare),
            "list": Route(self._list),
            "status": Route(self._status),
            "ack": Route(self._ack),
            "resolve": Route(self._resolve),
            "page": Route(self._page),
            "sev": Route(self._sev),
            "assign": Route(self._assign),
            "stakeholders": Route(self._stakeholders),
            "reach": Route(self._reach),
            "away": Route(self._away),
            "watch": Route(self._watch, admin_only="choose which team a topic pages"),
            "policy": Route(self._policy),
            "note": Route(self._note),
            "playbook": Route(self._playbook),
            "tuning": Route(self._tuning),
            "campaign": Route(self._campaign),
        }

    def answer(self, command: dict[str, Any]) -> Answer:
        query = CRISIS.parse(command.get("text", ""))  # UsageError → answered by handlers.replies
        return dispatch(self.routes, query, command, self.deps.admins)

    def _team(self, workspace_id: str, topic: str | None = None) -> crisis.Team:
        """Return the team a topic pages (its watch), or the workspace's only team."""
        # A declared crisis may be about something no listening topic covers: then the only team takes it.
        found = self._topic(workspace_id, topic) if topic is not None else None
        return crisis.team_of(self._rotation_for(workspace_id, found), self.deps.clock())

    def _help(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return build_help(CRISIS)

    def _sources(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        answer = mentions.configure_sources(
            self.deps.mentions, parse_sources(query.args), workspace_id=command["team_id"], actor=command["user_id"],
            admins=self.deps.admins, audit=self.deps.audit, via=Via.slash_command, now=self.deps.clock(),
        )
        return build_sources_answer(answer)

    def _declare(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        parsed = parse_declare(query.args)
        severity = Severity.SEV2
        if parsed.severity_word is not None:
            severity = crisis.parse_severity(parsed.severity_word) or severity
        team = self._team(command["team_id"], parsed.topic)
        now = self.deps.clock()
        # During a campaign window the first page goes to primary and backup together.
        campaign = campaigns.running_campaign(self.deps.detector_settings, team_id=team.id, topic=parsed.topic, at=now)
        outcome = crisis.declare_or_join(self.deps.crises, self.deps.audit, team=team, topic=parsed.topic, severity=severity,
                                         severity_given=parsed.severity_word is not None, summary=parsed.summary, user_id=command["user_id"],
                                         steps=plan_chain(self.deps.crises.policy(team.id), now, campaign=campaign is not None),
                                         now=now, via=Via.slash_command, channel=command.get("channel_id"))
        declared = outcome.crisis
        where = f"<#{declared.channel}>" if declared.channel else "this channel"
        if outcome.joined:
            # Two people declaring one topic is one crisis: the later declaration joins the open one (see its timeline).
            self.deps.run_later(lambda: self.deps.crisis_flow.after_change(declared.id))
            return build_joined_declare(declared, where=where)
        self.deps.run_later(lambda: self.deps.crisis_flow.start_chain(declared.id))
        return build_confirmation(f"Declared {declared.title}. The card goes to {where} and the on-call person is being paged.")

    def _list(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return build_crisis_list(self.deps.crises.list_crises(workspace_id=command["team_id"], open_only=True))

    def _status(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        crisis_id = parse_crisis_id(query.args[0], "Usage: " + CRISIS.usage("status")) if query.args else None
        found = crisis.pick_crisis(self.deps.crises, workspace_id=command["team_id"], crisis_id=crisis_id)
        return build_crisis_status(found, self.deps.crises.timeline(found.id))

    def _ack(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        crisis_id = parse_crisis_id(query.args[0], "Usage: " + CRISIS.usage("ack"))
        acked = crisis.acknowledge(self.deps.crises, self.deps.audit, crisis_id=crisis_id, user_id=command["user_id"],
                                   now=self.deps.clock(), via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.after_change(acked.id))
        return build_confirmation(f"You acknowledged {acked.title}; escalation stopped.")

    def _resolve(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        crisis_id = parse_crisis_id(query.args[0], "Usage: " + CRISIS.usage("resolve"))
        user_id, now = command["user_id"], self.deps.clock()
        found = crisis.get(self.deps.crises, crisis_id)
        rotation = self.deps.rotations.load_rotation_by_id(found.team_id)
        on_call = crisis.team_of(rotation, now).on_call if rotation else ()
        resolved = crisis.resolve(self.deps.crises, self.deps.audit, crisis_id=crisis_id, user_id=user_id, note=" ".join(query.args[1:]),
                                  real=None, on_call=on_call, is_admin=self.deps.admins.is_admin(user_id), now=now, via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.after_change(resolved.id))
        return build_confirmation(f"Resolved {resolved.title}.")

    def _page(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        usage = "Usage: " + CRISIS.usage("page")
        who = parse_user(query.args[0], usage)
        crisis_id = parse_crisis_id(query.args[1], usage) if len(query.args) > 1 else None
        target = crisis.pick_crisis(self.deps.crises, workspace_id=command["team_id"], crisis_id=crisis_id)
        crisis.page(self.deps.crises, self.deps.audit, crisis_id=target.id, user_id=command["user_id"], who=who, now=self.deps.clock(),
                    via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.page_person(target.id, who, command["user_id"]))
        return build_confirmation(f"Paging <@{who}> for {target.title}.")

    def _involvement(self, crisis_id: int, user_id: str) -> tuple[crisis.Crisis, tuple[str, ...], bool]:
        """Return the crisis, who is on call for its team now, and whether `user_id` is an admin (who may change it)."""
        found = crisis.get(self.deps.crises, crisis_id)
        rotation = self.deps.rotations.load_rotation_by_id(found.team_id)
        on_call = crisis.team_of(rotation, self.deps.clock()).on_call if rotation else ()
        return found, on_call, self.deps.admins.is_admin(user_id)

    def _sev(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        usage = "Usage: " + CRISIS.usage("sev")
        crisis_id = parse_crisis_id(query.args[0], usage)
        severity = crisis.parse_severity(query.args[1])
        if severity is None:
            raise UsageError(f"{query.args[1]!r} is not a severity: say sev1, sev2 or sev3.", usage=usage)
        found, on_call, is_admin = self._involvement(crisis_id, command["user_id"])
        changed = crisis.change_severity(self.deps.crises, self.deps.audit, crisis_id=found.id, user_id=command["user_id"],
                                         severity=severity, on_call=on_call, is_admin=is_admin, now=self.deps.clock(),
                                         via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.after_change(changed.id))
        return build_confirmation(f"{changed.title} is now {changed.severity.label} (was {found.severity.label}).")

    def _assign(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        usage = "Usage: " + CRISIS.usage("assign")
        crisis_id = parse_crisis_id(query.args[0], usage)
        who = parse_user(query.args[1], usage)
        found, on_call, is_admin = self._involvement(crisis_id, command["user_id"])
        assigned = crisis.assign_commander(self.deps.crises, self.deps.audit, crisis_id=found.id, user_id=command["user_id"],
                                           commander=who, on_call=on_call, is_admin=is_admin, now=self.deps.clock(),
                                           via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.after_change(assigned.id))
        return build_confirmation(f"<@{who}> is now the commander of {assigned.title}.")

    def _stakeholders(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        words = list(query.args)
        channel = parse_channel(words.pop(0), "Usage: " + CRISIS.usage("stakeholders")) if words and words[0].startswith("<#") else None
        rotation = pick_team(self.deps.rotations, command["team_id"], words[0] if words else None)
        if channel is None:
            return build_stakeholders_answer(rotation.team.name, self.deps.stakeholder_channels.stakeholder_channel(rotation.team.id))
        stakeholders.set_channel(self.deps.stakeholder_channels, self.deps.audit, self.deps.admins, team_id=rotation.team.id,
                                 workspace_id=command["team_id"], channel=channel, user_id=command["user_id"], now=self.deps.clock(),
                                 via=Via.slash_command)
        return build_stakeholders_answer(rotation.team.name, channel, note="Reminders name it from now on.")

    def _reach(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        workspace_id, user_id, now = command["team_id"], command["user_id"], self.deps.clock()
        configured, store = self.deps.providers_configured, self.deps.person_reach
        action, rest = (query.args[0].lower(), query.args[1:]) if query.args else ("show", ())
        if action == "show":
            return build_reach_answer(store.person_reach(workspace_id, user_id), configured)
        if action in ("phone", "verify", "kinds", "quiet") and not configured.twilio:
            return build_reach_answer(None, configured)  # no phone step is offered without Twilio credentials
        if action == "phone" and rest:
            code = f"{secrets.randbelow(10 ** 6):06d}"
            number = reach.start_verification(store, workspace_id=workspace_id, user_id=user_id, phone_text=" ".join(rest), code=code, now=now)
            texter = self.deps.code_texter
            assert texter is not None  # set whenever Twilio is configured
            self.deps.run_later(lambda: texter.sms(to=number, body=f"Your socialops code is {code}. It expires in 10 minutes."))
            return build_reach_answer(store.person_reach(workspace_id, user_id), configured,
                                      note=f"I texted a code to {number}: answer with `/crisis reach verify CODE`.")
        if action == "verify" and len(rest) == 1:
            number = reach.confirm_code(store, workspace_id=workspace_id, user_id=user_id, code=rest[0], now=now)
            self.deps.audit.record(AuditRecord(at=now, actor=user_id, action="phone_verified", via=Via.slash_command, target=f"user:{user_id}",
                                               team_id=workspace_id, after={"phone": number}))
            return build_reach_answer(store.person_reach(workspace_id, user_id), configured, note=f"{number} is verified.")
        if action == "kinds":
            kinds = reach.parse_kinds(rest, configured)
            store.save_kinds(workspace_id=workspace_id, user_id=user_id, kinds=kinds, now=now)
            self.deps.audit.record(AuditRecord(at=now, actor=user_id, action="reach_kinds_changed", via=Via.slash_command, target=f"user:{user_id}",
                                               team_id=workspace_id, after={"kinds": [k.value for k in kinds]}))
            return build_reach_answer(store.person_reach(workspace_id, user_id), configured, note="Saved.")
        if action == "quiet":
            current = store.person_reach(workspace_id, user_id)
            rule = reach.parse_quiet_rule(rest, current.quiet if current else reach.QuietRule())
            store.save_quiet_rule(workspace_id=workspace_id, user_id=user_id, rule=rule, now=now)
            self.deps.audit.record(AuditRecord(at=now, actor=user_id, action="reach_quiet_rule_changed", via=Via.slash_command,
                                               target=f"user:{user_id}", team_id=workspace_id, after=rule.to_dict()))
            return build_reach_answer(store.person_reach(workspace_id, user_id), configured, note="Saved.")
        raise UsageError(f"I don't know `/crisis reach {' '.join(query.args)}`.", usage=REACH_USAGE)

    def _away(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        if not query.args[0].isdigit():
            raise UsageError(f"{query.args[0]!r} is not a number of minutes.", usage="Usage: " + CRISIS.usage("away"))
        team = self._team(command["team_id"])
        until = crisis.step_away(self.deps.crises, self.deps.audit, team=team, user_id=command["user_id"], minutes=int(query.args[0]),
                                 now=self.deps.clock(), via=Via.slash_command)
        if until <= self.deps.clock():
            return build_confirmation(f"Welcome back: new pages for {team.name} come to you again.")
        return build_confirmation(f"New pages for {team.name} go to the backup until <!date^{int(until.timestamp())}^{{time}}|{until:%H:%M} UTC>.")

    def _watch(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        topic = self.deps.mentions.topic_by_name(workspace_id=command["team_id"], name=query.args[0])
        rotation = pick_team(self.deps.rotations, command["team_id"], query.args[1] if len(query.args) > 1 else None)
        now = self.deps.clock()
        self.deps.crises.watch_topic(topic_id=topic.id, team_id=rotation.team.id, now=now)
        self.deps.audit.record(AuditRecord(at=now, actor=command["user_id"], action="topic_watched", via=Via.slash_command,
                                           target=f"topic:{topic.id}", team_id=command["team_id"], after={"team": rotation.team.name}))
        return build_confirmation(f"Spikes in *{topic.name}* now page *{rotation.team.name}* (the detector learns a day before it pages).")

    def _policy(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        team = self._team(command["team_id"])
        if not query.args:
            current = self.deps.crises.policy(team.id)
            if not self.deps.admins.is_admin(command["user_id"]):
                return build_policy_answer(team.name, current, note="Only admins can change it.")
            view = build_policy_modal(team_id=team.id, team_name=team.name, policy=current)
            # views.open after the ack, well inside the trigger's 3 seconds.
            self.deps.run_later(lambda: self.deps.slack.open_view(trigger_id=command["trigger_id"], view=view))
            return build_policy_answer(team.name, current, note="Opening the policy form…")
        text = " ".join(query.args)  # the steps; repeat and "still on it?" stay as they are
        policy = crisis.save_policy(
            self.deps.crises, self.deps.audit, self.deps.admins, team_id=team.id, workspace_id=command["team_id"],
            edit=lambda current: self._offered(parse_policy(text, repeat=current.repeat,
                                                            still_on_it_minutes=int(current.still_on_it_after.total_seconds() // 60))),
            user_id=command["user_id"], now=self.deps.clock(), via=Via.slash_command)
        return build_confirmation(f"Escalation for {team.name} is now: {describe_policy(policy)}.")

    def _offered(self, policy: Policy) -> Policy:
        """Return the policy when each step's kind has its provider configured (UsageError naming the offered kinds)."""
        reach.require_offered([step.kind for step in policy.steps], self.deps.providers_configured)
        return policy

    def _note(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        crisis_id = parse_crisis_id(query.args[0], "Usage: " + CRISIS.usage("note"))
        words = query.raw.split(None, 2)  # the note as typed: quotes and spacing kept
        noted = crisis.add_note(self.deps.crises, self.deps.audit, crisis_id=crisis_id, user_id=command["user_id"],
                                text=words[2] if len(words) > 2 else "", now=self.deps.clock(), via=Via.slash_command)
        self.deps.run_later(lambda: self.deps.crisis_flow.after_change(noted.id))
        return build_confirmation(f"Note added to {noted.title}; it is in the card's thread and in `/crisis status {noted.id}`.")

    def _playbook(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        rotation = pick_team(self.deps.rotations, command["team_id"], query.args[0] if query.args else None)
        current = playbook.team_playbook(self.deps.playbooks, rotation.team.id)
        if not self.deps.admins.is_admin(command["user_id"]):
            names = ", ".join(f"<@{admin}>" for admin in self.deps.admins.admin_ids()) or "a socialops admin"
            return build_playbook_preview(rotation.team.name, current, note=f"Only admins can edit playbooks. Ask {names}.")
        view = build_playbook_modal(team_id=rotation.team.id, team_name=rotation.team.name, playbook=current)
        self.deps.run_later(lambda: self.deps.slack.open_view(trigger_id=command["trigger_id"], view=view))
        return build_playbook_preview(rotation.team.name, current, note="Opening the playbook editor…")

    def _tuning(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        request = detector_tuning.parse_tuning(query.args)
        rotation = pick_team(self.deps.rotations, command["team_id"], request.team)
        answer = detector_tuning.tune(self.deps.detector_settings, self.deps.audit, self.deps.admins, team_id=rotation.team.id,
                                      team_name=rotation.team.name, workspace_id=command["team_id"], request=request,
                                      user_id=command["user_id"], now=self.deps.clock(), via=Via.slash_command)
        return build_tuning_answer(answer)

    def _campaign(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        workspace_id, now = command["team_id"], self.deps.clock()
        if not query.args or query.args[0].lower() in ("list", "cancel"):
            teams = [r for r in (self.deps.rotations.load_rotation(workspace_id, n) for n in self.deps.rotations.team_names(workspace_id)) if r]
            zone = teams[0].team.tz if teams else "UTC"
            request = campaigns.parse_campaign(query.args, tz=ZoneInfo(zone), now=now)
            if request.action == "list":
                running = [(r.team.name, c) for r in teams for c in self.deps.detector_settings.campaigns(team_id=r.team.id, ending_after=now)]
                return build_campaign_list(running, tz=zone)
            assert request.campaign_id is not None
            cancelled = campaigns.cancel_campaign(self.deps.detector_settings, self.deps.audit, self.deps.admins,
                                                  team_ids=[r.team.id for r in teams], workspace_id=workspace_id,
                                                  campaign_id=request.campaign_id, user_id=command["user_id"], now=now, via=Via.slash_command)
            return build_campaign_cancelled(cancelled, tz=zone)
        # The topic (the last word, when it names one) decides the team, and the times are read in that team's zone.
        topic = self._topic(workspace_id, query.args[-1]) if len(query.args) >= 4 else None
        rotation = self._rotation_for(workspace_id, topic)
        request = campaigns.parse_campaign(query.args, tz=ZoneInfo(rotation.team.tz), now=now)
        if request.topic is not None:
            if topic is None:
                raise NotFound(f"There is no listening topic called {request.topic!r} (see `/crisis sources`).")
            request = replace(request, topic=topic.name)  # the topic's own spelling
        created = campaigns.create_campaign(self.deps.detector_settings, self.deps.audit, self.deps.admins, team_id=rotation.team.id,
                                            workspace_id=workspace_id, request=request, user_id=command["user_id"], now=now,
                                            via=Via.slash_command)
        return build_campaign_created(created, team_name=rotation.team.name, tz=rotation.team.tz)

    def _rotation_for(self, workspace_id: str, topic: mentions.Topic | None) -> TeamRotation:
        """Return the team a topic pages (its watch), else the workspace's only team."""
        team_id = self.deps.crises.team_for_topic(topic.id) if topic is not None else None
        rotation = self.deps.rotations.load_rotation_by_id(team_id) if team_id is not None else None
        return rotation if rotation is not None else pick_team(self.deps.rotations, workspace_id, None)

    def _topic(self, workspace_id: str, word: str) -> mentions.Topic | None:
        """Return the listening topic called `word` (any case), or None when no topic has that name."""
        try:
            return self.deps.mentions.topic_by_name(workspace_id=workspace_id, name=word)
        except NotFound:
            return None


def register(app: App, deps: Deps) -> None:
    command_handler = CrisisCommand(deps)

    @app.command(CRISIS.command)
    def handle_crisis(ack: Ack, command: dict[str, Any]) -> None:
        text, blocks = command_handler.answer(command)
        ack(text=text, blocks=blocks, response_type="ephemeral")
