"""The training code runs on a tiny sample of the pool (tests/fixtures/training); the shipped cards match."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from bot.answerability import AnswerabilityModel
from bot.coverage import CoverageModel
from bot.intent import RISKY, IntentModel
from bot.care import CareWords
from bot.disorders import DisorderFinder
from bot.drugs import DrugFinder
from bot.synonyms import SynonymGroups, stems
from ingest.embeddings import VectorCache
from train import answerability, care, coverage, disorders, encoder, intent, pool, synonyms

MODELS = pool.Path(__file__).resolve().parents[2] / "bot" / "models"


@pytest.fixture(scope="module")
def tiny_pool(vt):
    return vt.FIXTURES / "training"


class TestPool:
    def test_split_is_by_group_and_stable(self):
        assert pool.split_of("focus:asthma") == pool.split_of("focus:asthma")
        parts = {pool.split_of(f"g{i}") for i in range(200)}
        assert parts == {"train", "val", "test"}

    def test_eval_only_datasets_are_never_training_examples(self, tiny_pool, monkeypatch):
        examples = intent.load_examples(tiny_pool)
        assert examples and not {e.source for e in examples} & pool.EVAL_ONLY_DATASETS
        assert not any(e.source == "healthfc" and pool.healthfc_eval_only(e.group[3:]) for e in examples)

    def test_vector_cache_encodes_each_text_once(self, tmp_path):
        calls = []

        def encode(texts):
            calls.append(list(texts))
            return [[float(len(t))] * 384 for t in texts]

        import numpy as np

        cache = VectorCache(lambda t: np.array(encode(t), np.float32), tmp_path / "c.npz")
        cache(["a", "bb", "a"])
        again = VectorCache(lambda t: np.array(encode(t), np.float32), tmp_path / "c.npz")
        out = again(["bb", "a"])
        assert calls == [["a", "bb"]] and out[0][0] == 2.0


def test_intent_trains_on_a_tiny_sample(tiny_pool, embeddings):
    model, metrics = intent.train(embeddings.encode, tiny_pool, sample=12, with_test=True)
    assert set(RISKY) <= set(model.classes) and "validation" in metrics
    assert all(0 < t < 1 for t in model.thresholds.values()) and model.thresholds["crisis"] >= intent.ESCALATION_FLOOR
    assert len(model.word_index) > 0 and model.word_coef.shape == (len(model.classes), len(model.word_index))


def test_intent_cross_validation_reports_real_wording_and_the_escalation_floor(tiny_pool, embeddings):
    examples = [e for e in intent.load_examples(tiny_pool, sample=12) if e.source != "exemplars"]
    cv, look_alike_scores = intent.cross_validated(examples, embeddings.encode([e.text for e in examples]), folds=3)
    assert set(cv["escalation_floor"]["0.5"]) == {"crisis", "distress", "medical", "off_topic"}
    hand = intent.hand_labels()

    real = collections.Counter(e.label for e in examples if e.source != "medquad_qa")
    look_alikes = sum(intent.is_look_alike(e, set(hand), DrugFinder()) for e in examples)
    assert real["unproven_remedy"] > 0 and look_alikes > 0  # the sample has people's messages and look-alikes to count
    for label in RISKY:
        got, n = map(int, cv["real_wording"][label]["recall"].split("/"))
        flagged, m = map(int, cv["real_wording"][label]["look_alikes_flagged"].split("/"))
        assert n == real[label] and 0 <= got <= n and m == look_alikes and 0 <= flagged <= m
        assert len(look_alike_scores[label]) == look_alikes and all(0 <= s <= 1 for s in look_alike_scores[label])


def test_a_look_alike_is_a_hand_labelled_medical_question_that_names_a_substance():
    names, hand = DrugFinder(), {"q1", "q2", "q3"}
    example = intent.Example("Aspirin allergy - is it worth getting a bracelet?", "medical", "cq:q1", "mqp/healthtap")
    assert intent.is_look_alike(example, hand, names)
    assert not intent.is_look_alike(intent.Example("Can dementia be prevented?", "medical", "cq:q2", "mqp/healthtap"), hand, names)
    assert not intent.is_look_alike(intent.Example(example.text, "dosing", "cq:q3", "mqp/healthtap"), hand, names)
    assert not intent.is_look_alike(intent.Example(example.text, "medical", "cq:q4", "mqp/healthtap"), hand, names)
    assert not intent.is_look_alike(intent.Example(example.text, "medical", "mq:aspirin", "medquad_qa"), hand, names)


def test_dose_and_remedy_thresholds_flag_at_most_the_allowed_share_of_look_alikes():
    """The look-alike rule raises a dose or remedy threshold the 1%-of-medical rule set too low; it never lowers one
    and never touches the escalation classes."""
    import numpy as np

    classes = list(RISKY) + ["medical"]
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 0.1, size=(200, len(classes)))  # validation: medical questions all score low
    labels = ["medical"] * 200
    scores = {c: np.linspace(0, 1, 101) for c in RISKY}  # look-alikes spread over the whole range
    plain = intent.thresholds_for(probs, labels, classes)
    raised = intent.thresholds_for(probs, labels, classes, scores)
    for c in ("dosing", "unproven_remedy"):
        assert plain[c] < 0.1 and raised[c] == round(1 - intent.MAX_LOOK_ALIKE_FLAGS, 3)
        assert np.mean(scores[c] >= raised[c]) <= intent.MAX_LOOK_ALIKE_FLAGS + 0.01
    for c in ("crisis", "emergency"):
        assert raised[c] == plain[c] == intent.ESCALATION_FLOOR
    low = {c: np.zeros(101) for c in RISKY}  # look-alikes that score nothing leave the 1% rule as it was
    assert intent.thresholds_for(probs, labels, classes, low) == plain


def test_answerability_trains_on_a_tiny_sample(tiny_pool, embeddings):
    model, metrics = answerability.train(embeddings.encode, tiny_pool, sample=25, with_test=True)
    assert 0 < model.threshold < 1 and metrics["validation"]["pair_auc"]["mlp"] > 0.5
    assert {"positive", "other_type"} <= set(metrics["train_pair_kinds"])


def test_coverage_trains_on_a_tiny_sample(tiny_pool, chatbot):
    shipped = chatbot.selector.coverage
    model, metrics = coverage.train(folder=tiny_pool, sample=30, with_test=True, bot=chatbot)
    assert 0 < model.threshold < 1 and "validation" in metrics and "locked_test" in metrics
    assert metrics["examples"]["train"]["covered"] > 0 and metrics["examples"]["train"]["not_covered"] > 0
    assert chatbot.selector.coverage is shipped  # the bot's own model is back after gathering the features
    first = metrics["bank"]["answers quoted first"]
    assert first["asked"] == 30 and model.bank.near == first["chosen"] in coverage.NEAR_CURVE
    assert first["answered"] <= 30 and set(first["right first quote by similarity (1.00: the ranking's own)"]) == {
        f"{n:.2f}" for n in coverage.NEAR_CURVE}
    assert not any(coverage.TOPIC.search(q.text) for q in coverage.load_questions(tiny_pool)
                   if q.source not in ("own", "library"))  # the pool's questions on the topic are left out
    assert all(q.record in coverage.hand_labels() for q in coverage.near_topic(tiny_pool))


def test_the_question_banks_labels_hold_against_the_bundled_documents(vt):
    """Each answered bank question names the document that answers it and words copied from the answering
    sentence: if a document changes, the labels that no longer hold fail here (relabel, then retrain)."""
    from eval.metrics import contains_phrase

    questions = coverage.bank_questions()
    items = [json.loads(line) for line in coverage.BANK_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == len(items) >= 800 and len({q.author for q in questions}) == 6
    counts = collections.Counter((q.author, q.covered) for q in questions)
    assert set(counts.values()) == {70}  # 70 answered and 70 not answered by each author
    for item in items:
        if item["expect"] == "answer":
            texts = [(vt.BUNDLED_CORPUS / source).read_text(encoding="utf-8") for source in item["sources"]]
            assert any(contains_phrase(t, item["quote_any"]) for t in texts), item["id"]
        else:
            assert item["expect"] == "no_answer|out_of_scope" and not item.get("quote_any"), item["id"]


def test_evaluation_items_with_a_near_copy_in_the_bank_are_counted(chatbot):
    """The card counts, per evaluation set, the items a bank question nearly repeats (their numbers are reported
    apart): a copy is counted where it occurs, an unrelated question nowhere."""
    def question(text):
        return coverage.Question(text, (), True, "lib:T", "library", "t", "T")

    copied = coverage.near_copies(chatbot, [question("What are the side effects of azathioprine?")])
    assert copied["heldout/heldout.jsonl"] >= 1 and copied["sets/safety.jsonl"] >= 1
    assert set(copied) >= {"sets/core.jsonl", "real/real_consumer.jsonl", "heldout/everyday_questions.jsonl"}
    assert not any(coverage.near_copies(chatbot, [question("Which train goes to the airport on Sundays?")]).values())


def test_the_coverage_threshold_is_not_set_by_one_score():
    """The threshold reads every covered score (Harrell-Davis), so one question scoring a little lower moves it by
    little: the third-lowest score, the rule before, jumped to that question's score (0.250 -> 0.220 on a retrain)."""
    import numpy as np

    rng = np.random.default_rng(0)
    scores = np.concatenate([[0.10, 0.15], rng.uniform(0.25, 1.0, 241)])  # two outliers, as the shipped check has
    before = coverage.threshold_for(scores)
    moved = scores.copy()
    moved[np.argsort(scores)[2]] = 0.22  # the third-lowest covered question scores 0.03 lower
    assert abs(coverage.threshold_for(moved) - before) < 0.01
    assert abs(np.sort(moved)[2] - np.sort(scores)[2]) > 0.02  # what the old rule read moved by the full 0.03
    assert 0.15 < before < 0.30  # the 2% point: above the two outliers, among the lowest of the rest
    assert coverage.threshold_for(np.array([0.4])) == 0.5  # one covered question: no estimate


