"""Safety tags: every dose and remedy recipe of the bundled corpus tagged, side effects and warnings not.

Rules come from prompts/safety_policy.yaml; these tests check what they must achieve, on the real corpus and
on small hand-made strings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.documents import load_document, read_manifest
from ingest.index import Catalogue
from ingest.safety import DOSING, UNPROVEN_REMEDY, SafetyTagger, dose_patterns
from ingest.text import fold
from ingest.structure import StructureParser

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOC_000 = "000_f4ccc132db03309a.txt"
DOC_002 = "002_9009d71acc615b7f.txt"


@pytest.fixture(scope="module")
def tagged():
    manifest = read_manifest(CORPUS)
    tagger, parser = SafetyTagger(), StructureParser()
    out = {}
    for path in sorted(CORPUS.glob("*.txt")):
        doc = load_document(path, path.name, manifest)
        out[path.name] = tagger.tag(parser.parse(doc))
    return out


def with_text(passages, fragment):
    hits = [p for p in passages if fragment in p.text]
    assert hits, f"no passage contains {fragment!r}"
    return hits


# ---- the bundled corpus -------------------------------------------------------------------------------
def test_every_dose_amount_in_002_is_tagged_dosing(tagged):
    doses = [p for p in tagged[DOC_002] if dose_patterns().search(p.text)]
    assert len(doses) >= 12, "the dose patterns should find the corpus's dose lines"
    untagged = [p.text for p in doses if DOSING not in p.tags]
    assert not untagged, untagged


def test_every_cell_of_the_dosage_column_is_tagged(tagged):
    cells = [p for p in tagged[DOC_002] if p.section and p.section[-1] == "Method of administration and dosage"]
    assert len(cells) >= 5
    for p in cells:
        assert DOSING in p.tags, p.text
    # including the ones without a number
    for text in ("The drug is prescribed individually.", "The duration of therapy is determined individually.",
                 "Treatment begins with fundamentally small doses of the drug."):
        assert DOSING in with_text(tagged[DOC_002], text)[0].tags


@pytest.mark.parametrize("heading", ["Folk remedies", "Herbal treatment", "Homeopathy"])
def test_everything_under_remedy_headings_is_tagged_unproven_remedy(tagged, heading):
    under = [p for p in tagged[DOC_002] if heading in p.section]
    assert len(under) >= 4, f"no passages found under {heading!r}"
    for p in under:
        assert UNPROVEN_REMEDY in p.tags, p.text


@pytest.mark.parametrize(
    "fragment",
    [
        "take propolis orally, 2 g daily",
        "15 drops of propolis tincture",
        "badger fat",
        "cherry leaves",
        "Take hemlock tincture three times a day",
        "chamomile flowers",
        "Aurum muriaticum is used for cancer of the mucous membranes.",
    ],
)
def test_remedy_recipes_are_tagged(tagged, fragment):
    p = with_text(tagged[DOC_002], fragment)[0]
    assert UNPROVEN_REMEDY in p.tags, p.text


def test_vitamin_lines_are_tagged(tagged):
    intro = with_text(tagged[DOC_002], "it is recommended to take vitamins")[0]
    assert UNPROVEN_REMEDY in intro.tags
    vitamins = [p for p in tagged[DOC_002] if p.text.startswith(("Vitamin ", "B vitamins"))]
    assert len(vitamins) == 5
    for p in vitamins:
        assert p.tags, p.text


@pytest.mark.parametrize(
    "text",
    [
        "The drug is clinically incompatible with alcohol.",
        "Anorexia, toxic hepatitis, impaired consciousness, myelosuppression, hemorrhagic cystourethritis, hair loss.",
        "Long-term treatment with the drug is not recommended.",
        "Blood transfusions are required throughout the course of treatment.",
        "During treatment, it is necessary to regularly monitor the blood picture.",
        "The drug is not prescribed for problems with the respiratory system.",
        "Drowsiness, fatigue, depressive states, dermatitis, dyspepsia, allergies.",
        "Myelodepression, pancreatitis, hemolytic anemia.",
    ],
)
def test_side_effects_and_warnings_are_not_tagged(tagged, text):
    p = [p for p in tagged[DOC_002] if p.text == text]
    assert p, f"{text!r} is not a passage"
    assert not p[0].tags, (text, p[0].tags)


def test_every_side_effect_and_special_instruction_cell_is_untagged(tagged):
    cells = [p for p in tagged[DOC_002] if p.section and p.section[-1] in ("Side effects", "Special instructions")]
    assert len(cells) == 10
    assert not [p.text for p in cells if p.tags]


@pytest.mark.parametrize(
    "text",
    [
        "corticosteroids (prednisolone series);",
        "immunosuppressant drugs (cyclophosphamide, azathioprine);",
        "drugs for stimulation of neuromuscular conduction (pyridostigmine, diaminopyridine);",
        "anticonvulsant drugs (carbamazepine).",
        "Medicines are used as an additional treatment in combination with chemotherapy.",
    ],
)
def test_drug_groups_are_not_tagged(tagged, text):
    p = [p for p in tagged[DOC_002] if p.text == text]
    assert p and not p[0].tags, (text, p and p[0].tags)


def test_physiotherapy_is_not_tagged(tagged):
    physio = [p for p in tagged[DOC_002] if "Physiotherapy treatment" in p.section]
    assert len(physio) >= 10
    assert not [p.text for p in physio if p.tags]


def test_the_patient_leaflet_has_no_tagged_passage(tagged):
    assert not [p.text for p in tagged[DOC_000] if p.tags]


def test_the_index_stores_the_tags(corpus_index, tagged):
    stored = {p.id: p.tags for p in Catalogue.from_settings(corpus_index.settings.index).passages()}
    expected = {p.id: p.tags for ps in tagged.values() for p in ps}
    assert stored == expected
    assert corpus_index.report.tagged.get(DOSING, 0) > 0 and corpus_index.report.tagged.get(UNPROVEN_REMEDY, 0) > 0
    assert len(corpus_index.report.tagged_passages) == sum(1 for t in expected.values() if t)


# ---- unit tests of the rules -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tagger():
    return SafetyTagger()


@pytest.mark.parametrize(
    "text",
    [
        "Take 200 mg twice a day.",
        "The standard dose is 1.5-2 mg per kilogram of weight.",
        "Adults: 10 mg/kg once daily.",
        "Give 5 ml of the syrup.",
        "Drink 150 ml 4 times a day before meals.",
        "Add 1 teaspoon of honey.",
        "Take two tablets in the morning.",
        "The course of treatment is 45 days.",
        "Dissolve 3 drops in water.",
        "Take it 3 times a day.",
        "The average daily dose is prescribed by your doctor.",
        "Nehmen Sie 20 mg Prednisolon.",
        "Tomar 500 mg de paracetamol.",
        "The total amount per course should be from 8 to 14 g.",
    ],
)
def test_dose_wording_is_tagged_dosing(tagger, text):
    assert DOSING in tagger.tags_for_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Drowsiness, fatigue, depressive states, dermatitis.",
        "The drug is clinically incompatible with alcohol.",
        "Only about 15% of patients are affected.",
        "In approximately 60-65% of cases.",
        "Modern medicine has data on more than 400 types of such antigens.",
        "A fasting blood glucose of 150 mg/dL is high.",  # a lab value, not a dose (the policy excludes /dL)
        "Haemoglobin below 12 g/dL suggests anaemia.",
        "Call 112 or 911 in an emergency.",
        "Stage 2 lung cancer spreads within 3 weeks.",
        "Corticosteroids are used to suppress the immune response.",
    ],
)
def test_non_doses_are_not_tagged_dosing(tagger, text):
    assert DOSING not in tagger.tags_for_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Take hemlock tincture with water.",
        "Mix propolis with honey.",
        "Homeopathic remedies can help.",
        "A folk remedy from the village.",
        "Prepare an infusion of sage leaves.",
        "Vitamins have an anti-cancer effect on tumours.",
        "Herbal teas are recommended.",
    ],
)
def test_remedy_wording_is_tagged(tagger, text):
    assert UNPROVEN_REMEDY in tagger.tags_for_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Vitamin D deficiency is common in older people.",
        "Physiotherapy procedures are allowed after consultation.",
        "Chemotherapy treats the original tumour.",
        "Immunosuppressant drugs suppress the immune response.",
    ],
)
def test_ordinary_treatment_text_is_not_tagged_remedy(tagger, text):
    assert UNPROVEN_REMEDY not in tagger.tags_for_text(text)


def test_dose_patterns_find_and_search_agree():
    dp = dose_patterns()
    assert dp.find("Take 200 mg, then 1 tbsp.") and dp.search("Take 200 mg")
    assert dp.find("No numbers here.") == [] and not dp.search("No numbers here.")


def test_fold_strips_accents_and_case():
    assert fold("Carbamazépine PREDNISOLONA") == "carbamazepine prednisolona"
