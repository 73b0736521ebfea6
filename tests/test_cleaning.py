"""ingest.cleaning: ligatures, hyphenation, running headers/footers, headings and paragraphs."""

from __future__ import annotations

import pytest

from ingest.cleaning import (
    clean_pages,
    find_running_lines,
    looks_like_heading,
    normalise_chars,
)
from ingest.loaders import LoadLimits, PageText, load_file
from tests.conftest import STRATEGIES


def _clean(text: str) -> str:
    return clean_pages([PageText(1, text)])[0].text


class TestNormaliseChars:
    def test_ligatures(self) -> None:
        text = "The \ufb01nancing of e\ufb00ective \ufb02ows, a\ufb03liated o\ufb04ine \ufb06udies"
        assert normalise_chars(text) == (
            "The financing of effective flows, affiliated offline studies"
        )

    def test_ligatures_through_clean_pages(self) -> None:
        assert _clean("Bene\ufb01ts of speci\ufb01c \ufb01elds.") == "Benefits of specific fields."

    def test_whitespace_and_invisible_characters(self) -> None:
        text = (
            "Too   many\u00a0\u00a0spaces\tand\u2009tabs\u200b here,\r\n"
            "soft\u00adhyphen\rand\fform feed"
        )
        assert normalise_chars(text) == (
            "Too many spaces and tabs here,\nsofthyphen\nand\nform feed"
        )

    def test_nfc(self) -> None:
        decomposed = "Re\u0301gion Gra\u0308fenwo\u0308hr"
        assert normalise_chars(decomposed) == "Région Gräfenwöhr"


class TestDehyphenation:
    def test_word_broken_across_lines_is_rejoined(self) -> None:
        assert _clean("Regions support innova-\ntion and special-\n  isation.") == (
            "Regions support innovation and specialisation."
        )

    def test_unicode_hyphens(self) -> None:
        assert _clean("A collabora\u2010\ntive and inclu\u2011\nsive process.") == (
            "A collaborative and inclusive process."
        )

    def test_capitalised_compound_keeps_its_hyphen(self) -> None:
        text = _clean("The region follows the Smart-\nSpecialisation approach since 2014.")
        assert text == "The region follows the Smart-Specialisation approach since 2014."
        assert "SmartSpecialisation" not in text

    def test_compound_line_is_not_taken_for_a_heading(self) -> None:
        # From FI_Helsinki_Uusimaa_scenarios.pdf, page 1.
        text = _clean(
            "The Future Review of Helsinki-\n"
            "Uusimaa Regional Council as a part of strategic work in the region."
        )
        assert text == (
            "The Future Review of Helsinki-Uusimaa Regional Council as a part of strategic "
            "work in the region."
        )

    def test_numbers_and_spaced_dashes(self) -> None:
        assert _clean("The period 2014-\n2020 and research -\nand innovation.") == (
            "The period 2014-2020 and research - and innovation."
        )


HEADER = "Smart Specialisation Strategy of Westland 2014-2020"
FOOTER = "© Westland Regional Council, March 2014"
REPEATED_BODY = "Regional innovation funding rose again in 2013 and 2014."


DOMAINS = ["energy", "agrifood", "health", "tourism", "logistics"]


def _body(n: int) -> list[str]:
    domain = DOMAINS[n - 1]
    return [
        f"Chapter {n} describes the {domain} domain of the region and",
        f"how {domain} firms work with universities and research centres",
        f"in the {domain} round of the entrepreneurial discovery process.",
        "",
        f"The {domain} budget is set by the regional council every",
        f"year after consultation with the {domain} stakeholders.",
        "",
        "42",
        "",
        f"Further {domain} work follows in the next chapter.",
    ]


def _synthetic_pages() -> list[PageText]:
    """Five pages with a running header, a footer and page numbers at the bottom."""
    pages = []
    for n in range(1, 6):
        body = _body(n)
        if n in (2, 3):  # a body line that merely repeats once, at the top of the body
            body.insert(0, REPEATED_BODY)
        lines = [HEADER, "", *body, "", FOOTER, f"Page {n} of 5" if n % 2 else str(n)]
        pages.append(PageText(n, "\n".join(lines)))
    return pages