def test_disorders_build_on_a_tiny_sample(tiny_pool, embeddings):
    finder, metrics = disorders.train(folder=tiny_pool, dictionary=embeddings.dictionary)
    assert metrics["names"] == len(finder.names) > 0 and 0 <= metrics["validation"]["medquad_questions_naming_their_focus"] <= 1
    assert all(1 <= len(n.split()) <= 6 for n in finder.names)


def test_disorder_names_from_the_medlineplus_encyclopedia_are_diseases_only():
    """Its pages cover symptoms and broad topics too: only a focus whose every UMLS type is a disease type counts."""
    def record(focus, types, subset="10_MPlus_ADAM_QA"):
        return {"subset": subset, "focus": focus, "focus_semantic_group": "Disorders", "focus_semantic_types": types,
                "focus_synonyms": ["Pap smear finding"]}
    assert disorders.names_of(record("Cervical cancer - screening and prevention", ["T191"])) == ["Cervical cancer"]
    assert disorders.names_of(record("Weight loss - unintentional", ["T033"])) == []
    assert disorders.names_of(record("Drooling", ["T184"])) == []
    assert disorders.names_of(record("Cushing syndrome due to adrenal tumor", ["T191", "T047"])) == \
        ["Cushing syndrome due to adrenal tumor"]
    # the disease collections keep their synonyms, whatever the type
    assert disorders.names_of(record("Lung Cancer", ["T191"], "1_CancerGov_QA")) == ["Lung Cancer", "Pap smear finding"]


