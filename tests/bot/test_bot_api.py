"""The public API of DESIGN.md: ChatBot.from_settings, ask -> Reply, stream, the trace staff see."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import prompts

from bot import REPLY_KINDS, ChatBot, Quote, Reply
from ingest.index import Catalogue

ARTICLE = "002_9009d71acc615b7f.txt"


def test_from_settings_on_an_empty_data_dir_names_the_command(tmp_path, vt):
    settings = vt.make_settings(tmp_path / "empty-data", tmp_path / "corpus")
    with pytest.raises(Exception) as exc:
        ChatBot.from_settings(settings)
    assert "python -m ingest" in str(exc.value)


def test_reply_kinds_are_exactly_the_five_of_the_design():
    assert set(REPLY_KINDS) == {"answer", "refusal", "emergency", "out_of_scope", "no_answer"}


@pytest.mark.parametrize(
    "message, kinds, reason",
    [
        ("What causes paraneoplastic syndrome?", {"answer"}, None),
        ("How many mg of prednisolone?", {"refusal"}, "dosing"),
        ("Does propolis cure it?", {"refusal"}, "unproven_remedy"),
        ("I can't breathe", {"emergency"}, None),
        ("Tell me a joke", {"out_of_scope"}, None),
        ("Is it contagious?", {"no_answer", "out_of_scope"}, None),
    ],
)
def test_ask_returns_a_reply_of_the_expected_kind(chatbot, message, kinds, reason):
    reply = chatbot.ask(message, [])
    assert isinstance(reply, Reply)
    assert reply.kind in REPLY_KINDS and reply.kind in kinds, (reply.kind, reply.trace)
    if reason:
        assert reply.reason == reason
    assert isinstance(reply.text, str) and reply.text.strip()
    assert isinstance(reply.trace, dict)
    if reply.kind != "answer":
        assert reply.quotes == ()


def test_quotes_carry_text_source_title_section_and_offsets(chatbot, corpus_index):
    reply = chatbot.ask("What causes paraneoplastic syndrome?")
    assert reply.kind == "answer" and reply.quotes
    titles = {s: d.title for s, d in Catalogue.from_settings(corpus_index.settings.index).documents().items()}
    for q in reply.quotes:
        assert isinstance(q, Quote)
        assert isinstance(q.text, str) and q.text
        assert q.source in titles and (corpus_index.corpus_dir / q.source).is_file()
        assert q.title == titles[q.source]
        p = chatbot.library.passages[q.passage_id]
        assert q.section == (" › ".join(p.section) if p.section else "Introduction") == p.heading
        assert isinstance(q.start, int) and isinstance(q.end, int) and 0 <= q.start < q.end
        assert (q.source, q.start, q.end, q.text) == (p.source, p.start, p.end, p.text)
        d = q.to_dict()
        assert {"text", "source", "title", "section", "start", "end"} <= set(d)


def test_answer_text_has_lead_quotes_attribution_and_care_team_pointer(chatbot):
    reply = chatbot.ask("What causes paraneoplastic syndrome?")
    assert reply.kind == "answer"
    blocks = reply.text.split("\n\n")
    assert not blocks[0].startswith(">"), "a brief lead-in comes first"
    assert any(b.startswith(">") for b in blocks)
    assert "care team" in blocks[-1].lower()
    for q in reply.quotes:
        assert q.title in reply.text


@pytest.mark.parametrize("message", ["Do I have paraneoplastic syndrome?", "Could my numbness be paraneoplastic?",
                                     "My joints ache all the time, is that from this",
                                     "My eyelids droop in the evening. Could it be PNS?"])
def test_an_answer_about_the_patients_own_case_says_the_documents_cant_tell(chatbot, message):
    """The documents describe the illness, not the patient: an answer to "do I have it?" opens by saying so."""
    reply = chatbot.ask(message, [])
    assert reply.kind == "answer"
    assert reply.text.startswith(prompts.message("answer_lead_personal"))
    assert reply.trace["personal"] is True


@pytest.mark.parametrize("message", ["What is paraneoplastic syndrome?", "Can it affect my heart?",
                                     "Is it caused by the cancer itself or by something else?"])  # answered; the lead is not personal
def test_a_general_question_keeps_the_plain_lead(chatbot, message):
    reply = chatbot.ask(message, [])
    assert reply.text.startswith(prompts.message("answer_lead"))
    assert "personal" not in reply.trace


def test_attribution_separates_the_section_from_the_review_date(chatbot):
    """'— *Title*, Section (last reviewed 4 July 2025)': the date does not run into the section name, and is
    written as the page writes it."""
    reply = chatbot.ask("What causes paraneoplastic syndrome?")
    quoted = [q for q in reply.quotes if q.source == ARTICLE]
    assert quoted and quoted[0].last_reviewed == "2025-07-04"
    line = next(ln for ln in reply.text.split("\n") if "last reviewed" in ln)
    assert f"{quoted[0].section} (last reviewed 4 July 2025)" in line, line


@pytest.mark.parametrize(
    "message",
    ["What causes paraneoplastic syndrome?", "How much prednisolone should I take?", "I want to end my life", ""],
)
def test_stream_yields_text_pieces_then_the_final_reply(chatbot, message):
    parts = list(chatbot.stream(message, []))
    *pieces, final = parts
    assert isinstance(final, Reply)
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text
    same = chatbot.ask(message, [])
    assert (final.kind, final.reason, [q.passage_id for q in final.quotes]) == (
        same.kind, same.reason, [q.passage_id for q in same.quotes])


def test_stream_yields_the_lead_each_quote_with_its_source_then_the_pointer(chatbot):
    *pieces, final = list(chatbot.stream("What is paraneoplastic syndrome?", []))
    assert final.kind == "answer" and len(final.quotes) >= 2
    assert pieces[0] == "Here is what the documents say:\n\n"
    assert pieces[-1].startswith("Your care team can tell you what this means for you.")
    assert pieces[-1].endswith('ask "tell me more" to see it.') == (final.trace["abstain"].get("more_available", 0) > 0)
    middle = pieces[1:-1]
    assert len(middle) == len(final.quotes)  # one quote per piece here (no grouped list items)
    for piece, quote in zip(middle, final.quotes):
        assert piece.startswith("> ") and quote.title.split(" (")[0] in piece and piece.endswith("\n\n")
    refusal = list(chatbot.stream("How much prednisolone should I take?", []))
    assert len(refusal) == 2 and refusal[0] == refusal[1].text  # a reply that is not an answer comes whole


def test_trace_has_what_staff_need(chatbot):
    trace = chatbot.ask("What causes paraneoplastic syndrome?").trace
    assert trace["query"]["condensed"]
    assert trace["candidates"]
    for c in trace["candidates"]:
        assert {"chunk_id", "source", "dense", "keyword", "fused"} <= set(c)
    assert trace["chosen"]
    assert trace["abstain"]["abstain"] is False
    assert trace["input_guard"]["action"] == "allow"
    assert trace["timings_ms"]["total"] > 0


def test_one_bot_serves_many_patients_at_once(chatbot):
    """Stateless: concurrent calls give the same replies as one at a time."""
    questions = [
        "What causes paraneoplastic syndrome?",
        "What skin symptoms can it cause?",
        "How is it diagnosed?",
        "What side effects can cyclophosphamide have?",
        "How much azathioprine should I take?",
        "What is the outlook?",
    ]
    key = lambda r: (r.kind, r.reason, tuple(q.passage_id for q in r.quotes))  # noqa: E731
    sequential = [key(chatbot.ask(q)) for q in questions]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = [key(r) for r in pool.map(chatbot.ask, questions)]
    assert concurrent == sequential


def test_a_name_the_documents_only_mention_is_given_back_as_the_patient_wrote_it(chatbot):
    """The finders read names in lower case without accents ("guillain barr syndrome"); the reply says the name as
    written."""
    from bot.compose import as_written

    assert as_written("guillain barr syndrome", "Tell me about Guillain-Barré syndrome") == "Guillain-Barré syndrome"
    assert as_written("lambert eaton", "what about lambert eaton?") == "lambert eaton"
    assert as_written("medical cannabis", "something else") == "medical cannabis"
    reply = chatbot.ask("Tell me about Guillain-Barré syndrome", [])
    assert reply.kind == "no_answer" and "Barré" in reply.text and "barr " not in reply.text


def test_a_word_only_a_tagged_passage_uses_is_a_word_the_documents_never_use(chatbot):
    """"weight" is in the bundled documents only in a dosing line ("per kilogram of weight per day"), which is never
    quoted: a question about weight gain was answered with a list item that names the medicine."""
    lib = chatbot.library
    tagged_only = lib.terms.stems - lib.quotable_stems
    assert {"weight", "kilogram"} <= tagged_only and "prednisolon" in lib.quotable_stems
    assert all(p.tags for p in lib.passages.values() if "weight" in lib.passage_terms[p.id])
    reply = chatbot.ask("Does prednisolone cause weight gain?", [])
    assert reply.kind == "no_answer" and not reply.quotes
    assert "weight" in reply.trace["abstain"]["unknown_words"]
    assert "the documents never use" in reply.trace["abstain"]["why"] and "weight" in reply.trace["abstain"]["why"]
