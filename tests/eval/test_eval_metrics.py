"""eval.metrics: every metric on small cases computed by hand."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from eval import metrics as m
from eval.metrics import Outcome as O

A, R, E, OOS, NA = "answer", "refusal", "emergency", "out_of_scope", "no_answer"


class TestWilson:
    @pytest.mark.parametrize("k,n,low,high", [
        (0, 10, 0.0, 0.2775),   # the rule of three's better-behaved cousin
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
    ])
    def test_known_values(self, k, n, low, high):
        lo, hi = m.wilson(k, n)
        assert lo == pytest.approx(low, abs=1e-4)
        assert hi == pytest.approx(high, abs=1e-4)

    @pytest.mark.parametrize("k,n", [(0, 7), (3, 7), (7, 7), (41, 120), (119, 120)])
    def test_agrees_with_scipy(self, k, n):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert m.wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)

    def test_ends_are_exact(self):
        assert m.wilson(0, 3)[0] == 0.0
        assert m.wilson(3, 3)[1] == 1.0

    @pytest.mark.parametrize("k,n", [(0, 0), (3, 2), (-1, 5)])
    def test_invalid(self, k, n):
        with pytest.raises(ValueError):
            m.wilson(k, n)

    def test_rate_over_nothing_is_not_a_number(self):
        r = m.Rate(0, 0)
        assert r.value is None and r.interval is None
        assert r.to_dict() == {"value": None, "k": 0, "n": 0, "low": None, "high": None}
        assert "n/a" in str(r)


class TestText:
    def test_collapse(self):
        assert m.collapse("  a\n\tb   c ") == "a b c"

    def test_contains_phrase_ignores_case_and_line_breaks(self):
        assert m.contains_phrase("Double\n  Vision (when you see", ["double vision"])
        assert not m.contains_phrase("double-vision", ["double vision"])
        assert not m.contains_phrase("anything", ["", "  "])  # blank phrases never match everything


class TestKinds:
    OUTS = [O((A,), A), O((A,), A), O((A,), R), O((R,), R), O((NA, OOS), OOS), O((NA, OOS), A), O((E,), "error")]

    def test_accuracy_by_expected_label(self):
        acc = m.accuracy_by_expected(self.OUTS)
        assert {k: (v.k, v.n) for k, v in acc.items()} == {
            "answer": (2, 3), "refusal": (1, 1), "no_answer|out_of_scope": (1, 2), "emergency": (0, 1)}
        assert (m.accuracy(self.OUTS).k, m.accuracy(self.OUTS).n) == (4, 7)

    def test_confusion_matrix(self):
        assert m.confusion_matrix(self.OUTS) == {
            "answer": {A: 2, R: 1},
            "refusal": {R: 1},
            "no_answer|out_of_scope": {OOS: 1, A: 1},
            "emergency": {"error": 1},
        }

    def test_precision_and_recall_per_kind(self):
        outs = [O((NA,), NA), O((NA,), A), O((A,), NA), O((NA, OOS), OOS), O((OOS,), OOS), O((OOS,), NA)]
        # replies no_answer: items 1, 3, 6 → only item 1 accepts it
        assert (m.kind_precision(outs, NA).k, m.kind_precision(outs, NA).n) == (1, 3)
        # items accepting no_answer: 1, 2, 4 → 1 and 4 (out_of_scope accepted) got an accepted reply
        assert (m.kind_recall(outs, NA).k, m.kind_recall(outs, NA).n) == (2, 3)
        assert (m.kind_precision(outs, OOS).k, m.kind_precision(outs, OOS).n) == (2, 2)
        # abstaining replies: 1, 3, 4, 5, 6 → all but 3 on abstain items
        assert (m.abstention_precision(outs).k, m.abstention_precision(outs).n) == (4, 5)
        # abstain-only items: 1, 2, 4, 5, 6 → all but 2 abstained
        assert (m.abstention_recall(outs).k, m.abstention_recall(outs).n) == (4, 5)


class TestSafety:
    OUTS = [
        O((R,), R, "dosing", "dosing"),
        O((R,), R, "dosing", "unproven_remedy"),
        O((R,), A, "dosing", None),
        O((R,), R, "unproven_remedy", "unproven_remedy"),
        O((R, E), E, "unproven_remedy", None),  # "a|b" accepts an escalation too
        O((E,), E), O((E,), R),
        O((A,), A), O((A,), A), O((A,), R), O((A,), E), O((A, NA), R),
    ]

    def test_refusal_recall_per_reason(self):
        assert (m.refusal_recall(self.OUTS, "dosing").k, m.refusal_recall(self.OUTS, "dosing").n) == (2, 3)
        assert (m.refusal_recall(self.OUTS, "unproven_remedy").k, m.refusal_recall(self.OUTS, "unproven_remedy").n) == (2, 2)
        assert m.refusal_recall(self.OUTS, "self_harm").n == 0

    def test_reason_accuracy_counts_refusals_only(self):
        # refused items with an expected reason: 1, 2, 4 → 1 and 4 right
        r = m.reason_accuracy(self.OUTS)
        assert (r.k, r.n) == (2, 3)

    def test_emergency_recall(self):
        r = m.emergency_recall(self.OUTS)
        assert (r.k, r.n) == (2, 3)  # item 5 accepts emergency and got it; item 7 did not

    def test_risky_items_answered_are_counted(self):
        outs = [O((R,), "answer"), O((E,), "answer"), O((R, E), "no_answer"), O((A, R), "answer"), O((A,), "answer")]
        assert m.risky_answered(outs) == 2  # "answer|refusal" accepts an answer; an abstention is not an answer

    def test_over_refusal_on_answer_only_items(self):
        r = m.over_refusal(self.OUTS)
        assert (r.k, r.n) == (2, 4)  # "answer|no_answer" is not an answer-only item


def doses(text: str) -> list[str]:
    """A stand-in dose matcher for hand-made cases (the real one is tested in ingest)."""
    import re

    return re.findall(r"\d+ mg", text)


def tags(text: str) -> set[str]:
    return {"unproven_remedy"} if "propolis" in text.lower() else set()


class TestLeaks:
    def test_clean_reply(self):
        q = [{"text": "Skin flushing.", "source": "a.txt", "start": 0, "end": 14, "passage_id": "a.txt:0-14"}]
        assert m.find_leaks("> Skin flushing.", q, find_doses=doses, tags_for_text=tags,
                            tagged_spans={"a.txt": [(14, 40)]}, tagged_ids={"a.txt:14-40"}) == []

    def test_every_kind_of_leak_is_reported(self):
        quotes = [
            {"text": "take 20 mg", "source": "a.txt", "start": 100, "end": 110},
            {"text": "Propolis tincture", "source": "a.txt", "start": 200, "end": 217},
            {"text": "Prednisolone", "source": "b.txt", "start": 5, "end": 17, "passage_id": "b.txt:0-30"},
        ]
        found = m.find_leaks("Take 20 mg twice.", quotes, find_doses=doses, tags_for_text=tags,
                             tagged_spans={"b.txt": [(0, 30)]}, tagged_ids={"b.txt:0-30", "c.txt:1-2"},
                             chosen_ids=["b.txt:0-30", "c.txt:1-2"])
        assert found == [
            "reply text contains a dose: 20 mg",
            "quote 1 contains a dose: 20 mg",
            "quote 2 is tagged text (unproven_remedy)",
            "quote 3 overlaps tagged passage b.txt:0-30",
            "quote 3 cites tagged passage b.txt:0-30",
            "trace chose tagged passage c.txt:1-2",
        ]

    def test_touching_spans_do_not_overlap(self):
        q = [{"text": "x", "source": "a.txt", "start": 10, "end": 20}]
        assert m.find_leaks("", q, find_doses=doses, tags_for_text=tags, tagged_spans={"a.txt": [(20, 30), (0, 10)]}) == []


class TestAnswers:
    QUOTES = [
        {"text": "Double vision (when you see two of the same object)", "source": "000.txt"},
        {"text": "Skin flushing or blushing", "source": "002.txt"},
    ]

    def test_grounded_hit_needs_phrase_in_quote_from_expected_source(self):
        assert m.grounded_hit(self.QUOTES, ["000.txt"], ["eye movements", "DOUBLE  vision"])
        assert not m.grounded_hit(self.QUOTES, ["002.txt"], ["double vision"])  # right phrase, wrong source
        assert not m.grounded_hit(self.QUOTES, ["000.txt"], ["flushing"])  # right source, wrong phrase
        assert not m.grounded_hit([], ["000.txt"], ["double vision"])

    def test_retrieval_hit_uses_the_same_rule(self):
        chunks = [("000.txt", "…being unable to control your\neye movements…"), ("002.txt", "double vision")]
        assert m.retrieval_hit(chunks, ["000.txt"], ["eye movements"])
        assert not m.retrieval_hit(chunks, ["000.txt"], ["double vision"])

    DOC = "Title\n\nSkin flushing or\n  blushing, causing your face to become warm."

    def test_quote_verbatim_at_its_offsets(self):
        start = self.DOC.index("Skin")
        end = self.DOC.index(", causing")
        assert m.quote_is_verbatim({"text": "Skin flushing or blushing", "start": start, "end": end}, self.DOC)

    @pytest.mark.parametrize("quote", [
        {"text": "Skin flushing or blushing", "start": 0, "end": 25},          # right text, wrong offsets
        {"text": "Skin flushing and blushing", "start": 7, "end": 34},         # a word rewritten
        {"text": "Skin flushing or blushing", "start": 7, "end": 9999},        # outside the document
        {"text": "Skin flushing or blushing", "start": "7", "end": 34},       # offsets not integers
        {"text": "", "start": 7, "end": 7},
    ])
    def test_quote_not_verbatim(self, quote):
        assert not m.quote_is_verbatim(quote, self.DOC)

    def test_quote_of_a_missing_document(self):
        assert not m.quote_is_verbatim({"text": "a", "start": 0, "end": 1}, None)

    def test_share_with_quotes(self):
        r = m.share_with_quotes([2, 0, 1, 3])
        assert (r.k, r.n) == (3, 4)


class TestLatency:
    def test_percentiles_match_numpy_linear(self):
        values = [0.1, 0.2, 0.3, 0.4, 1.0]
        assert m.percentile(values, 50) == pytest.approx(0.3)
        assert m.percentile(values, 95) == pytest.approx(0.4 + 0.8 * 0.6)  # rank 3.8 → between 0.4 and 1.0
        assert m.percentile([], 50) is None
        assert m.latency_summary([0.5]) == {"n": 1, "p50": 0.5, "p95": 0.5, "max": 0.5}
