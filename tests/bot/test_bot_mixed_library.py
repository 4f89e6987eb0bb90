"""A library that shares its shelves with other subjects (MedQuAD pages, tests/fixtures/medquad, CC BY 4.0).

"What causes it?" means the library's subject (prompts/answering.yaml `library_topic`), not whatever page
ranks first, and is answered from the subject's documents or not at all; a question about something only
another page covers still finds that page.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from langchain_core.documents import Document

from bot import ChatBot
from bot.compose import PassageSelector
from bot.focus import FocusDecision, SubjectFocus
from bot.query import QueryBuilder
from bot.retrieval import Candidate, merge_ranked

NINDS = "medquad/ninds_paraneoplastic_syndromes.md"
ANEMIA = "medquad/mplus_anemia.md"
LYMPHOMA = "medquad/mplus_lymphoma.md"
# Questions that name no subject, each of which a distractor page answers well on words alone.
# ("Does it cause weakness?" was "Does it cause tiredness?", which the subject's documents do not answer: the
# coverage check's question bank made it no_answer, session 20.)
ON_SUBJECT = ["Does it affect the blood?", "Which cancers is it linked to?", "What hormones are involved?",
              "Does it cause weakness?"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, vt):
    root = tmp_path_factory.mktemp("mixed")
    corpus = vt.mini_corpus(root / "corpus")
    shutil.copytree(vt.FIXTURES / "medquad", corpus / "medquad", ignore=shutil.ignore_patterns("LICENSE*"))
    return vt.build_index(root / "data", corpus)


@pytest.fixture(scope="module")
def mixed_bot(mixed):
    return ChatBot.from_settings(mixed.settings)


def test_the_documents_about_the_subject_are_the_focus(mixed_bot, vt):
    # three of nine documents are about paraneoplastic syndrome: their titles name it
    assert mixed_bot.focus.documents == {vt.LEAFLET, vt.EXCERPT, NINDS}
    assert mixed_bot.selector.focus is mixed_bot.focus  # one subject focus, for retrieval and selection


def test_the_bundled_library_has_no_focus(chatbot):
    # every document is about the subject: nothing to steer, the bot searches as it always did
    assert chatbot.focus.documents == frozenset()


@pytest.mark.parametrize("message", ON_SUBJECT)
def test_a_question_naming_no_subject_is_answered_from_the_subjects_documents(mixed_bot, message):
    reply = mixed_bot.ask(message, [])
    assert reply.kind == "answer", reply.trace
    assert {q.source for q in reply.quotes} <= mixed_bot.focus.documents, [(q.source, q.text) for q in reply.quotes]


def test_without_the_focus_the_distractors_win(mixed, mixed_bot):
    """The check that the library above is a real test: with the focus off, other pages answer."""
    plain = ChatBot.from_settings(mixed.settings)
    off = SubjectFocus(plain.library, documents=[])
    plain.pipeline.focus = off
    plain.pipeline.selection.selector = PassageSelector(plain.library, off)
    off_subject = [m for m in ON_SUBJECT if any(q.source not in mixed_bot.focus.documents for q in plain.ask(m, []).quotes)]
    assert len(off_subject) >= 3, off_subject


def test_a_question_only_another_page_answers_still_finds_it(mixed_bot):
    reply = mixed_bot.ask("What is hemoglobin?", [])
    assert reply.kind == "answer", reply.trace
    assert reply.quotes and all(q.source == ANEMIA for q in reply.quotes), [(q.source, q.text) for q in reply.quotes]


def test_a_question_naming_what_the_subjects_pages_never_mention_goes_to_its_page(mixed_bot):
    # the subject's pages here never mention lymphoma, and a page is titled "Lymphoma": no head start
    reply = mixed_bot.ask("Is it linked to lymphoma?", [])
    assert reply.trace["abstain"]["names_other_subject"] == ["Lymphoma"]
    assert reply.trace["abstain"]["subject_only"] == "" and reply.trace["abstain"]["focus_head_start"] == 0
    assert reply.quotes and all(q.source == LYMPHOMA for q in reply.quotes), [(q.source, q.text) for q in reply.quotes]
    on_subject = mixed_bot.ask("Does it affect the blood?", [])
    assert on_subject.trace["abstain"]["names_other_subject"] == []
    assert on_subject.trace["abstain"]["subject_only"] == "refers to the subject"


# Questions about the subject that its documents do not answer, while other pages use their words.
NOT_COVERED = ["Is it inherited?", "Can it be prevented?", "Does pregnancy make it worse?"]


@pytest.mark.parametrize("message", NOT_COVERED)
def test_a_question_about_the_subject_is_answered_from_its_documents_or_not_at_all(mixed_bot, message):
    reply = mixed_bot.ask(message, [])
    assert reply.kind == "no_answer", [(q.source, q.text) for q in reply.quotes]
    assert reply.trace["abstain"]["subject_only"] == "refers to the subject"
    assert {c["source"] for c in reply.trace["candidates"]} <= mixed_bot.focus.documents  # nothing else searched


def test_the_question_bank_stays_out_of_a_library_without_its_documents(mixed_bot, chatbot):
    """The coverage model's question bank was labelled against the two bundled documents; this library holds one of
    them and an excerpt of the other, so the bank's labels do not hold and its margin is left out."""
    for bot, banked in ((mixed_bot, False), (chatbot, True)):
        coverage = bot.ask("Does it cause weakness?", []).trace["abstain"]["coverage"]
        assert "probability" in coverage and ("nearest_margin" in coverage) == banked, coverage


