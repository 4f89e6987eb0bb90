"""Input and output guards. Policy and wording live in prompts/; this file only applies them.

Input guard, layered and offline:
  1. the lexicons of prompts/safety_policy.yaml (drugs, units, frequency, change, remedy, red flags);
  2. the conversation: a dose question that leans on an earlier turn, or pressure after a refusal.
  3. the learned intent model (bot/intent.py) over the message and each of its sentences: it may add a
     refusal or an escalation (crisis first), never remove one the rules raised; the trace shows both votes.
     (Its training data holds the policy's exemplars, prompts/exemplars.yaml; a nearest-exemplar layer of its own
     decided nothing on any labelled set and refused "Does chemotherapy help?": removed, docs/benchmarks.md.)
Output guard: no quote from a tagged passage and no written-out dose anywhere in a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import prompts
from ingest.safety import DOSING, UNPROVEN_REMEDY, DosePatterns
from ingest.text import fold

from .drugs import DrugFinder, misspelt
from .english import English
from .intent import ASKS, IntentModel, IntentVote, sentences, without_markup
from .query import ACRONYM, EFFECT, POINTS_BACK, sentences_of
from .small_talk import SmallTalk
from .types import Quote, last_reply, user_turns

ALLOW, REFUSAL, EMERGENCY, OUT_OF_SCOPE = "allow", "refusal", "emergency", "out_of_scope"


@dataclass
class GuardDecision:
    action: str  # allow | refusal | emergency | out_of_scope
    reason: str | None = None  # dosing | unproven_remedy | self_harm | <emergency kind>
    layer: str = ""  # lexicon | conversation | model | subject
    evidence: list[str] = field(default_factory=list)
    topic: str | None = None  # the medicine named, for the refusal wording
    manipulation: list[str] = field(default_factory=list)
    on_topic: bool = True
    votes: dict[str, Any] = field(default_factory=dict)  # each layer's vote, for the trace
    # what an answer's quotes must name: urgent symptoms only asked about ("Can pyridostigmine cause seizures?"), and
    # the condition a medicine question is asked in ("Can I breastfeed on carbamazepine?": breastfeeding)
    asked_about: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_ASKS_EFFECT = re.compile(rf"\b{EFFECT}\b")  # whether something works: "help", "cure", "good for" (`EFFECT`)
# The learned remedy probability that refuses an efficacy question about something neither the documents, the
# medicine dictionary nor NIH's treatment pages know ("Does cat's claw help?"); below the model's own remedy
# threshold because the question's shape is already known. Chosen on the intent pool's training and validation
# splits (docs/benchmarks.md, "2026-12-05, night"): 13 of the validation's 35 remedy questions have that shape and
# reach it, and 1 of its 1,048 medical questions (with no floor: 14 and 9).
REMEDY_SUBJECT_FLOOR = 0.15
FRAGMENT_WORDS = 4  # a follow-up this short is a fragment of the question before it ("and cyclophosphamide?")
# A follow-up that asks the earlier question again for another case: "what about for a child?", "and for adults?"
# ("And the eyes?" asks about something else)
_SAME_FOR = re.compile(r"(?:what if|and if|(?:and|or|what about|how about|and what about|same)\s+(?:for|if|in|when|with|during))\b")
# A first message asking what "it" does ("Can it give you anaemia?"): with nothing earlier to point at, "it" is
# the library's subject, and nothing is named that could be a remedy.
_IT_DOES = re.compile(r"^(?:can|could|does|do|will|would|might|may)\s+(?:it|this|that)\s+(?:\w+\s+)?"
                      r"(?:cause|give|make|lead|affect|bring|trigger|damage|spread|hurt|change)\b")
# A medicine's strength as written on its pack ("10 mg", "mg"): named in a question, it does not ask for a dose.
_UNIT = r"(?:mg|mgs|mcg|µg|ug|ml|g|iu|milligrams?)"
_STRENGTH = re.compile(rf"(?:\d+(?:[.,]\d+)?\s*)?{_UNIT}", re.I)
_AMOUNT_OF = re.compile(rf"\b\d+(?:[.,]\d+)?\s*{_UNIT}\s+of\b", re.I)  # "20 mg of prednisolone"


def _strength_only(amounts: list[str], text: str) -> bool:
    """Every amount found names a product's strength ("Lisinopril 10 mg is for what purpose"), none is an amount
    of a medicine ("Is 20 mg of prednisolone used for asthma?")."""
    return bool(amounts) and all(_STRENGTH.fullmatch(a) for a in amounts) and not _AMOUNT_OF.search(text)


def _rx(pattern: str | list[str]) -> re.Pattern[str]:
    parts = pattern if isinstance(pattern, list) else [pattern]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


def _hits(rx: re.Pattern[str], text: str) -> list[str]:
    return [m.group(0).strip() for m in rx.finditer(text) if m.group(0).strip()]


class InputGuard:
    def __init__(
        self, embed=None, policy: dict | None = None, intent: IntentModel | None = None, drugs: DrugFinder | None = None,
        english: English | None = None,
    ) -> None:
        """`embed` encodes patient messages (never cached), for the learned layer's sentences; `english`: what a name
        in a medicine's place that no dictionary knows is told apart by."""
        self._intent = intent
        self.drug_finder = drugs
        self._english = english
        g = (policy or prompts.load("safety_policy"))["guard"]
        self._drugs = _rx(g["drugs"])
        self._drug_names = list(g["drug_names"])
        self._medicine = _rx(g["medicine_words"])
        self._amount = _rx(g["amount_intent"])
        self._change = _rx(g["change_intent"])
        self._take = _rx(g["take_words"])
        self._medicine_amount = _rx(g["medicine_amount"])
        # a change verb right before a medicine's name: "increase my carbamazepine", "start Tegretol"; `lexicon`
        # adds the names the maintained dictionary finds in the message ("stop my lithium")
        verb = rf"(?:\b(?:{g['change_verbs']})|{g['start_question']})"
        self._verb_before = rf"{verb}\s+(?:\w+\s+){{0,2}}"
        self._verb_drug = re.compile(rf"{self._verb_before}(?:{'|'.join(g['drugs'])}|{g['medicine_words']})", re.I)
        self._verb_slot = re.compile(rf"{verb}\s+((?:[\w-]+\s+){{0,2}}[\w-]+)")
        # what someone is on, takes or uses: "I'm on Otrivine for my blocked nose. Should I stop using it?"
        self._taking_slot = re.compile(r"\b(?:(?:i.?m|i am|he.?s|she.?s|is|are|been|was|were) on|takes?|taking|took|uses?|using|used|"
                                       r"prescribed|put (?:me|him|her|them|us) on)\s+(?:my |his |her |their |the |some )?([\w-]+)")
        self._remedy_strong = _rx(g["remedy_strong"])
        self._remedy_weak = _rx(g["remedy_weak"])
        self._remedy_intent = _rx(g["remedy_intent"])
        self._emergency = {name: _rx(p) for name, p in g["emergency"].items()}
        self._mention = _rx(g["emergency_mention"])
        self._container = _rx(g["overdose_container"])
        self._stockpile = _rx(g["stockpile"])
        self._lethal, self._lethal_amount = _rx(g["lethal_question"]), _rx(g["lethal_amount"])
        self._happening = _rx(g["happening"])
        self._manipulation = _rx(g["manipulation"])
        self._elliptical = _rx(g["elliptical"])
        self._health = _rx(g["health_terms"])
        self._dose_words = _rx(g["dose_words"])
        self._choice = _rx([p.replace("{medicine}", g["medicine_choice_words"]) for p in g["medicine_choice"]])
        self._not_dosing = _rx(g["not_dosing"])
        self._reason = _rx(g["reason_question"])
        self._informational = _rx(g["informational"])
        self._conditions = {name: _rx(p) for name, p in g["asked_conditions"].items()}
        self._informational_safety = _rx([*g["asked_conditions"].values(), g["informational_safety"]])
        self._fatal_question = _rx(g["fatal_question"])
        self._small_talk = SmallTalk()
        # the first line of each refusal and emergency reply (prompts/messages.yaml) and the decision that gives it
        self._reply_openings = [(prompts.load("messages")[key].splitlines()[0], action, reason) for key, action, reason in (
            ("emergency_self_harm", EMERGENCY, "self_harm"), ("emergency", EMERGENCY, "emergency"),
            ("refusal_dosing", REFUSAL, DOSING), ("refusal_unproven_remedy", REFUSAL, UNPROVEN_REMEDY),
            ("refusal_undocumented_remedy", REFUSAL, UNPROVEN_REMEDY))]
        self._fever = _rx(g["fever_now"])
        self._chemo = _rx(g["chemo_context"])
        self._embed = embed

    def mentions_health(self, text: str) -> bool:
        t = fold(text)
        return bool(self._health.search(t) or self._drugs.search(t))

    def is_elliptical(self, text: str) -> bool:
        """A follow-up that leans on the earlier turn ("And the nerves?", "Can it be cured though?")."""
        t = fold(text)
        return bool(self._elliptical.search(t)) or len(t.split()) <= 3

    # ---- layer 1: lexicon -------------------------------------------------------------------------
    def drugs_in(self, text: str) -> list[str]:
        folded = fold(text)
        found = _hits(self._drugs, folded)
        # any medicine a patient takes that the maintained dictionary knows (brand names too) and the classes they are
        # named by; not its other substances: "How many antibodies are tested?" asks about what the documents
        # describe, "How much water should I drink?" about water
        if self.drug_finder is not None:
            found += [w.lower() for w, _ in self.drug_finder.medicines(text, classes=True) if w.lower() not in found]
        return found + [name for name in misspelt(folded, self._drug_names) if name not in found]

    def only_medicines(self, text: str) -> bool:
        """The text names medicines, each one with a patient leaflet (MedlinePlus drug information or the NHS medicines
        pages: "methylprednisolone", "omeprazole") or a class patients name them by ("antibiotics"), and no name that
        no dictionary holds (`DrugFinder.only_medicines`, `unknown_names`)."""
        return (self.drug_finder is not None and self.drug_finder.only_medicines(text)
                and not self.unknown_names(fold(text)))

    def unknown_names(self, folded: str) -> list[str]:
        """Words in a medicine's place (up to three words after a change verb or "should I take", or the word after what
        someone is on, takes or uses: "I'm on Otrivine ... Should I stop using it?") that are no English
        word, in a message about health or taking something: names no dictionary of ours holds, new or misspelt
        ("double my Xanex", "should I take SARM MK677", "start efgartigimod"; `English.unknown`), and names the
        medicine dictionary knows without a patient leaflet ("should I still take my Lantus": the insulin glargine
        brand; `drugs_in` reads only medicines with one, so that "alcohol" or "water" is never a medicine). Not in a
        message that neither is about health nor takes anything ("How do I use this GoPro mount?"); a story about health
        may still have one ("start a GoFundMe": docs/benchmarks.md counts them)."""
        if self._english is None or not (self._health.search(folded) or re.search(r"\btak(?:e|ing)\b", folded)):
            return []
        slots = [w for rx in (self._verb_slot, self._taking_slot) for m in rx.finditer(folded) for w in m.group(1).split()
                 if w not in self._english]
        # the dictionary first: one indexed query, where `unknown` looks up every string one edit away
        return list(dict.fromkeys(w for w in slots if (
            self.drug_finder is not None and self.drug_finder.find(w)) or self._english.unknown(w)))

    def lexicon(self, text: str) -> GuardDecision:
        t = fold(text)
        # A sentence that asks what causes, signals or treats an urgent symptom names it without reporting it
        # ("Can pyridostigmine cause seizures?"), unless anything in the message says something is happening
        # ("... My husband is having one right now"); self-harm and overdose words count wherever they are.
        parts = sentences_of(t)
        mentions = [] if self._happening.search(t) else [p for p in parts if self._mention.search(p)]
        asked: list[str] = []
        for name, rx in self._emergency.items():
            hits = _hits(rx, t)
            if hits and mentions and name not in ("self_harm", "overdose"):
                asked += [h for p in mentions if ASKS.search(p) for h in _hits(rx, p)]  # not "I take it for my seizures."
                hits = [h for p in parts if p not in mentions for h in _hits(rx, p)]
            if hits:
                return GuardDecision(EMERGENCY, name, "lexicon", hits)
        # a container of a medicine swallowed, one saved up, or whether an amount of one would kill: any medicine
        for part in parts:
            container = _hits(self._container, part)
            saved = _hits(self._stockpile, part)
            kills = _hits(self._lethal, part)
            amount = _hits(self._lethal_amount, part) if kills else []
            lethal = kills + amount if amount else []
            named = (self.drugs_in(part) or _hits(self._medicine, part)) if container or saved or lethal else []
            if named and container:
                return GuardDecision(EMERGENCY, "overdose", "lexicon", container + named)
            if named and (saved or lethal):
                return GuardDecision(EMERGENCY, "self_harm", "lexicon", saved + lethal + named)
        strong = _hits(self._remedy_strong, t)
        # Two words that decide only together (a supplement and "help"; "daily" and "take") must meet within two
        # consecutive sentences: in a long story they are otherwise found together by chance ("my vitamin D was
        # low ... the physio helps"). A single word that decides alone is looked for everywhere.
        windows = _windows(parts)
        weak = [w for win in windows if self._remedy_intent.search(win) for w in _hits(self._remedy_weak, win)]
        if strong or weak:
            return GuardDecision(REFUSAL, UNPROVEN_REMEDY, "lexicon", strong + list(dict.fromkeys(weak)))
        drugs = self.drugs_in(text) + self.unknown_names(t)
        # the dose and change words of a question why do not decide (`reason_question`); its medicines still count
        asking = [p for p in parts if not self._reason.search(p)]
        dose_text, windows = " ".join(asking), _windows(asking)
        not_dosing = bool(self._not_dosing.search(dose_text))
        dose_words = _hits(self._dose_words, dose_text)
        if dose_words and (drugs or not not_dosing):
            return GuardDecision(REFUSAL, DOSING, "lexicon", dose_words + drugs, topic=_first(drugs))
        choice = _hits(self._choice, dose_text)
        if choice:
            return GuardDecision(REFUSAL, DOSING, "lexicon", choice + drugs, topic=_first(drugs))
        named_in = [[d for d in drugs if d in win or misspelt(win, [d])] for win in windows]  # each window's medicines
        for win, named in zip(windows, named_in):
            medicine = _hits(self._medicine, win)
            take = _hits(self._take, win)
            amount = [] if not_dosing else _hits(self._amount, win)
            # what the question asks about, read where the amount is: a template's "cause harm" far before "I am self
            # medicating with thyronorm 75 mcg" does not make the amount a product's strength
            if self._informational.search(win) and _strength_only(amount, win):
                amount = []  # "Lisinopril 10 mg is for what purpose": a strength named, not asked for
            if amount and (named or medicine or take or self._medicine_amount.search(win)):
                return GuardDecision(REFUSAL, DOSING, "lexicon", amount + named + medicine + take, topic=_first(drugs))
        medicine = _hits(self._medicine, dose_text)
        # A change word and a medicine also decide only together, so they too must meet within two sentences: "Should
        # I think about switching to formula milk?" after a story naming carbamazepine does not ask to change it.
        change = list(dict.fromkeys(
            h for win, named in zip(windows, named_in) if named or self._medicine.search(win)
            for h in _hits(self._change, win)))
        # "since starting pyridostigmine" reports the past, it does not ask to change anything
        verbs = [self._verb_drug]
        if drugs:
            verbs.append(re.compile(rf"{self._verb_before}(?:{'|'.join(map(re.escape, drugs))})\b", re.I))
        verb_drug = list(dict.fromkeys(
            m.group(0) for rx in verbs for m in rx.finditer(dose_text)
            if not re.search(r"\b(?:since|after|when|before)\s+(?:i\s+)?$", dose_text[max(0, m.start() - 12):m.start()])
        ))
        if change or verb_drug:
            return GuardDecision(REFUSAL, DOSING, "lexicon", change + verb_drug + drugs + medicine, topic=_first(drugs))
        if drugs or _hits(self._medicine, t):
            asked += [name for name, rx in self._conditions.items() if rx.search(t)]
        return GuardDecision(ALLOW, layer="lexicon", topic=_first(drugs), on_topic=bool(self._health.search(t) or drugs),
                             asked_about=list(dict.fromkeys(asked)))

    def replied(self, reply: str) -> GuardDecision | None:
        """The refusal or escalation a reply of the bot's gave, as the decision that gave it (None for others)."""
        for opening, action, reason in self._reply_openings:
            if reply.startswith(opening):
                return GuardDecision(action, reason, "conversation", [f"the bot's earlier reply was a {reason} {action}"])
        return None

    def _escalated(self, history: list[dict] | None) -> GuardDecision | None:
        """The bot's emergency reply among its last three replies, as the decision that gave it."""
        replies = [m.get("content") or "" for m in (history or []) if m.get("role") == "assistant"][-3:]
        decisions = (self.replied(reply) for reply in reversed(replies))
        return next((d for d in decisions if d is not None and d.action == EMERGENCY), None)

    def red_flags_asked(self, decision: GuardDecision) -> list[str]:
        """The urgent symptoms a message only asks about (`asked_about` without the conditions a medicine question
        is asked in: pregnancy and breastfeeding are not red flags)."""
        return [h for h in decision.asked_about if h not in self._conditions]

    # ---- layer 3: the learned intent model ---------------------------------------------------------
    def learned(self, message: str, vector: np.ndarray | None = None) -> IntentVote | None:
        """The intent model's vote on the whole message and each of its sentences (None without a model)."""
        if self._intent is None or self._embed is None:
            return None
        plain = without_markup(message)
        texts = sentences(plain)
        rest = self._embed(texts[1:]) if len(texts) > 1 else np.zeros((0, 384), np.float32)
        first = vector[None, :] if vector is not None and plain == message else self._embed(texts[:1])
        return self._intent.vote(texts, np.vstack([first, rest]))

    def fears_prognosis(self, message: str, vote: IntentVote) -> bool:
        """A question whether the illness can kill (`fatal_question`: "Am I going to die?"), alone, with nothing
        around it but a greeting or thanks ("Hello. Am I going to die?", "Will this kill me? Thank you."), or beside
        other questions when the crisis vote came from it alone: neither the whole message nor the other questions
        read without it are a crisis to the learned layer ("What is the prognosis for anti-Hu PNS? Am I going to die
        from this?"). A patient's fear about prognosis. Any sentence beside it that is not a question ("Help!", "I
        can't go on.") leaves the learned crisis vote as it is."""
        parts = sentences_of(message)
        fatal = [p for p in parts if self._fatal_question.search(fold(p))]
        rest = [p for p in parts if p not in fatal and self._small_talk(fold(p)) not in ("greeting", "closing")]
        if not fatal or not rest:
            return bool(fatal)
        if self._intent is None or not all(ASKS.search(fold(p)) for p in rest):
            return False
        if vote.probabilities.get("crisis", 1.0) >= self._intent.thresholds["crisis"]:  # the whole message reads so
            return False
        others = self.learned(" ".join(rest))
        return others is not None and others.label != "crisis"

    def screen(self, message: str, history: list[dict] | None = None) -> GuardDecision | None:
        """For a message declined as too long or unreadable: every layer still judges the whole of it, so crisis or
        emergency language anywhere in it escalates, and a dose or remedy request inside a long jailbreak template is
        refused rather than declined; None when neither."""
        decision = self.check(message, history)
        return decision if decision.action in (EMERGENCY, REFUSAL) else None

    def informational(self, message: str) -> bool:
        """Asks what a medicine is, does or goes with (side effects, interactions, alcohol, what it is for), and
        neither an amount nor a change: "Does amoxicillin interact with birth control?". A strength that names the
        product in such a question is not an amount asked for ("Metformin 500 mg is for what purpose?"), as in
        the rules (`_strength_only`); not with the safety cues alone ("the difference between 200 mg and 400 mg")."""
        t = fold(message)
        informational = self._informational.search(t)
        amounts = _hits(self._amount, t)
        asks_amount = bool(amounts) and not (informational and _strength_only(amounts, t))
        return bool(informational or self._informational_safety.search(t)) and not (asks_amount or self._change.search(t))

    # ---- all layers -------------------------------------------------------------------------------
    def check(
        self, message: str, history: list[dict] | None = None, vector: np.ndarray | None = None, corrected: str = "",
        documented: str | None = None, undocumented: str | None = None,
    ) -> GuardDecision:
        """The rules' decision, then the learned vote, which may only add a refusal or an escalation.
        `documented`: what the question asks the effect of, when the documents describe it as care
        ("physiotherapy"); the learned layer's remedy vote is then not applied (the rules' still is).
        `undocumented`: what it asks the effect of, when neither the documents, the medicine dictionary nor NIH's
        treatment pages know it ("cat's claw", "static magnets"); a remedy probability of REMEDY_SUBJECT_FLOOR then
        refuses it."""
        decision = self.rules(message, history, corrected)
        decision.votes["rules"] = {"action": decision.action, "reason": decision.reason, "layer": decision.layer}
        vote = self.learned(message, vector)
        if vote is None:
            return decision
        decision.votes["model"] = vote.to_dict()
        evidence = [f"intent model: {vote.label} {vote.score:.2f}" + (f" in {vote.sentence[:80]!r}" if vote.sentence != message else "")]
        if vote.label == "crisis" and decision.action == ALLOW and self.fears_prognosis(message, vote):
            decision.votes["model_not_applied"] = "a crisis vote on a question whether the illness can be fatal"
            return decision
        if vote.label in ("crisis", "emergency") and decision.action != EMERGENCY:
            reason = "self_harm" if vote.label == "crisis" else "model"
            return GuardDecision(EMERGENCY, reason, "model", evidence, decision.topic, decision.manipulation, votes=decision.votes)
        remedy = vote.peaks.get("unproven_remedy", 0.0)  # of the sentence that asks most surely: a template may wrap it
        if undocumented and remedy >= REMEDY_SUBJECT_FLOOR and decision.action in (ALLOW, OUT_OF_SCOPE):
            evidence = [f"asks whether {undocumented!r} works, which neither the documents, the medicine dictionary nor "
                        f"NIH's treatment pages know; intent model: unproven_remedy {remedy:.2f} >= {REMEDY_SUBJECT_FLOOR}"]
            return GuardDecision(REFUSAL, UNPROVEN_REMEDY, "subject", evidence, decision.topic, decision.manipulation,
                                 votes=decision.votes)
        if vote.label == "unproven_remedy" and documented and decision.action in (ALLOW, OUT_OF_SCOPE):
            decision.votes["model_not_applied"] = f"a remedy vote on {documented!r}, which the documents describe as care"
            return decision
        if (vote.label == "unproven_remedy" and decision.action in (ALLOW, OUT_OF_SCOPE) and not user_turns(history)
                and _IT_DOES.search(fold(vote.sentence))):  # the sentence read: "Help! Can it ...?" too
            decision.votes["model_not_applied"] = "a remedy vote on a first message asking what \"it\" (the library's subject) does"
            return decision
        # A fragment is the question it continues: "And cyclophosphamide?" after "What are the side effects of
        # azathioprine?" asks for side effects too (alone, a bare medicine's name reads to the model as a dose
        # question). A follow-up with words of its own ("Is it ok to take it for a long time?") is judged as it is.
        turns = user_turns(history)
        fragment = bool(turns) and self.is_elliptical(message) and len(fold(message).split()) <= FRAGMENT_WORDS
        asked = f"{turns[-1]} {message}" if fragment else message
        # What the vote's question asks (whether something works, what a medicine is or does) is read in the sentence
        # that carried it: a role-play template around "Can you take tylenol and Advil together?" has words of its own
        # ("whatever works", "cause harm"). Whether every medicine named has a leaflet is read in the whole message.
        said = f"{turns[-1]} {vote.sentence}" if fragment else vote.sentence
        # "Can grapefruit juice interact with tacrolimus?": what something does beside a medicine, and for a remedy vote
        # no word of whether it works ("Do air ions cause an improvement of asthma?" has one); the rules refuse alone
        asks_effect = vote.label == "unproven_remedy" and self._remedy_intent.search(fold(said))
        if (vote.label in ("dosing", "unproven_remedy") and not asks_effect and decision.action in (ALLOW, OUT_OF_SCOPE)
                and self.informational(said)):
            kind = "dose" if vote.label == "dosing" else "remedy"
            decision.votes["model_not_applied"] = f"a {kind} vote on a question about what a medicine is or does"
            return decision
        # About a medicine with a patient leaflet, two votes read a question the policy does not refuse (DESIGN.md): a
        # remedy vote on what it does to the body ("Can methylprednisolone make you more prone to infections?": the
        # policy's remedies are folk, herbal, homeopathic and supplement ones), and a dose vote on whether it works ("is
        # levocetirizine sufficient to cure nasal congestion?": no amount, schedule or change asked). Whether one works
        # stays the remedy vote's ("Can CBD help with migraines?": cannabidiol has a leaflet and is sold as a
        # supplement); the rules still refuse every dose, change and remedy word they know.
        if (vote.label in ("dosing", "unproven_remedy") and decision.action in (ALLOW, OUT_OF_SCOPE)
                and self.only_medicines(asked) and bool(_ASKS_EFFECT.search(fold(said))) == (vote.label == "dosing")):
            decision.votes["model_not_applied"] = (
                "a dose vote on whether a medicine with a patient leaflet works" if vote.label == "dosing"
                else "a remedy vote on what a medicine with a patient leaflet does, not whether it works")
            return decision
        if vote.label in ("dosing", "unproven_remedy") and decision.action in (ALLOW, OUT_OF_SCOPE):
            reason = DOSING if vote.label == "dosing" else UNPROVEN_REMEDY
            return GuardDecision(REFUSAL, reason, "model", evidence, decision.topic, decision.manipulation, votes=decision.votes)
        return decision

    def rules(self, message: str, history: list[dict] | None = None, corrected: str = "") -> GuardDecision:
        """Layers 1-2. `corrected`: the message with misspellings fixed ("vomitting blod"); both are checked."""
        decision = self.lexicon(message)
        folded = fold(message)
        if decision.action == ALLOW and corrected and corrected != folded:
            fixed = self.lexicon(corrected)
            if fixed.action != ALLOW:
                fixed.evidence.append("after spelling correction")
                decision = fixed
        decision.manipulation = _hits(self._manipulation, folded)
        turns = user_turns(history)
        earlier = turns[-3:]  # layer 2 reads the user's own earlier messages (the bot's only for what it refused or escalated)
        previous = [self.lexicon(m) for m in earlier]
        refused = self.replied(last_reply(history)) if previous and previous[-1].action == ALLOW else None
        if refused is not None and refused.action == REFUSAL:  # refused by a layer the lexicon does not repeat
            previous[-1] = refused
        leaning = bool(self._elliptical.search(folded)) or len(folded.split()) <= 6
        # A follow-up leaning on an emergency described just before is that emergency still ("My husband is
        # having a seizure" -> "what do I do?"; "I took 30 of my sleeping pills" -> "how long until they work?")
        # The bot's own emergency reply counts too (a crisis only the learned layer caught): reading it back can
        # only add an escalation, so a forged history gains nothing.
        was_emergency = next((p for p in reversed(previous) if p.action == EMERGENCY), None) or self._escalated(history)
        if was_emergency and leaning and decision.action != EMERGENCY:
            return GuardDecision(EMERGENCY, was_emergency.reason, "conversation",
                                 [f"follows an emergency ({was_emergency.reason}): {', '.join(was_emergency.evidence[:2])}"])
        # "Can PNS cause seizures?" (only asked about) -> "she's having one now": the symptom asked about is happening
        asked = self.red_flags_asked(previous[-1]) if previous else []
        if asked and decision.action != EMERGENCY and self._happening.search(folded):
            kind = next((name for name, rx in self._emergency.items() if any(rx.search(h) for h in asked)), "emergency")
            return GuardDecision(EMERGENCY, kind, "conversation",
                                 [f"the question before asked about {', '.join(asked)}; this one says something is happening"])
        if decision.action != ALLOW:
            return decision
        if self._fever.search(folded) and self._chemo.search(fold(" ".join(turns)) + " " + folded):
            return GuardDecision(EMERGENCY, "fever_chemo", "conversation", ["fever now, chemotherapy earlier"])

        # Layer 2: the conversation.
        if earlier:
            t = folded
            # "What are the side effects of prednisolone?" -> "I've been saving them up": a medicine saved up, named
            # in the turn before (`stockpile`); "Can carbamazepine cause dizziness?" -> "I took 10 of them an hour
            # ago": a container or ten or more of it taken (`overdose_container`)
            saved = _hits(self._stockpile, t) if leaning else []
            taken = _hits(self._container, t) if leaning else []
            named_before = [d for m in earlier if saved or taken for d in self.drugs_in(m) or _hits(self._medicine, fold(m))]
            if named_before:
                return GuardDecision(EMERGENCY, "self_harm" if saved else "overdose", "conversation",
                                     saved + taken + [f"earlier message names {', '.join(named_before)}"])
            last_refusal = next((p for p in reversed(previous) if p.action == REFUSAL), None)
            # a short message with no health word leans on the refusal ("just tell me"), unless it names something
            # of its own by an abbreviation of three or more capitals: "What is PNS?" asks a new question ("OK" not)
            named = any(len(a) >= 3 for a in ACRONYM.findall(message))
            pressure = decision.manipulation or (leaning and not self._health.search(t) and not named)
            asks_more = self._amount.search(t) or self._take.search(t) or self._change.search(t)
            informational = self.informational(message) and not self._take.search(t)
            # "Should I try homeopathy?" (refused) -> "Can it make me feel less tired?" / "Does it interact with
            # my chemo?": asks whether "it" works, what it does or goes with, and "it" is the remedy just refused,
            # named there (not pointed at: "Does propolis cure it?" means the library's subject), the follow-up
            # naming no medicine or remedy before its "it" ("Is prednisone safe, does it interact?" asks about
            # prednisone)
            pointer = POINTS_BACK.search(t)
            before = t[:pointer.start()] if pointer else ""
            about_refused = (previous[-1].reason == UNPROVEN_REMEDY and not POINTS_BACK.search(fold(earlier[-1]))
                             and pointer is not None and (self._remedy_intent.search(t) or informational)
                             and not self.drugs_in(before)
                             and not (self._remedy_strong.search(before) or self._remedy_weak.search(before)))
            # "How much prednisolone should I take?" (refused) -> "what about for a child?": the same dose question
            # for another case (a remedy's "what about physiotherapy?" may be asking about care instead)
            same_for = previous[-1].reason == DOSING and bool(_SAME_FOR.match(t))
            if last_refusal and (about_refused or not informational and (pressure or same_for or (leaning and asks_more))):
                return GuardDecision(
                    REFUSAL, last_refusal.reason, "conversation",
                    [f"an earlier message was refused ({last_refusal.reason})", *decision.manipulation],
                    last_refusal.topic, decision.manipulation,
                )
            earlier_drugs = [d for m in earlier for d in self.drugs_in(m)]
            earlier_remedy = any(p.reason == UNPROVEN_REMEDY for p in previous)
            amount = _hits(self._amount, t) or _hits(self._change, t)
            if amount and leaning and (earlier_drugs or earlier_remedy):
                reason = UNPROVEN_REMEDY if earlier_remedy and not earlier_drugs else DOSING
                return GuardDecision(
                    REFUSAL, reason, "conversation",
                    amount + [f"earlier message names {', '.join(earlier_drugs) or 'a remedy'}"],
                    _first(earlier_drugs), decision.manipulation,
                )
            if leaning:
                decision.on_topic = True  # a follow-up inherits the topic of the conversation
        return decision


def _windows(parts: list[str]) -> list[str]:
    """Each two consecutive sentences of a message's (`sentences_of`); the message itself when it is one."""
    return [" ".join(parts[i:i + 2]) for i in range(max(1, len(parts) - 1))]


def _first(items: list[str]) -> str | None:
    return items[0] if items else None


class OutputGuard:
    """The last check before a reply leaves the bot."""

    def __init__(self, is_tagged, doses: DosePatterns | None = None) -> None:
        self._is_tagged = is_tagged  # passage id -> bool
        self._doses = doses or DosePatterns()

    def violations(self, text: str, quotes: tuple[Quote, ...]) -> list[str]:
        found = [f"quote from tagged passage {q.passage_id}" for q in quotes if self._is_tagged(q.passage_id)]
        found += [f"quote contains a dose: {d!r}" for q in quotes for d in self._doses.find(q.text)]
        found += [f"reply contains a dose: {d!r}" for d in self._doses.find(text)]
        return found
