"""Citation checking with the real MiniLM scorer: map, repair, drop, remove."""

from __future__ import annotations

import pytest

from assistant.answer import Source
from assistant.citations import check_answer, parse_citations, split_answer, strip_citations
from assistant.evidence import SentenceScorer

SOURCES = [
    Source(
        1,
        "a",
        "strategies/LU.pdf",
        23,
        "Luxembourg identified advanced materials, "
        "nanotechnologies and biotechnologies as key enabling technologies.",
        0.9,
    ),
    Source(
        2,
        "b",
        "strategies/EE.pdf",
        5,
        "Estonia selected three growth areas: ICT, health "
        "technologies and more efficient use of resources.",
        0.8,
    ),
    Source(
        3,
        "c",
        "guidance/SWOT.pdf",
        4,
        "SWOT analysis is used by 87% of the studied regions "
        "in their smart specialisation exercise.",
        0.7,
    ),
]


@pytest.fixture(scope="module")
def scorer(embedder):  # type: ignore[no-untyped-def]
    return SentenceScorer(embedder)


class TestParsing:
    def test_parse_citations(self):
        assert parse_citations("A [1] and [2, 3] and [3][1].") == [1, 2, 3]
        assert parse_citations("no citations") == []

    def test_split_keeps_markers_with_their_sentence(self):
        parts = split_answer("First claim [1]. Second claim. [2] Third one [3].")
        assert parts == ["First claim [1].", "Second claim. [2]", "Third one [3]."]

    def test_strip(self):
        assert strip_citations("Claim [1][2].") == "Claim."


class TestCheckAnswer:
    def test_correct_citations_kept(self, scorer):
        text = "Estonia chose ICT, health technologies and resource efficiency as growth areas [2]."
        checked = check_answer(text, SOURCES, scorer, threshold=0.5)
        assert [c.cited for c in checked.sentences] == [[2]]
        assert checked.repaired == 0 and checked.removed == []
        assert checked.text.endswith("[2].")

    def test_misnumbered_citation_is_repaired(self, scorer):
        text = (
            "Luxembourg named advanced materials and biotechnologies as key enabling "
            "technologies [3]."
        )
        checked = check_answer(text, SOURCES, scorer, threshold=0.5)
        assert checked.sentences[0].cited == [1] and checked.sentences[0].repaired
        assert checked.repaired == 1

    def test_citation_to_missing_source_is_dropped(self, scorer):
        text = "SWOT analysis is used by 87% of the studied regions [3][9]."
        checked = check_answer(text, SOURCES, scorer, threshold=0.5)
        assert checked.sentences[0].cited == [3] and checked.dropped_numbers == 1

    def test_unsupported_sentence_removed(self, scorer):
        text = (
            "SWOT analysis is used by 87% of the studied regions [3]. "
            "The Basque Country spends 4 billion euros on quantum computing [1]."
        )
        checked = check_answer(text, SOURCES, scorer, threshold=0.5)
        assert len(checked.sentences) == 1
        assert checked.removed == [
            "The Basque Country spends 4 billion euros on quantum computing."
        ]
        assert "Basque" not in checked.text

    def test_uncited_supported_sentence_gets_a_citation(self, scorer):
        checked = check_answer(
            "Estonia selected ICT, health technologies and efficient use of resources.",
            SOURCES,
            scorer,
            threshold=0.5,
        )
        assert checked.sentences[0].cited == [2]

    def test_sentence_empty_without_its_markers_is_removed(self, scorer):
        checked = check_answer("The growth areas are [2] and [3].", SOURCES, scorer, 0.5)
        assert checked.sentences == [] and checked.removed

    def test_empty_answer(self, scorer):
        checked = check_answer("", SOURCES, scorer, threshold=0.5)
        assert checked.sentences == [] and checked.text == ""