def test_the_question_banks_answers_never_lead_in_a_library_without_its_documents(mixed_bot, chatbot):
    message = "Can cancer of the lymphatic system set off paraneoplastic syndrome?"
    assert "bank_answer" in chatbot.ask(message, []).trace["abstain"]
    reply = mixed_bot.ask(message, [])
    assert "bank_answer" not in reply.trace.get("abstain", {}), reply.trace["abstain"]
    assert all(p["bank"] == 0.0 for p in reply.trace.get("passages", []))


def _select(bot, message, decide):
    """The selector's decision on `message`, with the focus decision `decide` makes of the bot's own."""
    query = bot.query_builder.build(message, [])
    vector = bot.library.embeddings.encode([query.text])[0]
    docs = bot.retriever.invoke(query.text, embedding=vector.tolist(), terms=list(query.terms))
    candidates = [Candidate.from_document(d, bot.library.chunks[d.id].section) for d in docs]
    return bot.selector.select(query, vector, candidates, decide(bot.focus.run(query)))


def test_the_evidence_comes_from_the_documents_the_answer_would_come_from(mixed_bot):
    """Read as a question naming no subject (the subject's pages get only their head start, the others compete):
    the best passage is the subject's, so the evidence is theirs too, and other pages' words do not make the
    question look covered. ("Can I still donate blood?" was answered from a blood-count sentence in a library
    with all of MedQuAD, because a page never quoted matched the question.)"""
    for message in NOT_COVERED:
        selection = _select(mixed_bot, message, lambda d: dataclasses.replace(d, subject_only=""))
        assert selection.scored[0].passage.source in mixed_bot.focus.documents, message
        assert selection.abstain, (message, selection.evidence)


def test_judged_against_the_whole_library_they_would_get_an_unrelated_quote(mixed_bot):
    """The check that the two tests above are real: with no focus at all, the evidence is weighed over every
    page, and the other pages' words make each question look covered."""
    answered = [m for m in NOT_COVERED if not _select(mixed_bot, m, lambda d: FocusDecision()).abstain]
    assert answered == NOT_COVERED


def test_a_word_the_best_passages_documents_never_use_is_unknown_though_other_pages_use_it(mixed_bot):
    selection = _select(mixed_bot, "Does pregnancy make it worse?", lambda d: dataclasses.replace(d, subject_only=""))
    unknown = selection.evidence["unknown_words"]
    assert selection.abstain and unknown, selection.evidence
    assert all(any(w in stems for stems in mixed_bot.library.source_stems.values()) for w in unknown)  # some page uses it


def test_a_subject_carried_from_the_previous_turn_is_not_the_librarys(mixed_bot):
    history = [{"role": "user", "content": "What is lymphoma?"}, {"role": "assistant", "content": "…"}]
    reply = mixed_bot.ask("Is it inherited?", history)
    assert reply.trace["abstain"]["names_other_subject"] == ["Lymphoma"]
    assert reply.trace["abstain"]["subject_only"] == ""


def test_retrieval_can_be_limited_to_some_documents(mixed_bot):
    everywhere = mixed_bot.retriever.invoke("blood iron hemoglobin cancer")
    assert {d.metadata["source"] for d in everywhere} - {NINDS}, "the whole-library search should reach other pages"
    only = mixed_bot.retriever.invoke("blood iron hemoglobin cancer", sources=[NINDS])
    assert only and {d.metadata["source"] for d in only} == {NINDS}
    assert all(not mixed_bot.library.chunks[d.id].blocked for d in only)


def test_merged_candidates_keep_each_chunks_best_score():
    a = [Document(page_content="x", id="c1", metadata={"fused": 0.01}), Document(page_content="y", id="c2", metadata={"fused": 0.03})]
    b = [Document(page_content="x", id="c1", metadata={"fused": 0.05})]
    merged = merge_ranked(a, b)
    assert [(d.id, d.metadata["fused"]) for d in merged] == [("c1", 0.05), ("c2", 0.03)]


def test_term_weights_depend_on_the_documents_a_passage_competes_in(mixed_bot):
    lib = mixed_bot.library
    focus = lib.term_stats(tuple(sorted(mixed_bot.focus.documents)))
    # "paraneoplast" is rare in the whole library and everywhere among the subject's own pages
    assert focus("paraneoplast") < lib.terms("paraneoplast")


@pytest.mark.parametrize(
    ("counts", "fixed"),
    [
        ({"blood": 500, "blod": 1}, {"blod": "blood"}),  # a document's own typo, next to a common word
        ({"blood": 20, "blod": 1}, {}),  # not frequent enough to say which is the typo
        ({"blood": 500, "blod": 3}, {}),  # used too often to be a slip
    ],
)
def test_a_rare_document_word_next_to_a_common_one_is_corrected(counts, fixed):
    builder = QueryBuilder(counts, lambda m: False, synonyms={})
    assert builder.correct("what does it do to the blod")[1] == fixed
