"""Key-term guard: numbers and names in the question must appear in the evidence."""

from __future__ import annotations

from assistant.answer import Source
from assistant.guards import key_terms, missing_key_terms


def _src(text: str, file: str = "strategies/LU_Luxembourg_S3_2014.pdf", region: str = "") -> Source:
    return Source(1, "c1", file, 3, text, 0.9, title="Luxembourg S3", region=region)


class TestKeyTerms:
    def test_numbers_and_names(self):
        terms = key_terms("What did Galicia spend on R&D in 2016 under the 2021-2027 rules?", "en")
        assert "Galicia" in terms and "2016" in terms and "2021-2027" in terms
        assert "R&D" not in terms and "What" not in terms

    def test_non_english_keeps_only_numbers(self):
        terms = key_terms("Welche Prioritäten hat der Freistaat Bayern 2021 festgelegt?", "de")
        assert terms == ["2021"]

    def test_possessive_and_connectors(self):
        assert key_terms("What is the Community of Practice's Observatory?", "en") == [
            "Observatory"
        ]


class TestMissingKeyTerms:
    def test_present_terms_pass(self):
        src = _src("Estonia's R&D intensity reached 2.3% in 2014-2020 according to the plan.")
        assert (
            missing_key_terms(
                "What R&D intensity did Estonian plans reach in 2014-2020?", "en", [src]
            )
            == []
        )

    def test_missing_region_and_year(self):
        src = _src("Luxembourg invests in ICT and logistics for 2014-2020.")
        missing = missing_key_terms("What are Galicia's priorities for 2021-2027?", "en", [src])
        assert missing == ["2021-2027", "Galicia"] or set(missing) == {"2021-2027", "Galicia"}

    def test_region_found_in_metadata(self):
        src = _src("The programme supports cluster cooperation.", region="Luxembourg")
        assert missing_key_terms("Which clusters does Luxembourg support?", "en", [src]) == []
