"""What the bot says in its own voice when it does not answer with quotes: the wording of refusals,
escalations, abstentions, input problems and the safe failure, from prompts/messages.yaml.

The one safe-failure text is `safe_failure` there. It is read once when the bot is built, while the wording
is known to load, so that a wording file broken later still leaves the bot something safe to say.
"""

from __future__ import annotations

import logging
from typing import Any

import prompts
from ingest.safety import DOSING, dose_patterns

from .compose import md_escape
from .guard import EMERGENCY, OUT_OF_SCOPE, REFUSAL, GuardDecision
from .types import Reply

log = logging.getLogger("verbatim.bot")


class Replies:
    def __init__(self, fallback: str | None = None) -> None:
        """`fallback`: what to say when the wording cannot be rendered (default: `safe_failure`, read now)."""
        self.fallback = prompts.message("safe_failure") if fallback is None else fallback

    def message(self, key: str, **values: str) -> str:
        try:
            return prompts.message(key, **values)
        except Exception:  # the wording file itself is broken: still say something safe
            log.exception("message %s could not be rendered", key)
            return self.fallback

    def safe_failure(self, trace: dict[str, Any], reason: str | None = None) -> Reply:
        """Fail closed: the calm reply when anything went wrong (the error is in the trace)."""
        return Reply("no_answer", self.message("safe_failure"), reason, (), trace)

    def not_answered(self, kind: str, trace: dict[str, Any], names: list[str] = (), in_passing: list[str] = (),
                     all_shown: bool = False) -> Reply:
        """`no_answer` (the documents do not cover it) or `out_of_scope` (not about the library's subject).
        `names`: the disorders or medicines the question is about that no quote names, said back to the patient
        (`in_passing`: those the documents mention, but never in a sentence that answers); `all_shown`: asked for
        more, everything that answers was quoted already."""
        if all_shown:
            return Reply("no_answer", self.message("no_more"), None, (), trace)
        # a name is said back only when it writes out no dose: an efficacy question's subject is the patient's
        # own words ("per kg ..."), and no reply carries a dose
        said_back = [n for n in (in_passing or names) if not dose_patterns().search(n)]
        if kind == "no_answer" and said_back:
            key = "no_answer_in_passing" if in_passing else "no_answer_not_named"
            listed = md_escape(", ".join(said_back), addresses=True)
            return Reply(kind, self.message(key, names=listed), None, (), trace)
        return Reply(kind, self.message(kind), None, (), trace)

    def small_talk(self, kind: str, trace: dict[str, Any]) -> Reply:
        """The reply to a message that is only a greeting, thanks / a goodbye, or a question about the bot itself
        (`checks.SmallTalk`): an `out_of_scope` in the bot's own voice, marked in the trace so the page shows it
        without a label."""
        trace["small_talk"] = kind
        return Reply("out_of_scope", self.message(f"small_talk_{kind}"), None, (), trace)

    def dosing_refusal(self, trace: dict[str, Any], topic: str | None = None) -> Reply:
        return Reply("refusal", self.message("refusal_dosing", topic=topic or self.message("refusal_default_topic")),
                     DOSING, (), trace)

    def guarded(self, decision: GuardDecision, trace: dict[str, Any]) -> Reply:
        """The reply to a message the input guard did not allow."""
        if decision.action == EMERGENCY:
            key = "emergency_self_harm" if decision.reason == "self_harm" else "emergency"
            return Reply("emergency", self.message(key), None, (), trace)
        if decision.action == REFUSAL:
            if decision.reason == DOSING:
                return self.dosing_refusal(trace, decision.topic)
            # The rules know the remedy ("turmeric", "homeopathy"): the bot may say such remedies are unproven. The
            # learned layer only reads the message as a remedy question, and "Do steroids help?" reads as one too: the
            # bot then says it cannot tell, not that the thing is unproven.
            learned = decision.layer in ("model", "subject")
            key = "refusal_undocumented_remedy" if learned else "refusal_unproven_remedy"
            return Reply("refusal", self.message(key), decision.reason, (), trace)
        if decision.action == OUT_OF_SCOPE:
            return self.not_answered("out_of_scope", trace)
        raise ValueError(f"unknown guard action {decision.action!r}")
