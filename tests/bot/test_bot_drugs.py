"""`DrugFinder` reads the drug-named-entity-recognition dictionary itself; it must find what the library finds."""

from __future__ import annotations

import json

import pytest

from bot.drugs import _TOKEN, LAY_CLASSES, DrugFinder


@pytest.fixture(scope="module")
def finder():
    return DrugFinder()


def test_finds_exactly_what_the_library_finds(finder, vt):
    from drug_named_entity_recognition import find_drugs  # the reference (slow to import: see bot/drugs.py)

    texts = ["I take Keytruda and aspirin", "Can I stop taking Tylenol PM?", "vitamin d 5000 iu daily",
             "metformin ER twice", "nothing medical here", ""]
    for name in ("real_safety.jsonl", "real_consumer.jsonl"):
        texts += [json.loads(line)["turns"][-1] for line in (vt.REPO_ROOT / "eval" / "real" / name).read_text().splitlines()
                  if line.strip()]
    found = 0
    for text in texts:
        tokens = _TOKEN.findall(text)
        expected = [(" ".join(tokens[s:e]), str(info.get("name", ""))) for info, s, e in
                    find_drugs(tokens, is_ignore_case=True)]
        ours = [(written, name) for written, name in finder.find(text) if written.lower() not in LAY_CLASSES]
        assert ours == expected, text
        found += bool(expected)
    assert found > 20  # the comparison is not vacuous


def test_patients_names_for_classes_of_medicines_are_classes(finder):
    """The dictionary lacks "painkillers" and "blood thinners"; they are its classes Analgesics and Anticoagulants
    (an inverted MeSH class such as "Analgesics, Opioid" is a class too)."""
    assert finder.medicines("Can I drink on blood thinners or painkillers?", classes=True) == [
        ("blood thinners", "Anticoagulants"), ("painkillers", "Analgesics")]
    assert finder.medicines("Are opioids or NSAIDs used?", classes=True) == [
        ("opioids", "Analgesics, Opioid"), ("NSAIDs", "Anti-Inflammatory Agents, Non-Steroidal")]
    assert finder.medicines("Can I drink on blood thinners?") == []  # not medicines with a leaflet


def test_words_are_the_lower_case_parts_of_names(finder):
    assert finder.words("Is Keytruda safe with Aspirin?") == {"keytruda", "aspirin"}
    assert finder.words("How long does the fatigue last?") == set()


def test_medicines_are_those_with_a_patient_leaflet(finder):
    """Classes and substances of the dictionary ("Antibodies", "Immunosuppressive Agents") are not medicines
    a question can be about; brands count under their generic name."""
    assert finder.medicines("Do antibodies or immunosuppressants matter?") == []
    assert finder.find("Do antibodies or immunosuppressants matter?") != []
    assert finder.medicines("how do I come off Zoloft or melatonin") == [("Zoloft", "Sertraline"), ("melatonin", "Melatonin")]


def test_the_table_is_built_once_and_then_read(tmp_path):
    first = DrugFinder(cache=tmp_path)
    made = first.path.stat().st_mtime_ns
    second = DrugFinder(cache=tmp_path)
    assert second.path == first.path and second.path.stat().st_mtime_ns == made  # read, not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary file left behind
    assert second.find("Can I take Zoloft?") == [("Zoloft", "Sertraline")]


def test_a_damaged_table_is_rebuilt_not_trusted(tmp_path):
    path = DrugFinder(cache=tmp_path).path
    path.write_bytes(b"not a database")
    assert DrugFinder(cache=tmp_path).find("sertraline") == [("sertraline", "Sertraline")]


def test_lookups_from_many_threads(tmp_path):
    """The guard runs in the web server's worker threads: each gets its own connection."""
    from concurrent.futures import ThreadPoolExecutor

    finder = DrugFinder(cache=tmp_path)
    texts = ["Zoloft", "Tylenol PM", "aspirin", "nothing here"] * 25
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(finder.find, texts))
    assert results == [finder.find(t) for t in texts] and results[0] == [("Zoloft", "Sertraline")]


def test_substances_are_what_find_finds_without_the_classes(finder):
    """What a question can be about by name (bot.compose keeps other medicines' sections out of its answer)."""
    text = "Is whey protein bad for you? And antidepressants or blood thinners? Tegretol?"
    assert finder.substances(text) == [("whey protein", "Whey"), ("Tegretol", "Carbamazepine")]
    assert len(finder.find(text)) == 4
