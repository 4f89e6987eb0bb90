"""Small talk: whether a message, as a whole, only greets, thanks, asks about the bot or asks for more.

Its own module because two stages read it: the message checks (a message that is only small talk gets a short
reply in the bot's voice) and the input guard (a fear about prognosis with only a greeting or thanks around it).
"""
from __future__ import annotations

import re

import prompts
from ingest.text import fold

_NOT_WORDS = re.compile(r"[^\w\s]+|_")
# a message's opening clause, up to its first comma or sentence end ("hey guys, ...", "Hi doctor, ...")
_OPENING = re.compile(r"^\W*([^\W\d_][^,!?;:\n]{0,40}?)(?<!\bdr)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bprof)\s*[,.!;:]+\s+(?=\S)",
                      re.I)  # not after a title: "Hi Dr. Smith, ..."


class SmallTalk:
    """Whether a folded message is, as a whole, small talk: "about" when it asks about the bot itself ("are you a
    real doctor?", a greeting included), "more" when it asks for more of the last answer ("ok, tell me more"),
    "greeting" when it only greets, "closing" when it only thanks, acknowledges or says goodbye (a greeting with
    thanks included), else None."""

    def __init__(self, phrases: dict[str, list[str]] | None = None, addressees: list[str] | None = None) -> None:
        config = prompts.load("answering") if phrases is None or addressees is None else {}
        phrases = config["small_talk"] if phrases is None else phrases
        self._addressees = {fold(w) for w in (config["addressees"] if addressees is None else addressees)}
        self.kind_of = {fold(p): kind for kind, words in phrases.items() for p in words}
        alternatives = "|".join(re.escape(p) for p in sorted(self.kind_of, key=len, reverse=True))
        self._phrases = re.compile(rf"\s*\b({alternatives})\b\s*")

    def __call__(self, folded: str) -> str | None:
        bare = " ".join(_NOT_WORDS.sub(" ", folded).split())
        kinds, at = set(), 0
        while at < len(bare):
            m = self._phrases.match(bare, at)
            if not m:
                return None
            kinds.add(self.kind_of[m.group(1)])
            at = m.end()
        if not kinds:
            return None
        for kind in ("about", "more"):
            if kind in kinds:
                return kind
        return "greeting" if kinds == {"greeting"} else "closing"

    def without_salutation(self, text: str) -> str:
        """The text without an opening clause that only greets someone: a greeting, then at most two words for
        whom (`addressees` in prompts/answering.yaml: "hey guys, what are the symptoms?", "Hi doctor Smith, is it
        curable?", "Hello. Am I going to die?"). Its words are not what is asked, and no stage should read them
        as if they were."""
        m = _OPENING.match(text)
        if not m:
            return text
        bare = " ".join(_NOT_WORDS.sub(" ", fold(m.group(1))).split())
        greeting = self._phrases.match(bare)
        whom = bare[greeting.end():].split() if greeting else []
        if not greeting or self.kind_of[greeting.group(1)] != "greeting":
            return text
        if len(whom) > 2 or (whom and whom[0] not in self._addressees):
            return text
        return text[m.end():]
