"""Property: whatever the question, every quote is a verbatim span of its source file on disk, no quote
comes from a tagged passage, no reply contains a dose, and no reply renders links or raw HTML.

Run over the bundled corpus and over a second, hand-written corpus (tests/bot/conftest.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot import REPLY_KINDS, Reply
from ingest.safety import dose_patterns

_WS = re.compile(r"\s+")
_MD = MarkdownIt("commonmark")

LAY_PHRASES = [
    "seeing double", "red hot face", "outlook", "blood counts", "fingers changing shape", "is there a cure",
    "what causes it", "tests", "side effects", "the nerves", "skin", "how much", "how often", "symptoms",
    "treatment", "drops", "tincture", "per kg", "mg", "can I stop", "tiredness", "children", "contagious",
    "how long do I have", "is it cancer", "my eyes", "joint pain", "alcohol", "vitamins", "homeopathy",
]
TEMPLATES = ["{}", "{}?", "What about {}?", "Tell me about {}", "What is {}?", "How does {} work?",
             "And {}?", "Can {} be treated?", "Is {} dangerous?", "what does it say about {}"]


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


@lru_cache(maxsize=None)
def source_text(path: Path) -> str:
    with open(path, encoding="utf-8") as f:  # the file on disk, not the catalogue
        return f.read()


def corpus_words(bot) -> list[str]:
    words = set()
    for p in bot.library.passages.values():  # tagged passages included: questions may aim at them
        words.update(w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", p.text))
    return sorted(words)


def questions(words: list[str]):
    term = st.one_of(st.sampled_from(words), st.sampled_from(LAY_PHRASES))
    phrase = st.lists(term, min_size=1, max_size=4).map(" ".join)
    return st.builds(lambda t, p: t.format(p), st.sampled_from(TEMPLATES), phrase)


def conversations(words: list[str]):
    q = questions(words)
    history = st.lists(q, max_size=2).map(
        lambda qs: [m for x in qs for m in ({"role": "user", "content": x}, {"role": "assistant", "content": "…"})]
    )
    return st.tuples(q, history)


def check_reply(bot, corpus_dir: Path, reply: Reply) -> None:
    assert isinstance(reply, Reply) and reply.kind in REPLY_KINDS
    assert reply.text.strip()
    shown = reply.trace.get("shown_instead", [])  # a no_answer may show a passage, labelled as not an answer
    if reply.kind != "answer":
        assert reply.kind == "no_answer" and shown or reply.quotes == ()
    for q in reply.quotes:
        text = source_text(corpus_dir / q.source)
        assert 0 <= q.start < q.end <= len(text), q
        assert collapse(text[q.start : q.end]) == collapse(q.text) != "", (q.source, q.start, q.end, q.text)
    chosen = reply.trace.get("chosen", []) or shown
    assert set(chosen) == {q.passage_id for q in reply.quotes}
    for pid in chosen:
        passage = bot.library.passages[pid]
        assert not passage.tags, f"quoted a tagged passage: {pid} {sorted(passage.tags)} {passage.text!r}"
    doses = dose_patterns()
    assert not doses.search(reply.text), doses.find(reply.text)
    assert not any(doses.search(q.text) for q in reply.quotes)
    html = _MD.render(reply.text)
    assert "<a " not in html and "<img" not in html and "<script" not in html.lower(), html
    assert not re.search(r"<(?!/?(?:p|em|strong|blockquote|ul|li|br|ol|code)\b)[a-zA-Z/]", html), html


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECOND_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_bundled_corpus_quotes_are_verbatim_and_safe(chatbot, corpus_index):
    @PROPERTY
    @given(conversations(corpus_words(chatbot)))
    def run(conv):
        message, history = conv
        check_reply(chatbot, corpus_index.corpus_dir, chatbot.ask(message, history))

    run()


def test_second_corpus_quotes_are_verbatim_and_safe(second_chatbot, second_index):
    @SECOND_PROPERTY
    @given(conversations(corpus_words(second_chatbot)))
    def run(conv):
        message, history = conv
        check_reply(second_chatbot, second_index.corpus_dir, second_chatbot.ask(message, history))

    run()


def test_the_properties_are_not_vacuous(chatbot, corpus_index, second_chatbot, second_index):
    """The same checks on questions known to be answered, from each corpus and each file kind."""
    answered = 0
    for bot, built, message in [
        (chatbot, corpus_index, "What causes paraneoplastic syndrome?"),
        (chatbot, corpus_index, "What skin symptoms can it cause?"),
        (chatbot, corpus_index, "What side effects can cyclophosphamide have?"),
        (second_chatbot, second_index, "What are the symptoms of Lambert-Eaton myasthenic syndrome?"),
        (second_chatbot, second_index, "How is Lambert-Eaton myasthenic syndrome diagnosed?"),
        (second_chatbot, second_index, "Is paraneoplastic syndrome contagious?"),
        (second_chatbot, second_index, "What side effects does amifampridine have?"),
    ]:
        reply = bot.ask(message)
        check_reply(bot, built.corpus_dir, reply)
        answered += reply.kind == "answer" and bool(reply.quotes)
    assert answered >= 6


def test_second_corpus_is_tagged_and_its_doses_refused(second_chatbot, second_index):
    tagged = {p.text: p.tags for p in second_chatbot.library.passages.values() if p.tags}
    assert any("15 mg a day" in t for t in tagged) and any("60 mg three times a day" in t for t in tagged)
    assert any("nettle" in t for t in tagged) and any("Mistletoe" in t for t in tagged)
    for message in ("How much amifampridine should I take?", "How many tablespoons of nettle tea?"):
        reply = second_chatbot.ask(message)
        assert reply.kind == "refusal" and not reply.quotes, (message, reply.kind)
        check_reply(second_chatbot, second_index.corpus_dir, reply)
