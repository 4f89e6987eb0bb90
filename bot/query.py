"""From a patient's message (and the conversation) to a search query.

Three steps, all offline: correct misspelled words against the documents' own vocabulary, add the
documents' words for lay words (prompts/synonyms.yaml), and carry the topic of the previous question
into an elliptical follow-up ("And the nerves?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Callable

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

import prompts
from ingest.text import STOPWORDS, analyze, fold, stem, words

from .types import last_reply, user_turns

CARRIED_WEIGHT = 0.35
EXPANSION_WEIGHT = 0.7
RARE_COUNT, RARE_RATIO = 2, 50  # a document word seen at most RARE_COUNT times, one edit from one seen 50x more
POINTS_BACK = re.compile(r"\b(?:it|its|that|this|them|they|these|those)\b")  # a follow-up that points back
# What an efficacy question asks a treatment to do ("Does X help ...?", "Is X good for ...?"): the compose step reads
# its subject (`PassageSelector.efficacy_subject`), the guard whether a remedy vote asks it (`InputGuard.check`).
EFFECT = (r"(?:help\w*|improv\w*|reliev\w*|reduc\w*|protect\w*|cur(?:e|es|ed|ing)|works?|prevent\w*|alleviat\w*"
           r"|fight\w*|treat(?:s|ed|ing)?|boost\w*|lower\w*|ease\w*|heal(?:s|ed|ing)?|shrink\w*|kill\w*|benefit\w*|effective"
           r"|stop(?:s|ping)?|starv\w*|calm\w*|sooth\w*|useful|helpful|beneficial|worth (?:it|trying|taking|using)"
           r"|good for|good against|better than|as good as)")


@dataclass
class Query:
    message: str
    corrected: str
    text: str  # what is embedded: corrected message + expansions (+ the carried topic)
    terms: dict[str, float]  # stem -> weight, for the keyword index and passage scoring
    alternatives: dict[str, set[str]] = field(default_factory=dict)  # stem -> stems that also count as it
    corrections: dict[str, str] = field(default_factory=dict)
    expansions: list[str] = field(default_factory=list)
    carried: str | None = None
    folded: str = ""  # `fold(message)`: computed once per question, read by the later stages
    ambiguous: bool = False  # its "it" may be the carried name or the library's subject (both named before)
    question: str = ""  # when the message tells a story first: its closing question (`story_and_question`)
    # the carried text is a whole earlier question that names nothing, for an "it" that may as well be the library's
    # subject ("what are the eye symptoms?" -> "is it curable?"): the message is also searched on its own
    # (`QueryStage`), and the reading the documents answer better is kept
    may_stand_alone: bool = False
    # stems only the statements after an opening question (`story_and_question`) or a request beside a question
    # (`QueryBuilder.requests`) use: searched, but not what is asked
    told: frozenset[str] = frozenset()

    def to_dict(self) -> dict:
        return {
            "condensed": self.text,
            "corrections": self.corrections,
            "expansions": self.expansions,
            "carried_from_history": self.carried,
            "terms": {k: round(v, 2) for k, v in self.terms.items()},
        }


_PROPER = re.compile(r"(?<![.!?:\n]\s)(?<![.!?:\n])\s+([A-Z][a-z]{3,})\b")
ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,7}\b")


def proper_names(text: str) -> set[str]:
    """Lower-case words written with a capital inside a sentence ("diamonds for Doge", "my Lyrica"), and
    acronyms written in capitals anywhere ("COPD", "LEMS") unless the message is typed in capitals: most
    likely a name the documents may not use, so never "corrected" into one of their words ("dose", "cord",
    "legs")."""
    names = {m.group(1).lower() for m in _PROPER.finditer(text)}
    if re.search(r"[a-z]{2,}", text):  # some words in lower case: not a message typed in capitals
        names |= {m.group(0).lower() for m in ACRONYM.finditer(text)}
    return names


_SENTENCE_END = re.compile(r"([\w.]*?)([.!?]+)[\"')]*\s+(?=[\w\"'(])")
_PARAGRAPH = re.compile(r"\n\s*\n")


@cache
def _abbreviations() -> frozenset[str]:
    return frozenset(a.lower() for a in prompts.load("cleaning")["abbreviations"])  # the parser's own list


def sentences_of(text: str) -> list[str]:
    """A message's sentences, also when the patient starts them in lower case ("they said paraneoplastic. what is
    that?"); not after an abbreviation or a single letter ("Dr. Smith", "e.g. this"). A blank line ends one too (a
    question pasted under a template whose last sentence was cut off)."""
    parts = []
    for paragraph in _PARAGRAPH.split(text):
        start = 0
        for m in _SENTENCE_END.finditer(paragraph):
            word = m.group(1).lower()
            if m.group(2) == "." and (word in _abbreviations() or (len(word) == 1 and word.isalpha())):
                continue
            parts.append(paragraph[start : m.end()].strip())
            start = m.end()
        parts.append(paragraph[start:].strip())
    return [p for p in parts if p]


def story_and_question(message: str) -> tuple[str, str]:
    """The statements a message tells and the question it asks, when it is shaped as one of the two: statements,
    then the questions that close it ("My mum was just diagnosed. What does that mean?"); or the questions that
    open it, then statements ("What is that? My doctor mentioned it today and I didn't catch it.").
    ("", message) when it is not shaped so (only questions, only statements, or both on either side)."""
    parts = sentences_of(message)
    asks = [p.endswith("?") for p in parts]
    if len(parts) < 2 or asks[0] == asks[-1]:
        return "", message
    if asks[-1]:
        first = next(i for i in range(len(parts) - 1, 0, -1) if not asks[i - 1])  # the closing questions
        return " ".join(parts[:first]), " ".join(parts[first:])
    end = asks.index(False)  # the opening questions
    if any(asks[end:]):
        return "", message
    return " ".join(parts[end:]), " ".join(parts[:end])


def applied(folded: str, fixes: dict[str, str]) -> str:
    """A folded text with spelling corrections (`QueryBuilder.correct`) applied."""
    for wrong, right in fixes.items():
        folded = re.sub(rf"\b{re.escape(wrong)}\b", right, folded)
    return folded


def _stems(text: str, fixes: dict[str, str]) -> frozenset[str]:
    """The stems of a text's words, its spelling corrections applied."""
    return frozenset(analyze(applied(fold(text), fixes)))


