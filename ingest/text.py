"""Words for the keyword index and for lexical matching: one analyzer for ingest and the bot."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import Stemmer  # PyStemmer: Snowball stemmers in C

def fold(text: str) -> str:
    """Lower-case and strip accents, so one pattern covers 'Prednisolon', 'prednisolona', 'carbamazépine'."""
    if text.isascii():  # the common case, and the hot path of tagging: nothing to strip
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")

# Function words that carry no topic. Kept short on purpose: "no", "not", "can" matter in patient questions
# less than in search, but removing them keeps BM25 scores on content words.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself nor
    of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself yourselves s t
    can may might also much many tell know please thanks thank get got""".split()
)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Folded words, stopwords kept (for fuzzy matching and vocabulary)."""
    return [w.replace("’", "'").split("'")[0] for w in _WORD.findall(fold(text))]


def analyze(text: str) -> list[str]:
    """Stemmed content words: the terms of the keyword index."""
    return _stemmer().stemWords([w for w in words(text) if w not in STOPWORDS and len(w) > 1])


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces: line breaks in a source never decide a match."""
    return " ".join(text.split())


def is_verbatim(document_text: str, start: object, end: object, text: str) -> bool:
    """The product's one rule for a quote: the document at [start:end] equals it, whitespace collapsed.

    The bot checks it before a reply leaves; the evaluation checks it again against the file on disk.
    """
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(document_text)):
        return False
    wanted = collapse(text)
    return bool(wanted) and collapse(document_text[start:end]) == wanted
