"""Fixtures of the bot tests: a second, hand-written corpus (Markdown with front matter, a dosing table, a
remedy section, a plain-text file with Windows line endings), indexed once per session."""

from __future__ import annotations

import pytest

LEMS_MD = """\
---
title: Lambert-Eaton myasthenic syndrome
publisher: Test Neurology Unit
last_reviewed: 2024-09-10
---
# Lambert-Eaton myasthenic syndrome

Lambert-Eaton myasthenic syndrome is a rare condition in which the immune system attacks the connection between nerves and muscles. In about half of patients it is linked to small cell lung cancer.

## Symptoms

- Weakness in the thighs and hips that makes climbing stairs hard.
- A dry mouth and constipation.
- Drooping eyelids and *blurred* vision.

## Diagnosis

Doctors confirm the diagnosis with [blood tests](https://example.org/tests) for antibodies and with nerve conduction studies. A chest scan looks for a hidden tumour <b>early</b>.

## Medicines

Dosage |
Side effects |
|
Amifampridine |
Start with 15 mg a day, split into three doses. |
Tingling around the mouth and fingers. |
Pyridostigmine |
60 mg three times a day. |
Stomach cramps and diarrhoea. |
"""

LIVING_MD = """\
---
title: Living well during treatment
publisher: Test Cancer Centre
---
# Living well during treatment

## Tiredness

Tiredness is the most common complaint during cancer treatment. Short walks and regular rest can help.

## Eating

Eat small meals often if you feel sick. Tell your nurse if you lose weight.

## Herbal remedies

- Some websites recommend a tea of 2 tablespoons of dried nettle three times a day.
- Mistletoe extract is sold as a cure, but there is no good evidence that it works.

## When to get help

Call your care team at once if you have a temperature above 38 degrees, chills, or you feel suddenly unwell.
"""

FAQ_TXT_CRLF = (
    "Frequently asked questions\r\n"
    "\r\n"
    "Is paraneoplastic syndrome contagious?\r\n"
    "No. It is caused by the body's response to a tumour and cannot be passed to other people.\r\n"
    "Can children get it?\r\n"
    "It is rare in children, but it can happen with some childhood cancers such as neuroblastoma.\r\n"
)


@pytest.fixture(scope="session")
def second_index(tmp_path_factory, vt):
    root = tmp_path_factory.mktemp("second")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "lems.md").write_text(LEMS_MD, encoding="utf-8")
    (corpus / "living-with.md").write_text(LIVING_MD, encoding="utf-8")
    (corpus / "faq.txt").write_bytes(FAQ_TXT_CRLF.encode("utf-8"))
    built = vt.build_index(root / "data", corpus)
    assert sorted(built.report.added) == ["faq.txt", "lems.md", "living-with.md"]
    assert built.report.skipped == []
    return built


@pytest.fixture(scope="session")
def second_chatbot(second_index):
    from bot import ChatBot

    return ChatBot.from_settings(second_index.settings)
