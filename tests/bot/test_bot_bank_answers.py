"""The answer of a labelled question that a patient's question nearly repeats is quoted first (bot/compose.py,
`PassageSelector.bank_answer`; the bank is the coverage model's, bot/coverage.py `QuestionBank`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.coverage import CoverageModel, QuestionBank
from ingest.text import fold

LYMPH = "Can cancer of the lymphatic system set off paraneoplastic syndrome?"


def _with_near(model: CoverageModel, near: float) -> CoverageModel:
    return CoverageModel(model.coef, model.intercept, model.mean, model.scale, model.threshold,
                         dataclasses.replace(model.bank, near=near))


@pytest.fixture
def near_off(chatbot):
    """The bot with the labelled answers never leading (the ranking alone), restored afterwards."""
    selector = chatbot.selector
    shipped = selector.coverage
    selector.coverage = _with_near(shipped, 1.01)
    yield chatbot
    selector.coverage = shipped


def test_the_shipped_bank_knows_where_each_labelled_answer_is(chatbot):
    selector, bank = chatbot.selector, chatbot.selector.coverage.bank
    assert 0.5 <= bank.near <= 1.0 and len(bank.answers) == len(bank.texts)
    answered = [i for i, a in enumerate(bank.answered) if a]
    assert answered and all(bank.answers[i] for i in answered) and not any(bank.answers[i] for i in range(len(bank.texts))
                                                                          if not bank.answered[i])
    lib = chatbot.library
    folded = {pid: " ".join(fold(p.text).split()) for pid, p in lib.passages.items() if p.source in bank.documents}
    tagged = 0
    for i in answered:
        passages, similarity, question = selector.bank_answer(bank.vectors[i])
        assert similarity >= bank.near and question in bank.texts
        holding = {pid for pid, text in folded.items()
                   if any(" ".join(fold(a).split()) in text for a in bank.answers[i].splitlines())}
        assert holding, f"no passage of the library holds the answer of {question!r}"
        assert set(passages) == {pid for pid in holding if lib.eligible(pid)}  # never a tagged passage
        tagged += not passages
    assert tagged < len(answered) // 20  # a few answers are tagged passages (a supplement during chemotherapy)


def test_a_near_repeat_of_a_labelled_question_quotes_its_answer_first(chatbot):
    reply = chatbot.ask(LYMPH, [])
    assert reply.kind == "answer", reply.trace["why"]
    lead = reply.trace["abstain"]["bank_answer"]
    bank = chatbot.selector.coverage.bank
    assert lead["question"] in bank.texts and lead["similarity"] >= bank.near
    assert "lymphatic system" in " ".join(q.text for q in reply.quotes[:2])  # a list item follows its lead-in
    assert "answers a labelled question close to this one" in reply.trace["why"]
    assert lead["question"] in reply.trace["why"]
    row = next(p for p in reply.trace["passages"] if p["passage_id"] == lead["passage_id"])
    assert row["bank"] == lead["similarity"]


def test_without_the_labelled_answer_the_ranking_alone_chooses(near_off):
    reply = near_off.ask(LYMPH, [])
    assert reply.kind == "answer" and "bank_answer" not in reply.trace["abstain"]
    assert "lymphatic system" not in reply.quotes[0].text  # what the labelled answer changes
    assert all(p["bank"] == 0.0 for p in reply.trace["passages"])


def test_a_labelled_answer_leads_only_when_retrieval_found_it(chatbot):
    """"What is PNS?" is 0.86 from "what decides pns prognosis" (MiniLM reads "pns" as the question's main word);
    the prognosis sentence is not among what retrieval found for it, so the definitions stay first."""
    reply = chatbot.ask("What is PNS?", [])
    assert reply.kind == "answer"
    assert "paraneoplastic syndrome is" in reply.quotes[0].text.lower(), reply.quotes[0].text
    lead = reply.trace["abstain"].get("bank_answer")
    assert lead is None or lead["passage_id"] in {p["passage_id"] for p in reply.trace["passages"]}


def test_the_question_bank_keeps_its_answers_and_near_through_save_and_load(tmp_path):
    model = CoverageModel.load()
    model.save(tmp_path / "c.npz")
    again = CoverageModel.load(tmp_path / "c.npz").bank
    assert again.answers == model.bank.answers and again.near == model.bank.near


def test_nearest_answer_reads_answered_questions_at_or_above_near():
    vectors = np.eye(3, dtype=np.float32)
    bank = QuestionBank(vectors, np.array([True, False, True]), ("a", "b", "c"), ("A", "B", "C"), frozenset({"d"}),
                        ("x", "", "y"), near=0.8)
    assert bank.nearest_answer(np.array([0.0, 1.0, 0.0])) is None  # nearest is unanswered, the rest too far
    assert bank.nearest_answer(np.array([0.6, 0.0, 0.8])) == (2, pytest.approx(0.8))
    assert bank.nearest_answer(np.array([0.7, 0.0, 0.71])) is None  # below near
    less = bank.without("C")
    assert less.texts == ("a", "b") and less.answers == ("x", "") and less.authors == ("A", "B")
    assert less.nearest_answer(np.array([0.6, 0.0, 0.8])) is None
    assert QuestionBank(vectors, np.array([True] * 3), ("a", "b", "c"), ("A", "B", "C"),
                        frozenset({"d"})).nearest_answer(vectors[0]) is None  # a bank without answers leads nothing


@pytest.mark.parametrize("message", [LYMPH, "Help! What is PNS?", "which physiotherapy procedures are allowed?",
                                     "My husband has lung cancer and they said paraneoplastic. What is that?"])
def test_every_quoted_passage_has_its_row_in_the_trace(chatbot, message):
    """The staff console marks each chosen passage in the trace's table: a labelled answer may lead from below the
    twelve best-ranked, and its row (with its `bank` similarity) is shown too."""
    reply = chatbot.ask(message, [])
    assert reply.kind == "answer"
    rows = {p["passage_id"] for p in reply.trace["passages"]}
    assert set(reply.trace["chosen"]) <= rows
