"""ingest.metadata: inference from real corpus files, and manifest/sidecar overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.cleaning import clean_pages
from ingest.loaders import LoadedDocument, LoadLimits, PageText, load_file
from ingest.metadata import (
    DocumentMetadata,
    apply_overrides,
    apply_region,
    detect_language,
    infer_metadata,
    read_manifest,
    sidecar_path,
)
from ingest.regions import load_gazetteer
from tests.conftest import GUIDANCE, STRATEGIES

LIMITS = LoadLimits(max_bytes=200_000_000, max_pages=5000, min_text_chars=50)
_CACHE: dict[Path, DocumentMetadata] = {}


def _infer_file(path: Path) -> DocumentMetadata:
    if path not in _CACHE:
        doc = load_file(path, LIMITS)
        _CACHE[path] = infer_metadata(doc, clean_pages(doc.pages))
    return _CACHE[path]


def _doc(path: str, text: str, title: str | None = None, date: str | None = None) -> LoadedDocument:
    return LoadedDocument(Path(path), [PageText(1, text)], title_hint=title, date_hint=date)


def _infer(doc: LoadedDocument) -> DocumentMetadata:
    return infer_metadata(doc, doc.pages)


ENGLISH = (
    "This document presents the research and innovation priorities of the region and "
    "explains how firms, universities and public authorities work together on them."
)


class TestDocumentMetadata:
    def test_as_chroma_drops_empty_values(self) -> None:
        meta = DocumentMetadata(title="Only a title")
        assert meta.as_chroma() == {"title": "Only a title", "doc_type": "other"}

    def test_as_chroma_full(self) -> None:
        meta = DocumentMetadata(
            title="Luxembourg Strategy for Smart Specialisation",
            doc_type="strategy",
            country="LU",
            country_name="Luxembourg",
            region="",
            nuts_code="LU",
            nuts_level=0,
            territorial_level="national",
            language="en",
            year=2014,
        )
        assert meta.as_chroma() == {
            "title": "Luxembourg Strategy for Smart Specialisation",
            "doc_type": "strategy",
            "country": "LU",
            "country_name": "Luxembourg",
            "nuts_code": "LU",
            "nuts_level": 0,  # national is a real level, not "unknown"
            "territorial_level": "national",
            "language": "en",
            "year": 2014,
        }
        assert all(isinstance(v, str | int) for v in meta.as_chroma().values())


class TestDetectLanguage:
    def test_languages(self) -> None:
        assert detect_language(ENGLISH) == "en"
        german = (
            "Die regionale Innovationsstrategie beschreibt die Schwerpunkte der Forschung "
            "und Entwicklung in den Unternehmen und Hochschulen des Landes."
        )
        assert detect_language(german) == "de"

    def test_empty(self) -> None:
        assert detect_language("   \n ") == ""


class TestInferFromCorpus:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            (
                STRATEGIES / "LU_Luxembourg_S3_2014.pdf",
                {
                    "title": "Luxembourg Strategy for Smart Specialisation",
                    "doc_type": "strategy",
                    "year": 2014,
                    "nuts_code": "LU",
                    "country": "LU",
                    "country_name": "Luxembourg",
                    "region": "",
                    "nuts_level": 0,
                    "territorial_level": "national",
                },
            ),
            (
                STRATEGIES / "EE_Estonia_S3_Qualitative_Analysis.pdf",
                {
                    # The PDF's own /Title is "arengufond_ENG_022013_A4.indd": not a title.
                    "title": "Smart Specialisation – Qualitative Analysis",
                    "doc_type": "strategy",
                    "year": 2013,
                    "nuts_code": "EE",
                    "territorial_level": "national",
                },
            ),
            (
                STRATEGIES / "FI_Helsinki_Uusimaa_scenarios.pdf",
                {
                    "doc_type": "strategy",
                    "year": 2017,
                    "nuts_code": "FI1B",
                    "region": "Helsinki-Uusimaa",
                    "nuts_level": 2,
                    "territorial_level": "regional",
                },
            ),
            (
                GUIDANCE / "OnlineS3_2.4_Benchmarking_Case_Study.pdf",
                {"doc_type": "guidance", "year": 2017, "nuts_code": "DEA1", "country": "DE"},
            ),
            (
                GUIDANCE / "OnlineS3_4.1_EDP_Focus_Groups_Roadmap.pdf",
                # /Title is "PowerPoint Presentation"; the page is one long line: the file name.
                {"title": "OnlineS3 4.1 EDP Focus Groups Roadmap", "doc_type": "guidance"},
            ),
        ],
        ids=lambda v: v.stem if isinstance(v, Path) else "",
    )
    def test_corpus_pdf(self, path: Path, expected: dict[str, object]) -> None:
        meta = _infer_file(path)
        assert meta.language == "en"
        assert 2010 <= meta.year <= 2020
        assert len(meta.title) >= 8
        assert not meta.title.lower().endswith((".indd", ".pdf", ".docx"))
        for key, value in expected.items():
            assert getattr(meta, key) == value, key

    def test_corpus_text_and_markdown(self) -> None:
        txt = GUIDANCE / "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
        meta = _infer_file(txt)
        assert (meta.doc_type, meta.language) == ("guidance", "en")
        assert meta.title == "Guideline for the ONLINE S3 toolbox"


class TestInferSynthetic:
    def test_good_title_hint_used(self) -> None:
        doc = _doc("/inbox/report.pdf", ENGLISH, title="Innovation Strategy of Westland")
        assert _infer(doc).title == "Innovation Strategy of Westland"

    @pytest.mark.parametrize(
        "hint",
        [
            "Microsoft Word - final_v3.docx",
            "arengufond_ENG_022013_A4.indd",
            "PowerPoint Presentation",
            "Untitled",
            "Draft",  # too short
            "Document1",
            None,
        ],
    )
    def test_bad_title_hint_falls_back_to_first_lines(self, hint: str | None) -> None:
        text = "# Westland Innovation\n\nStrategy 2021-2027\n\n" + ENGLISH
        doc = _doc("/inbox/report.pdf", text, title=hint)
        assert _infer(doc).title == "Westland Innovation Strategy 2021-2027"

    def test_title_from_file_name_as_last_resort(self) -> None:
        doc = _doc("/inbox/Westland_RIS3_final.txt", "")
        assert _infer(doc).title == "Westland RIS3 final"

    def test_year_from_file_name_first(self) -> None:
        doc = _doc("/inbox/XY_Plan_2019.pdf", "Adopted in 2016. " + ENGLISH, date="D:20180101")
        assert _infer(doc).year == 2019

    def test_year_from_date_hint_second(self) -> None:
        doc = _doc("/inbox/plan.pdf", "Adopted in 2016. " + ENGLISH, date="D:20180101120000")
        assert _infer(doc).year == 2018

    def test_year_from_text_latest(self) -> None:
        doc = _doc("/inbox/plan.pdf", "Adopted in 2013, revised in 2016. " + ENGLISH)
        assert _infer(doc).year == 2016

    def test_year_ranges_and_long_numbers_ignored(self) -> None:
        doc = _doc("/inbox/plan.pdf", "Programme period 2014-2020, budget 120145 EUR. " + ENGLISH)
        assert _infer(doc).year == 0

    @pytest.mark.parametrize(
        ("name", "text", "doc_type"),
        [
            ("Westland_Toolkit_for_Regions.pdf", ENGLISH, "guidance"),
            ("Westland_Methodology.pdf", ENGLISH, "guidance"),
            ("Westland_RIS3.pdf", ENGLISH, "strategy"),
            ("Westland_plan.pdf", "Our smart specialisation strategy. " + ENGLISH, "strategy"),
            ("Westland_plan.pdf", ENGLISH, "other"),
        ],
    )
    def test_doc_type_from_name_and_text(self, name: str, text: str, doc_type: str) -> None:
        assert _infer(_doc(f"/inbox/misc/{name}", text)).doc_type == doc_type

    @pytest.mark.parametrize(
        ("folder", "doc_type"), [("strategies", "strategy"), ("Guidance", "guidance")]
    )
    def test_doc_type_from_folder(self, folder: str, doc_type: str) -> None:
        doc = _doc(f"/corpus/{folder}/2019/plan.pdf", ENGLISH)
        assert _infer(doc).doc_type == doc_type

    def test_region_from_body_text(self) -> None:
        text = ENGLISH + " Southern Ostrobothnia builds on food. Southern Ostrobothnia grows."
        meta = _infer(_doc("/inbox/programme.pdf", text))
        assert (meta.nuts_code, meta.country, meta.country_name) == ("FI194", "FI", "Finland")
        assert (meta.region, meta.nuts_level) == ("Southern Ostrobothnia", 3)

    def test_region_from_body_text_direction_variant(self) -> None:
        # regions.py: "southern" -> "south", and "South Ostrobothnia" is the ONLINE S3 spelling.
        text = ENGLISH + " South Ostrobothnia builds on food. South Ostrobothnia grows."
        assert _infer(_doc("/inbox/programme.pdf", text)).nuts_code == "FI194"

    def test_region_needs_two_mentions_in_body_text(self) -> None:
        text = ENGLISH + " Southern Ostrobothnia builds on food."
        assert _infer(_doc("/inbox/programme.pdf", text)).nuts_code == ""

    def test_generic_word_in_body_text_is_not_a_region(self) -> None:
        text = ENGLISH + " Cross border cooperation matters. Every border region gains."
        assert _infer(_doc("/inbox/programme.pdf", text)).nuts_code == ""

    def test_country_prefix_without_region_is_national(self) -> None:
        meta = _infer(_doc("/inbox/LT_Programme_notes.pdf", ENGLISH))
        assert (meta.nuts_code, meta.country, meta.territorial_level) == ("LT", "LT", "national")
        assert meta.region == ""

    def test_unknown_prefix_is_not_a_country(self) -> None:
        meta = _infer(_doc("/inbox/QQ_Programme_notes.pdf", ENGLISH))
        assert (meta.nuts_code, meta.country) == ("", "")


class TestApplyRegion:
    def test_known_code(self) -> None:
        meta = DocumentMetadata(title="t")
        apply_region(meta, load_gazetteer(), "nl3")
        assert (meta.nuts_code, meta.country, meta.country_name) == ("NL3", "NL", "Netherlands")
        assert (meta.region, meta.nuts_level, meta.territorial_level) == (
            "West Netherlands",
            1,
            "regional",
        )

    def test_unknown_code_only_sets_the_code(self) -> None:
        meta = DocumentMetadata(title="t")
        apply_region(meta, load_gazetteer(), "zz9")
        assert (meta.nuts_code, meta.country, meta.nuts_level) == ("ZZ9", "", -1)


@pytest.fixture
def doc_file(tmp_path: Path) -> Path:
    folder = tmp_path / "a" / "b" / "c"  # keep the test's own folder name out of doc_type
    folder.mkdir(parents=True)
    path = folder / "LU_Luxembourg_S3_2014.pdf"
    path.write_bytes(b"%PDF-1.4 placeholder")
    return path


def _inferred(path: Path) -> DocumentMetadata:
    meta = _infer(_doc(str(path), "# Luxembourg Strategy for Smart Specialisation\n\n" + ENGLISH))
    assert (meta.year, meta.nuts_code, meta.doc_type) == (2014, "LU", "strategy")
    return meta


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # Excel writes a BOM
    return path


class TestManifest:
    def test_read_manifest(self, tmp_path: Path) -> None:
        csv_path = _write_manifest(
            tmp_path / "manifest.csv",
            [
                {"file": "strategies/LU.pdf", "year": "2015", "title": ""},
                {"file": "EE.pdf", "year": "", "title": "Estonian RIS3"},
            ],
        )
        assert read_manifest(csv_path) == {
            "strategies/LU.pdf": {"file": "strategies/LU.pdf", "year": "2015"},
            "EE.pdf": {"file": "EE.pdf", "title": "Estonian RIS3"},
        }

    def test_manifest_needs_file_column(self, tmp_path: Path) -> None:
        csv_path = tmp_path / "bad.csv"
        csv_path.write_text("path,year\nLU.pdf,2015\n", encoding="utf-8")
        with pytest.raises(ValueError, match="needs a 'file' column"):
            read_manifest(csv_path)


class TestSidecarPath:
    def test_name_meta_json(self, doc_file: Path) -> None:
        assert sidecar_path(doc_file) is None
        sidecar = doc_file.with_name("LU_Luxembourg_S3_2014.meta.json")
        sidecar.write_text("{}")
        assert sidecar_path(doc_file) == sidecar

    def test_full_name_meta_json(self, doc_file: Path) -> None:
        sidecar = doc_file.with_name("LU_Luxembourg_S3_2014.pdf.meta.json")
        sidecar.write_text("{}")
        assert sidecar_path(doc_file) == sidecar

    def test_dotted_name(self, tmp_path: Path) -> None:
        path = tmp_path / "OnlineS3_2.4_Benchmarking_Case_Study.pdf"
        sidecar = tmp_path / "OnlineS3_2.4_Benchmarking_Case_Study.meta.json"
        sidecar.write_text("{}")
        assert sidecar_path(path) == sidecar


class TestApplyOverrides:
    def test_no_overrides_keeps_inference(self, doc_file: Path) -> None:
        meta = apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})
        assert meta == _inferred(doc_file)

    def test_precedence_inference_manifest_sidecar(self, tmp_path: Path, doc_file: Path) -> None:
        manifest = read_manifest(
            _write_manifest(
                tmp_path / "manifest.csv",
                [
                    {
                        "file": "c/LU_Luxembourg_S3_2014.pdf",
                        "year": "2015",
                        "title": "Manifest title",
                        "language": "fr",
                    }
                ],
            )
        )
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text(
            json.dumps({"year": 2016, "language": "de", "doc_type": "guidance"})
        )
        meta = apply_overrides(
            _inferred(doc_file), doc_file, "c/LU_Luxembourg_S3_2014.pdf", manifest
        )
        assert meta.year == 2016  # sidecar beats manifest beats inference (2014)
        assert meta.language == "de"
        assert meta.doc_type == "guidance"
        assert meta.title == "Manifest title"  # manifest beats inference; sidecar is silent
        assert meta.nuts_code == "LU"  # nobody overrode it

    def test_manifest_matched_by_bare_file_name(self, doc_file: Path) -> None:
        manifest = {"LU_Luxembourg_S3_2014.pdf": {"file": "x", "year": "2012"}}
        meta = apply_overrides(
            _inferred(doc_file), doc_file, "c/LU_Luxembourg_S3_2014.pdf", manifest
        )
        assert meta.year == 2012
        assert isinstance(meta.year, int)

    def test_manifest_for_another_file_ignored(self, doc_file: Path) -> None:
        manifest = {"other.pdf": {"file": "other.pdf", "year": "2012"}}
        assert apply_overrides(_inferred(doc_file), doc_file, "c/x.pdf", manifest).year == 2014

    def test_nuts_code_override_fills_country_and_level(self, doc_file: Path) -> None:
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text(
            json.dumps({"nuts_code": "fi194"})
        )
        meta = apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})
        assert (meta.nuts_code, meta.country, meta.country_name) == ("FI194", "FI", "Finland")
        assert (meta.nuts_level, meta.territorial_level) == (3, "regional")
        assert meta.region == "Southern Ostrobothnia"

    def test_explicit_fields_beat_nuts_code_defaults(self, doc_file: Path) -> None:
        manifest = {"LU_Luxembourg_S3_2014.pdf": {"nuts_code": "NL1", "region": "Noorden"}}
        meta = apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", manifest)
        assert (meta.nuts_code, meta.country, meta.region) == ("NL1", "NL", "Noorden")

    def test_national_nuts_code(self, doc_file: Path) -> None:
        manifest = {"LU_Luxembourg_S3_2014.pdf": {"nuts_code": "EE"}}
        meta = apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", manifest)
        assert (meta.nuts_code, meta.country, meta.region, meta.nuts_level) == ("EE", "EE", "", 0)
        assert meta.territorial_level == "national"

    def test_unknown_field_in_sidecar(self, doc_file: Path) -> None:
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text(
            json.dumps({"year": 2016, "autor": "someone"})
        )
        with pytest.raises(ValueError, match=r"LU_Luxembourg_S3_2014\.meta\.json.*'autor'"):
            apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})

    def test_unknown_field_in_manifest(self, doc_file: Path) -> None:
        manifest = {"LU_Luxembourg_S3_2014.pdf": {"file": "x", "colour": "red"}}
        with pytest.raises(ValueError, match=r"manifest row for c/LU\.pdf.*'colour'"):
            apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", manifest)

    def test_bad_doc_type(self, doc_file: Path) -> None:
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text(
            json.dumps({"doc_type": "policy"})
        )
        with pytest.raises(ValueError, match=r"doc_type must be one of .*'policy'"):
            apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})

    def test_sidecar_must_be_an_object(self, doc_file: Path) -> None:
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text('["strategy"]')
        with pytest.raises(ValueError, match="expected a JSON object"):
            apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})

    def test_null_and_empty_values_ignored(self, doc_file: Path) -> None:
        doc_file.with_name("LU_Luxembourg_S3_2014.meta.json").write_text(
            json.dumps({"year": None, "title": ""})
        )
        meta = apply_overrides(_inferred(doc_file), doc_file, "c/LU.pdf", {})
        assert (meta.year, meta.title) == (2014, "Luxembourg Strategy for Smart Specialisation")