class TestRunningLines:
    def test_headers_footers_and_page_numbers_removed(self) -> None:
        cleaned = clean_pages(_synthetic_pages())
        assert [p.page for p in cleaned] == [1, 2, 3, 4, 5]
        for page in cleaned:
            assert HEADER not in page.text
            assert "Westland Regional Council" not in page.text
            assert "Page" not in page.text
            lines = page.text.splitlines()
            domain = DOMAINS[page.page - 1]
            assert lines[-1] == f"Further {domain} work follows in the next chapter."
            assert str(page.page) not in lines
            assert "42" in lines  # a number inside the body is content, not a page number

    def test_body_line_repeated_once_is_kept(self) -> None:
        cleaned = clean_pages(_synthetic_pages())
        for page in cleaned:
            starts = page.text.startswith(REPEATED_BODY)
            assert starts == (page.page in (2, 3)), page.text[:80]

    def test_paragraphs_rebuilt(self) -> None:
        page = clean_pages(_synthetic_pages())[0]
        assert page.text.split("\n\n") == [
            "Chapter 1 describes the energy domain of the region and how energy firms work "
            "with universities and research centres in the energy round of the "
            "entrepreneurial discovery process.",
            "The energy budget is set by the regional council every year after consultation "
            "with the energy stakeholders.",
            "42",
            "Further energy work follows in the next chapter.",
        ]

    def test_running_keys(self) -> None:
        split = [p.text.split("\n") for p in _synthetic_pages()]
        running = find_running_lines(split)
        assert "smart specialisation strategy of westland #-#" in running
        assert "© westland regional council, march #" in running
        assert "page # of #" in running
        assert running == {
            "smart specialisation strategy of westland #-#",
            "© westland regional council, march #",
            "page # of #",
        }

    def test_too_few_pages_keep_their_headers(self) -> None:
        pages = _synthetic_pages()[:2]
        cleaned = clean_pages(pages)
        assert cleaned[0].text.startswith(HEADER + "\n\n")
        assert cleaned[1].text.startswith(HEADER + "\n\n" + REPEATED_BODY)
        # ... but bare page numbers at the page edge still go.
        assert "2" not in cleaned[1].text.splitlines()
        assert "Page 1 of 5" not in cleaned[0].text


class TestHeadings:
    @pytest.mark.parametrize(
        "line",
        [
            "2.3 Governance structure",
            "VIII. Policy mix",
            "PRIORITY DOMAINS",
            "Entrepreneurial Discovery Process",
            "Smart Specialisation in Westland",
        ],
    )
    def test_heading_lines(self, line: str) -> None:
        assert looks_like_heading(line)

    @pytest.mark.parametrize(
        "line",
        [
            "The region has a strong base in agrifood.",
            "Stakeholders, firms,",
            "Objectives:",
            "• Energy and Water",
            "2014 2015 2016 2017",
            "Helsinki-",
            "ab",
            "One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen",
        ],
    )
    def test_non_heading_lines(self, line: str) -> None:
        assert not looks_like_heading(line)

    def test_headings_marked_and_paragraphs_joined(self) -> None:
        text = (
            "2.3 Governance structure\n"
            "The region has a strong\n"
            "base in agrifood and\n"
            "energy technologies.\n"
            "A second sentence starts here.\n"
            "\n"
            "PRIORITY DOMAINS\n"
            "• Energy and water\n"
            "• Life sciences\n"
            "Entrepreneurial Discovery Process\n"
            "Stakeholders, firms,\n"
            "universities and citizens take part.\n"
        )
        assert _clean(text) == (
            "# 2.3 Governance structure\n"
            "\n"
            "The region has a strong base in agrifood and energy technologies.\n"
            "A second sentence starts here.\n"
            "\n"
            "# PRIORITY DOMAINS\n"
            "\n"
            "• Energy and water\n"
            "• Life sciences\n"
            "\n"
            "# Entrepreneurial Discovery Process\n"
            "\n"
            "Stakeholders, firms, universities and citizens take part."
        )

    def test_existing_markdown_headings_kept(self) -> None:
        assert _clean("## Why clusters\nClusters link firms across borders.") == (
            "## Why clusters\n\nClusters link firms across borders."
        )

    def test_no_runs_of_blank_lines(self) -> None:
        text = _clean("First paragraph here.\n\n\n\n\n\nSecond paragraph here.\n\n\n")
        assert text == "First paragraph here.\n\nSecond paragraph here."


class TestRealPdf:
    def test_luxembourg_running_header_removed(self, settings) -> None:  # type: ignore[no-untyped-def]
        path = STRATEGIES / "LU_Luxembourg_S3_2014.pdf"
        limits = LoadLimits(int(settings.max_file_mb * 1e6), settings.max_pages, 50)
        raw = load_file(path, limits).pages
        header = "Luxembourg Strategy for Smart Specialisation"
        raw_starts = [p.page for p in raw if p.text.strip().startswith(header)]
        assert len(raw_starts) >= 30  # the header really is on (almost) every page
        cleaned = clean_pages(raw)
        assert [p.page for p in cleaned] == [p.page for p in raw]
        for page in cleaned[1:]:
            body = page.text.lstrip("# ")
            assert not body.startswith(header), (page.page, page.text[:100])
            assert "30 october 2014" not in page.text[:200]
            first = page.text.split("\n", 1)[0].strip()
            assert first != str(page.page)
        # The body text survives: the innovation chapter is still on page 4.
        assert cleaned[3].text.startswith("# 1 Analysis of regional context")