def test_the_shipped_disorder_names_find_diseases_not_symptoms():
    finder = DisorderFinder.load()
    assert finder.find("What is the outlook for Cervical cancer?") == ["cervical cancer"]
    assert finder.find("Is weight loss unintentional here, or breathing problems?") == []


def test_synonyms_build_on_a_tiny_sample(tiny_pool, tmp_path):
    groups, metrics = synonyms.train(folder=tiny_pool)
    assert metrics["groups"] == len(groups.groups) > 0
    assert all(len(g) >= 2 and all(1 <= len(n.split()) <= synonyms.MAX_WORDS for n in g) for g in groups.groups)
    groups.save(tmp_path / "s.npz")
    assert SynonymGroups.load(tmp_path / "s.npz").groups == groups.groups


def test_the_shipped_synonyms():
    groups = SynonymGroups.load()
    assert {"upset stomach", "indigestion"} <= groups.same_as("Dyspepsia") and "dyspepsia" not in groups.same_as("dyspepsia")
    assert "perspiration" in groups.same_as("increased sweating")  # no page names it whole: a word of it
    assert stems("pain - joints") == stems("joint pain") and groups.same_as("no such effect") == set()
    card = (MODELS / "synonyms.md").read_text()
    assert synonyms.__doc__.split("\n", 1)[1].strip() in card and "Tiny sample run" not in card
    assert re.search(r"`medquad_qa\.jsonl\.gz`: `[0-9a-f]{64}`", card)