class QueryBuilder:
    def __init__(
        self,
        vocabulary: dict[str, int],
        is_elliptical: Callable[[str], bool],
        synonyms: dict | None = None,
        dictionary: set[str] | frozenset[str] = frozenset(),
        is_name: Callable[[str], set[str]] | None = None,
        may_carry: Callable[[str, str], bool] | None = None,
        names: Callable[[str], list[str]] | None = None,
        subject_words: frozenset[str] = frozenset(),
    ) -> None:
        """`vocabulary`: words a misspelling may be corrected to; `dictionary`: real words never corrected (English,
        bot/english.py: the encoder's 20k whole words alone let "measles" become "meals" and "untreated" "treated");
        `is_name`: the words of a text that are names (medicines, disorders) the documents may not use: never corrected
        into a document word ("an unknown medicine became 'gravis'"); `may_carry(question, the bot's reply to it)`:
        whether an earlier question may lend its topic to a follow-up (one the guard refuses or escalates may
        not: its dose or emergency words would steer the next answer; only the names it gives carry); `names`:
        the medicines and disorders a text names: what a follow-up with a pronoun ("Is it inherited?") carries of
        an earlier question that names some; `subject_words`: the library's own subject (`Library.subject_words`)."""
        self._is_name = is_name
        self._may_carry = may_carry
        self._names = names
        self._subject_words = subject_words
        self._vocab = vocabulary
        self._known = set(vocabulary) | set(STOPWORDS)
        syn = synonyms or prompts.load("synonyms")
        # longest phrases first, so "red hot face" wins over "face"
        self._synonyms = sorted(((fold(k), [str(x) for x in v]) for k, v in syn.items()), key=lambda kv: -len(kv[0]))
        for key, _ in self._synonyms:
            self._known.update(key.split())
        # frequent words first: among equally close corrections the more common word wins
        self._choices = sorted(self._known, key=lambda w: (-vocabulary.get(w, 1), w))  # ties: alphabetical, never
        # the order of a set, which changes with Python's hash seed from one process to the next
        self._frequent = [w for w in self._choices if vocabulary.get(w, 0) >= RARE_RATIO]
        self._is_elliptical = is_elliptical
        self._stems = {stem(w) for w in self._known}
        self._dictionary = dictionary
        # "it" means the library's subject (prompts/answering.yaml, as `SubjectFocus` reads it); "they" may be an
        # aspect asked before ("What are the symptoms?" -> "Are they permanent?")
        self._refers = re.compile(prompts.load("answering")["refers_to_subject"], re.I)

    def correct(self, text: str, folded: str | None = None) -> tuple[str, dict[str, str]]:
        """`folded`: `fold(text)`, when the caller has it already."""
        fixes: dict[str, str] = {}
        names = (self._is_name(text) if self._is_name else set()) | proper_names(text)
        for w in set(words(text)):
            if len(w) < 4 or w in self._dictionary or w.isdigit() or w in names:
                continue
            if w in self._known or stem(w) in self._stems:
                # A word a large library uses once or twice, next to one it uses far more, is most likely a
                # typo in a document ("blod" once in 5,000 pages, "blood" thousands of times).
                count = self._vocab.get(w, 0)
                if 0 < count <= RARE_COUNT:
                    match = process.extractOne(w, self._frequent, scorer=DamerauLevenshtein.distance, score_cutoff=1)
                    if match and match[0] != w and self._vocab[match[0]] >= RARE_RATIO * count:
                        fixes[w] = match[0]
                continue
            # one edit for short words, two for long ones (Damerau: a swapped pair is one edit)
            max_edits = 1 if len(w) <= 5 else 2
            match = process.extractOne(w, self._choices, scorer=DamerauLevenshtein.distance, score_cutoff=max_edits)
            if match:
                fixes[w] = match[0]
        return applied(fold(text) if folded is None else folded, fixes), fixes

    def about_subject(self, text: str) -> bool:
        """Whether the text names the library's own subject (its words or their synonyms: "PNS")."""
        corrected, _ = self.correct(text)
        return bool(self._subject_words & set(words(" ".join([corrected, *self.expand(corrected)[0]]))))

    def strangers(self, text: str) -> list[str]:
        """Words of five or more letters that neither the library nor English uses (`dictionary`),
        after spelling correction: most likely the name of something the dictionaries don't know ("I've started
        taking ashwagandha"); and words of names they do know that the library never uses ("Lambert-Eaton")."""
        corrected, _ = self.correct(text)
        named = self._is_name(text) if self._is_name else set()  # a word of a name English also has ("eaton")
        return [w for w in dict.fromkeys(words(corrected)) if len(w) >= 5 and w.isalpha() and w not in self._known
                and (w not in self._dictionary or w in named) and stem(w) not in self._stems]

    def requests(self, message: str, fixes: dict[str, str]) -> frozenset[str]:
        """The words only a request for help uses beside a question ("What is paraneoplastic syndrome? Any
        advice?"): a question sentence that asks about nothing, with no word the library or its synonyms know,
        nothing pointed back at ("Is it contagious?" points back) and no name, beside one that asks about
        something. Like the words told after a question (`Query.told`), they are no sign that the documents miss
        what is asked."""
        questions = [p for p in sentences_of(message) if p.rstrip().endswith("?")]
        if len(questions) < 2:
            return frozenset()

        def asks_nothing(question: str) -> bool:
            folded = applied(fold(question), fixes)
            return not (POINTS_BACK.search(folded) or set(analyze(folded)) & self._stems
                        or (self._names and self._names(question)) or (self._is_name and self._is_name(question)))

        requests = [q for q in questions if asks_nothing(q)]
        if not requests or len(requests) == len(questions):
            return frozenset()
        return _stems(" ".join(requests), fixes) - _stems(" ".join(q for q in questions if q not in requests), fixes)

    def expand(self, corrected: str) -> tuple[list[str], dict[str, set[str]]]:
        found: list[str] = []
        alternatives: dict[str, set[str]] = {}
        taken = corrected
        for key, values in self._synonyms:
            if re.search(rf"\b{re.escape(key)}\b", taken):
                taken = re.sub(rf"\b{re.escape(key)}\b", " ", taken)
                found.extend(v for v in values if v not in found)
                alt = {s for v in values for s in analyze(v)}
                for s in analyze(key):
                    alternatives.setdefault(s, set()).update(alt)
        return found, alternatives

    def build(self, message: str, history: list[dict] | None = None, *, earlier: list[str] | None = None,
              folded: str | None = None) -> Query:
        """`earlier`: the patient's earlier messages (`user_turns(history)`) and `folded`: `fold(message)`,
        when the caller has them already. The Query keeps the whole message (later stages look for the names it
        gives); of a message that tells a story first, the question is searched and the story carried."""
        folded = fold(message) if folded is None else folded
        corrected, fixes = self.correct(message, folded)
        carried, names, source, may_stand_alone = None, [], "", False
        earlier = list(user_turns(history) if earlier is None else earlier)
        # "My mum was just diagnosed with paraneoplastic syndrome. What does that mean?": the question asks, and
        # the sentences before it tell the story. The story is searched with the question at a follow-up's
        # weight ("diagnosed" had fetched the diagnostics section), and whole: what "this" stands for in "Recently
        # my face goes red and hot. Could this be related to my cancer?" is what it describes, not only the names
        # in it. A story the guard would refuse lends only its names. The conversation before is not carried too.
        story, question = story_and_question(message)
        asked, asked_folded, asked_corrected = message, folded, corrected
        told: frozenset[str] = frozenset()
        if story and not message.rstrip().endswith(question):
            # "What is that? My doctor mentioned it today and I didn't catch it.": the question comes first, and
            # the sentences after it are searched with it (they often go on with what is asked: "Can it affect the
            # eyes? I keep seeing double since last week."), but they are not what is asked: a word only they use
            # ("today", "catch") is no sign that the documents miss the question (`told`).
            told = _stems(story, fixes) - _stems(question, fixes)
            story = ""
        told |= self.requests(message, fixes)
        if story:
            # the message's corrections, not a second search for them (the question is part of the message)
            asked, asked_folded = question, fold(question)
            asked_corrected = applied(asked_folded, fixes)
            carried, earlier = story, []
            if self._may_carry and not self._may_carry(story, ""):
                names = (self._names(story) or self.strangers(story)) if self._names is not None else []
                source, carried = story, " ".join(names) or None
        if self._may_carry and earlier and not self._may_carry(earlier[-1], last_reply(history)):
            source = earlier[-1]
            # The previous question was refused or escalated: none of its words are carried, only the medicines
            # and disorders it names, to a follow-up that points back at them ("How much carbamazepine can I
            # take?" -> "What are its side effects?" asks about carbamazepine, as the refusal offered).
            if self._names is not None and POINTS_BACK.search(asked_folded):
                names = self._names(earlier[-1]) or self.strangers(earlier[-1])
                if not names:
                    # the refused question named nothing: it leaned on one before it ("What is methylprednisolone
                    # used for?" -> "How much should I take?" -> "What about its warnings?"), whose name it is
                    names = next((found for m in reversed(earlier[-3:-1]) if (found := self._names(m))), [])
            carried = " ".join(names) or None
            earlier = []
        if earlier and self._is_elliptical(asked):
            carried = earlier[-1]
            if len(earlier) > 1 and self._is_elliptical(carried) and (not self._may_carry or self._may_carry(earlier[-2], "")):
                carried = earlier[-2] + " " + carried
            if self._names is not None and POINTS_BACK.search(asked_folded):
                # "Is it curable?" asks something new about what "it" stands for: the earlier question's
                # subject, not its aspect. That subject is the medicine or disorder it names ("Cyclophosphamide
                # side effects?"), or the words of a name the library never uses ("Tell me about Lambert-Eaton
                # syndrome" -> "What is it?"); if it names none and says "it" itself ("What does it do to the
                # eyes?"), or names the library's subject and the follow-up says "it" (`_refers`), the library's own
                # subject, so nothing is carried (the eyes, or the causes of "What causes PNS?" -> "Can it be
                # prevented?", would be answered again); else the earlier question as a whole.
                source, names = carried, self._names(carried) or self.strangers(carried)
                carried = " ".join(names) if names else None if (
                    POINTS_BACK.search(fold(carried)) or (self._refers.search(asked_folded) and self.about_subject(carried))
                ) else carried
                may_stand_alone = bool(carried) and not names
        # A carried name stands where the pronoun was: "what is it used for?" after carbamazepine is searched as
        # "what is carbamazepine used for?", not as "what is it" (the library's subject, by synonym) with
        # carbamazepine at a carried weight. Not when the earlier question also named the library's subject
        # ("Is turmeric good for paraneoplastic syndrome?" -> "How is it diagnosed?"): "it" may be either, and
        # the name keeps its carried weight.
        resolved, ambiguous = asked_corrected, bool(names) and self.about_subject(source)
        if names and not ambiguous:
            resolved = POINTS_BACK.sub(fold(" ".join(names)), asked_corrected, count=1)
        expansions, alternatives = self.expand(resolved)
        terms: dict[str, float] = {}
        for s in analyze(resolved):
            terms[s] = 1.0
        for s in analyze(" ".join(expansions)):
            terms.setdefault(s, EXPANSION_WEIGHT)
        if carried:
            carried_corrected, _ = self.correct(carried)
            carried_exp, _ = self.expand(carried_corrected)
            for s in analyze(carried_corrected + " " + " ".join(carried_exp)):
                terms.setdefault(s, CARRIED_WEIGHT)
        text = " ".join(x for x in (resolved, " ".join(expansions), fold(carried) if carried else "") if x)
        return Query(message, corrected, text, terms, alternatives, fixes, expansions, carried, folded, ambiguous,
                     question if story else "", may_stand_alone, told)