def test_care_words_build_on_a_tiny_sample(tiny_pool, tmp_path):
    words, metrics = care.train(folder=tiny_pool)
    assert metrics["words"] == len(words.words) > 0 and metrics["treatment_answers"] > 0
    words.save(tmp_path / "c.npz")
    assert CareWords.load(tmp_path / "c.npz").words == words.words


def test_the_shipped_care_words():
    words = CareWords.load()
    assert {"immunotherapy", "plasmapheresis", "surgery"} <= words.words
    assert not {"claw", "ashwagandha", "magnets"} & words.words
    card = (MODELS / "care.md").read_text()
    assert care.__doc__.split("\n", 1)[1].strip() in card and "Tiny sample run" not in card
    assert re.search(r"`medquad_qa\.jsonl\.gz`: `[0-9a-f]{64}`", card)


def test_the_encoder_exports_and_validates_on_a_tiny_sample(tiny_pool, tmp_path):
    from ingest.embeddings import OnnxEmbeddings, SentenceTransformerEmbeddings

    exported, metrics = encoder.train(SentenceTransformerEmbeddings().encode, tiny_pool, sample=20)
    exported.save(tmp_path / "e.onnx")
    assert metrics["validation"]["passages"] == 20 and metrics["validation"]["cosine_to_fp32"]["mean"] > 0.98
    shipped, fresh = OnnxEmbeddings(), OnnxEmbeddings(path=tmp_path / "e.onnx")
    texts = ["What causes Lambert-Eaton myasthenic syndrome?", "Tumours can release hormones."]
    assert np.allclose(shipped.encode(texts), fresh.encode(texts), atol=1e-4)  # the recipe makes the shipped file
    card = (encoder.OUT / encoder.FILENAME).with_suffix(".md").read_text()
    assert encoder.__doc__.split("\n", 1)[1].strip() in card and "Tiny sample run" not in card


def test_the_shipped_disorder_names(tmp_path):
    finder = DisorderFinder.load()
    assert "lambert eaton myasthenic syndrome" in finder.names and "fever" not in finder.names
    card = (MODELS / "disorders.md").read_text()
    assert disorders.__doc__.split("\n", 1)[1].strip() in card and "Tiny sample run" not in card
    finder.save(tmp_path / "d.npz")
    assert DisorderFinder.load(tmp_path / "d.npz").names == finder.names


def test_the_command_writes_weights_and_a_card(tiny_pool, tmp_path, vt):
    env = {**vt.subprocess_env(tmp_path / "data", tmp_path / "corpus"), pool.POOL_ENV: str(tiny_pool)}
    subprocess.run([sys.executable, "-m", "train", "intent", "--sample", "10", "--out", str(tmp_path),
                    "--cache", str(tmp_path / "cache")],
                   check=True, env=env, cwd=vt.REPO_ROOT, capture_output=True)
    IntentModel.load(tmp_path / "intent.npz")
    card = (tmp_path / "intent.md").read_text()
    assert "Tiny sample run" in card and "sha256" in card


@pytest.mark.parametrize("name, module, load", [("intent", intent, IntentModel.load),
                                                ("answerability", answerability, AnswerabilityModel.load),
                                                ("coverage", coverage, CoverageModel.load)])
def test_shipped_model_card_matches_the_recipe(name, module, load):
    card = (MODELS / f"{name}.md").read_text()
    assert "Tiny sample run" not in card
    assert module.__doc__.split("\n", 1)[1].strip() in card  # the recipe the code implements today
    numbers = json.loads(re.search(r"```json\n(.*?)\n```", card, re.S).group(1))
    assert "validation" in numbers and "locked_test" in numbers
    for f in module.FILES:  # the card names a hash for every pool file the recipe reads
        assert re.search(rf"`{f}\.jsonl\.gz`: `[0-9a-f]{{64}}`", card)
    model = load()
    assert (MODELS / f"{name}.npz").stat().st_size < 25_000_000
    # the card's numbers describe the weights next to it (a retrain that writes one but not the other fails here)
    if name == "coverage":
        assert numbers["threshold"] == round(model.threshold, 4)
        assert numbers["weights"] == {f: round(float(c), 3) for f, c in zip(coverage.FEATURES, model.coef)}
        assert numbers["bank"]["answers quoted first"]["chosen"] == model.bank.near
    if name == "answerability":
        assert numbers["validation"]["chosen"]["threshold"] == round(model.threshold, 2)
    if name == "intent":
        assert numbers["thresholds"] == model.thresholds
