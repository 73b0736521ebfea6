"""ingest.loaders: one loader per format, and a clear IngestError for every kind of bad file.

Every bad input is generated inside the test from real bytes; there are no binary fixtures.
"""

from __future__ import annotations

import random
import re
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import docx
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

from ingest.cleaning import clean_pages
from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    NeedsOCRError,
    TooLargeError,
    UnsupportedFileError,
)
from ingest.loaders import (
    PDFIUM_LOCK,
    SUPPORTED_SUFFIXES,
    LoadedDocument,
    LoadLimits,
    PageText,
    PdfTextEngine,
    load_file,
    normalise_pdfium_text,
)
from s3assist.settings import Settings
from tests.badinput import PARAGRAPHS, good_pdf_bytes, text_pdf
from tests.conftest import IMAGE_ONLY_PDF, SMALL_PDFS

LT_PDF = SMALL_PDFS[0]  # 23 pages, text layer, no encryption


@pytest.fixture
def limits(settings: Settings) -> LoadLimits:
    """The limits the pipeline derives from the default settings."""
    return LoadLimits(
        max_bytes=int(settings.max_file_mb * 1e6),
        max_pages=settings.max_pages,
        min_text_chars=settings.min_text_chars,
    )


def _random_bytes(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def _png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A valid, tiny grey PNG built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _encrypted_copy(src: Path, dest: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=str(src))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    with dest.open("wb") as fh:
        writer.write(fh)
    assert PdfReader(str(dest)).is_encrypted
    return dest


class TestLoadFile:
    def test_supported_suffixes(self) -> None:
        assert {".pdf", ".html", ".htm", ".docx", ".md", ".markdown", ".txt"} == set(
            SUPPORTED_SUFFIXES
        )

    def test_suffix_is_case_insensitive(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "NOTES.TXT"
        path.write_text("Regional innovation strategies need stakeholder engagement.\n" * 3)
        doc = load_file(path, limits)
        assert doc.pages[0].text.startswith("Regional innovation strategies")

    def test_unsupported_extension(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "budget.xlsx"
        path.write_bytes(b"PK\x03\x04 not really a spreadsheet")
        with pytest.raises(UnsupportedFileError, match=r"unsupported file type '\.xlsx'"):
            load_file(path, limits)

    def test_no_extension(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "README"
        path.write_text("Some text that would be fine as a .txt file.")
        with pytest.raises(UnsupportedFileError, match=r"'\(none\)'"):
            load_file(path, limits)

    def test_missing_file(self, tmp_path: Path, limits: LoadLimits) -> None:
        with pytest.raises(IngestError, match="cannot read file"):
            load_file(tmp_path / "gone.pdf", limits)

    @pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.docx", "empty.html"])
    def test_zero_byte_file(self, tmp_path: Path, limits: LoadLimits, name: str) -> None:
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(EmptyFileError, match=r"empty file \(0 bytes\)") as exc:
            load_file(path, limits)
        assert exc.value.kind == "empty"

    def test_file_over_max_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "long.txt"
        path.write_text("Smart specialisation. " * 200)  # 4,400 bytes
        with pytest.raises(TooLargeError) as exc:
            load_file(path, LoadLimits(max_bytes=1_000, max_pages=10, min_text_chars=10))
        assert "over the" in str(exc.value) and "S3ASSIST_MAX_FILE_MB" in str(exc.value)
        assert exc.value.kind == "too_large"

    def test_file_at_max_bytes_is_accepted(self, tmp_path: Path) -> None:
        path = tmp_path / "exact.txt"
        path.write_bytes(b"x" * 1_000)
        doc = load_file(path, LoadLimits(max_bytes=1_000, max_pages=10, min_text_chars=10))
        assert doc.char_count == 1_000

    def test_text_below_min_chars_is_empty(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "blank.txt"
        path.write_text("  \n\n  ok  \n")
        with pytest.raises(EmptyFileError, match=r"no text to index \(2 characters\)"):
            load_file(path, limits)


class TestPdfLoader:
    def test_one_record_per_page_numbered_from_one(self, limits: LoadLimits) -> None:
        doc = load_file(LT_PDF, limits)
        assert len(doc.pages) == len(PdfReader(str(LT_PDF)).pages) == 23
        assert [p.page for p in doc.pages] == list(range(1, 24))
        assert "GOVERNMENT OF THE REPUBLIC OF LITHUANIA" in doc.pages[0].text
        assert "No 411 of 30 April 2014" in doc.pages[1].text
        assert "Air pollution in Lithuania is increasing" in doc.pages[7].text
        assert doc.pages[21].text.strip().startswith("Annex")
        assert doc.date_hint is not None and doc.date_hint.startswith("D:2016")
        assert doc.char_count > 60_000

    def test_corrupt_pdf_random_bytes(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "random.pdf"
        path.write_bytes(_random_bytes(4096))
        with pytest.raises(CorruptFileError, match=r"not a PDF \(no %PDF- header\)"):
            load_file(path, limits)

    def test_corrupt_pdf_with_header(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "garbage.pdf"
        path.write_bytes(b"%PDF-1.7\n" + _random_bytes(4096, seed=11))
        with pytest.raises(CorruptFileError, match="corrupt or truncated PDF"):
            load_file(path, limits)

    def test_truncated_pdf(self, tmp_path: Path, limits: LoadLimits) -> None:
        data = LT_PDF.read_bytes()
        path = tmp_path / "truncated.pdf"
        path.write_bytes(data[: int(len(data) * 0.4)])
        with pytest.raises(CorruptFileError, match="corrupt or truncated PDF") as exc:
            load_file(path, limits)
        assert exc.value.kind == "corrupt"

    def test_png_named_pdf(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "scan.pdf"
        path.write_bytes(_png_bytes())
        with pytest.raises(CorruptFileError, match="wrong extension or damaged file"):
            load_file(path, limits)

    def test_encrypted_with_user_password(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = _encrypted_copy(LT_PDF, tmp_path / "locked.pdf", user_password="s3cret")
        with pytest.raises(EncryptedFileError, match="password is needed") as exc:
            load_file(path, limits)
        assert "decrypted copy" in str(exc.value)
        assert exc.value.kind == "encrypted"

    def test_encrypted_with_empty_user_password_loads(
        self, tmp_path: Path, limits: LoadLimits
    ) -> None:
        path = _encrypted_copy(LT_PDF, tmp_path / "owner_only.pdf", user_password="")
        doc = load_file(path, limits)
        assert [p.page for p in doc.pages] == list(range(1, 24))
        assert "GOVERNMENT OF THE REPUBLIC OF LITHUANIA" in doc.pages[0].text

    def test_image_only_pdf_needs_ocr(self, limits: LoadLimits) -> None:
        with pytest.raises(NeedsOCRError) as exc:
            load_file(IMAGE_ONLY_PDF, limits)
        message = str(exc.value)
        assert "needs OCR" in message
        assert "1 page(s)" in message and "ocrmypdf" in message
        assert exc.value.kind == "needs_ocr"

    def test_pdf_over_max_pages(self, limits: LoadLimits) -> None:
        tight = LoadLimits(limits.max_bytes, max_pages=5, min_text_chars=limits.min_text_chars)
        with pytest.raises(TooLargeError, match=r"PDF has 23 pages, over the 5-page limit"):
            load_file(LT_PDF, tight)

    def test_pdf_at_max_pages_is_accepted(self, limits: LoadLimits) -> None:
        exact = LoadLimits(limits.max_bytes, max_pages=23, min_text_chars=limits.min_text_chars)
        assert len(load_file(LT_PDF, exact).pages) == 23


def _refuse_pdfium(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("pdfium was handed the document")


def _words(doc: LoadedDocument) -> Counter[str]:
    return Counter(w for p in doc.pages for w in re.findall(r"\w+", p.text.lower()))


def _with_stream(path: Path, inflated: int, where: str, filter_name: str = "/FlateDecode") -> Path:
    """A two-page text PDF; page 1 gets a stream of ``inflated`` bytes once decoded, added to
    its contents or as a form XObject in its resources."""
    writer = text_pdf([f"Bomb note. {PARAGRAPHS[0]}", f"Second page. {PARAGRAPHS[1]}"])
    stream = StreamObject()
    data = b"0 0 m " * (inflated // 6)
    encode = {"/FlateDecode": zlib.compress, "/ASCIIHexDecode": lambda b: b.hex().encode() + b">"}
    stream._data = encode.get(filter_name, bytes)(data)
    stream[NameObject("/Filter")] = NameObject(filter_name)
    page = writer.pages[0]
    if where == "form":
        stream[NameObject("/Type")] = NameObject("/XObject")
        stream[NameObject("/Subtype")] = NameObject("/Form")
        stream[NameObject("/BBox")] = ArrayObject([NumberObject(0)] * 2 + [NumberObject(9)] * 2)
        resources = page["/Resources"]
        assert isinstance(resources, DictionaryObject)
        resources[NameObject("/XObject")] = DictionaryObject(
            {NameObject("/Fm0"): writer._add_object(stream)}
        )
    else:
        page[NameObject("/Contents")] = ArrayObject(
            [page.raw_get("/Contents"), writer._add_object(stream)]
        )
    with path.open("wb") as fh:
        writer.write(fh)
    return path


class TestPdfTextEngines:
    """pdfium reads the text by default; pypdf still checks structure and limits first."""

    def test_engines_read_the_same_words(
        self, limits: LoadLimits, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fast = load_file(LT_PDF, limits)
        monkeypatch.setattr(pdfium, "PdfDocument", _refuse_pdfium)
        slow = load_file(LT_PDF, replace(limits, pdf_text_engine="pypdf"))
        assert [p.page for p in fast.pages] == [p.page for p in slow.pages] == list(range(1, 24))
        assert (fast.date_hint, fast.title_hint) == (slow.date_hint, slow.title_hint)
        a, b = _words(fast), _words(slow)
        assert sum((a & b).values()) >= 0.95 * max(a.total(), b.total())
        for page in fast.pages:  # pdfium's line ends and marks are gone
            assert not re.search("[\r\x00-\x08\x0b\x0e-\x1f\ufffe\uffff]", page.text)
        assert "long-term health-\nrelated factors" in fast.pages[7].text

    def test_pdfium_runs_under_the_lock_and_everything_is_closed(
        self, limits: LoadLimits, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        docs: list[Any] = []
        pages: list[Any] = []

        class Spy(pdfium.PdfDocument):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                assert PDFIUM_LOCK.locked()
                super().__init__(*args, **kwargs)
                docs.append(self)

            def get_page(self, index: int) -> Any:
                assert PDFIUM_LOCK.locked()
                pages.append(super().get_page(index))
                return pages[-1]

        monkeypatch.setattr(pdfium, "PdfDocument", Spy)
        doc = load_file(LT_PDF, limits)
        assert "GOVERNMENT OF THE REPUBLIC OF LITHUANIA" in doc.pages[0].text
        assert len(docs) == 1 and len(pages) == 23
        assert docs[0].raw is None and all(p.raw is None for p in pages)
        assert not PDFIUM_LOCK.locked()

    def test_pypdf_text_when_pdfium_cannot_open(
        self, tmp_path: Path, limits: LoadLimits, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "note.pdf"
        path.write_bytes(good_pdf_bytes("Fallback note"))
        expected = load_file(path, replace(limits, pdf_text_engine="pypdf")).pages

        def fail(*args: Any, **kwargs: Any) -> None:
            raise pdfium.PdfiumError("Failed to load document (PDFium: Data format error).")

        monkeypatch.setattr(pdfium, "PdfDocument", fail)
        assert load_file(path, limits).pages == expected

    @pytest.mark.parametrize("where", ["contents", "form"])
    def test_bomb_refused_before_pdfium_sees_it(
        self, tmp_path: Path, limits: LoadLimits, monkeypatch: pytest.MonkeyPatch, where: str
    ) -> None:
        path = _with_stream(tmp_path / "bomb.pdf", 4_000_000, where)
        assert path.stat().st_size < 100_000
        monkeypatch.setattr(pdfium, "PdfDocument", _refuse_pdfium)
        tight = replace(limits, max_decompressed_bytes=1_000_000)
        with pytest.raises(TooLargeError, match="page 1's content streams inflate to over 1 MB"):
            load_file(path, tight)

    def test_streams_under_the_limit_reach_pdfium(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = _with_stream(tmp_path / "big_form.pdf", 4_000_000, "form")
        doc = load_file(path, replace(limits, max_decompressed_bytes=5_000_000))
        assert "Bomb note" in doc.pages[0].text and "Second page" in doc.pages[1].text

    def test_other_filters_are_measured_by_pypdf(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = _with_stream(tmp_path / "hex.pdf", 600_000, "contents", "/ASCIIHexDecode")
        with pytest.raises(TooLargeError, match="S3ASSIST_MAX_DECOMPRESSED_MB"):
            load_file(path, replace(limits, max_decompressed_bytes=200_000))

    @pytest.mark.parametrize("engine", ["pdfium", "pypdf"])
    def test_undecodable_stream_is_a_corrupt_page(
        self, tmp_path: Path, limits: LoadLimits, engine: PdfTextEngine
    ) -> None:
        path = _with_stream(tmp_path / "odd.pdf", 60, "contents", "/NoSuchDecode")
        with pytest.raises(CorruptFileError, match="cannot read text of page 1"):
            load_file(path, replace(limits, pdf_text_engine=engine))


class TestPdfiumText:
    def test_line_ends_hyphen_marks_and_controls(self) -> None:
        raw = "long-term health\x02related\r\nfactors\rand innova\ufffetion\x00\x01\x7f\uffff\t\f."
        assert normalise_pdfium_text(raw) == (
            "long-term health-\nrelated\nfactors\nand innova-\ntion\t\f."
        )

    def test_cleaning_sees_the_shape_pypdf_gave(self) -> None:
        """Page 8 of the Lithuanian programme as each engine reads it (excerpt)."""
        pypdf_text = (
            " 7 \nLithuania\u2018s socio-economic development in the future will be affected "
            "by long-term health-\nrelated factors and trends such as increasing costs of "
            "\nhealthcare and acquisition of medicines.  \n"
        )
        pdfium_text = (
            "7\r\nLithuania\u2018s socio-economic development in the future will be affected "
            "by long-term health\x02related factors and trends such as increasing costs of "
            "\r\nhealthcare and acquisition of medicines. \r\n"
        )
        fast = clean_pages([PageText(8, normalise_pdfium_text(pdfium_text))])
        assert fast == clean_pages([PageText(8, pypdf_text)])


class TestHtmlLoader:
    HTML = """<!doctype html><html><head><title>Smart Specialisation in North Netherlands</title>
<style>body { color: red; } .css-secret { display: none }</style>
<script>var trackingSecret = "script-secret";</script></head>
<body><nav>Home | About</nav>
<h1>Research and Innovation Strategy</h1>
<p>The northern provinces focus on energy, water and agrifood.</p>
<iframe src="https://example.org/embed">iframe-secret fallback</iframe>
<h2>Governance <em>model</em></h2><p>A triple-helix board<br>steers the strategy.</p>
<ul><li>Energy</li><li>Water technology</li></ul>
<script>console.log("more-script-secret")</script><noscript>noscript-secret</noscript>
<footer>footer-secret</footer></body></html>"""

    @pytest.mark.parametrize("suffix", [".html", ".htm"])
    def test_html(self, tmp_path: Path, limits: LoadLimits, suffix: str) -> None:
        path = tmp_path / f"page{suffix}"
        path.write_text(self.HTML, encoding="utf-8")
        doc = load_file(path, limits)
        assert len(doc.pages) == 1 and doc.pages[0].page == 1
        text = doc.pages[0].text
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        assert "# Research and Innovation Strategy" in lines
        assert "## Governance model" in lines
        assert "The northern provinces focus on energy, water and agrifood." in lines
        assert "A triple-helix board" in lines and "steers the strategy." in lines
        assert "Energy" in lines and "Water technology" in lines
        for dropped in ("css-secret", "script-secret", "iframe-secret", "noscript-secret"):
            assert dropped not in text
        assert "footer-secret" not in text and "Home | About" not in text
        assert doc.title_hint == "Smart Specialisation in North Netherlands"

    def test_html_in_latin1(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "legacy.html"
        body = "<html><body><h1>Région Île-de-France</h1><p>Stratégie régionale d'innovation, "
        body += "spécialisation intelligente et développement économique.</p></body></html>"
        path.write_bytes(body.encode("latin-1"))
        text = load_file(path, limits).pages[0].text
        assert "# Région Île-de-France" in text
        assert "Stratégie régionale d'innovation" in text


class TestDocxLoader:
    def _make_docx(self, path: Path) -> Path:
        document = docx.Document()
        document.add_heading("Smart Specialisation Strategy of West Netherlands", level=1)
        document.add_paragraph(
            "The region invests in life sciences, horticulture and logistics in the Randstad."
        )
        document.add_paragraph("")
        document.add_heading("Priority domains", level=2)
        document.add_paragraph("Three domains were selected in the discovery process.")
        table = document.add_table(rows=3, cols=3)
        rows = [
            ("Domain", "Budget", "Lead"),
            ("Life sciences", "12 MEUR", "Leiden"),
            ("Horticulture", "8 MEUR", "Westland"),
        ]
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                table.cell(i, j).text = value
        document.save(str(path))
        return path

    def test_docx_headings_paragraphs_and_table(self, tmp_path: Path, limits: LoadLimits) -> None:
        doc = load_file(self._make_docx(tmp_path / "west.docx"), limits)
        assert len(doc.pages) == 1 and doc.pages[0].page == 1
        lines = [ln.strip() for ln in doc.pages[0].text.splitlines() if ln.strip()]
        assert lines == [
            "# Smart Specialisation Strategy of West Netherlands",
            "The region invests in life sciences, horticulture and logistics in the Randstad.",
            "## Priority domains",
            "Three domains were selected in the discovery process.",
            "Domain | Budget | Lead",
            "Life sciences | 12 MEUR | Leiden",
            "Horticulture | 8 MEUR | Westland",
        ]
        assert doc.title_hint == "Smart Specialisation Strategy of West Netherlands"

    def test_docx_core_title_wins(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = self._make_docx(tmp_path / "titled.docx")
        document = docx.Document(str(path))
        document.core_properties.title = "RIS3 West Netherlands 2014-2020"
        document.save(str(path))
        assert load_file(path, limits).title_hint == "RIS3 West Netherlands 2014-2020"

    def test_corrupt_docx_random_bytes(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "broken.docx"
        path.write_bytes(_random_bytes(2048, seed=3))
        with pytest.raises(CorruptFileError, match="corrupt or not a DOCX file"):
            load_file(path, limits)

    def test_zip_that_is_not_a_docx(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "archive.docx"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes.txt", "just a zip file, no Office parts")
        with pytest.raises(CorruptFileError, match="corrupt or not a DOCX file"):
            load_file(path, limits)

    def test_truncated_docx(self, tmp_path: Path, limits: LoadLimits) -> None:
        full = self._make_docx(tmp_path / "full.docx").read_bytes()
        path = tmp_path / "cut.docx"
        path.write_bytes(full[: len(full) // 2])
        with pytest.raises(CorruptFileError):
            load_file(path, limits)


class TestTextLoader:
    def test_markdown(self, tmp_path: Path, limits: LoadLimits) -> None:
        text = (
            "# Clusters for interregional cooperation\n\n"
            "## Why clusters\n\nClusters link firms, universities and regions across borders.\n"
        )
        path = tmp_path / "slides.md"
        path.write_text(text, encoding="utf-8")
        doc = load_file(path, limits)
        assert [(p.page, p.text) for p in doc.pages] == [(1, text)]
        assert doc.title_hint == "Clusters for interregional cooperation"

    def test_markdown_long_suffix(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "notes.markdown"
        path.write_text("\n\n## Entrepreneurial discovery process in practice\n\nBody text.\n")
        assert load_file(path, limits).title_hint == "Entrepreneurial discovery process in practice"

    def test_plain_text_utf8_with_bom(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "bom.txt"
        text = "Düsseldorf und Köln: Innovationsstrategie für Nordrhein-Westfalen.\n"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        doc = load_file(path, limits)
        assert doc.pages[0].text == text  # the BOM is gone
        assert doc.title_hint == text.strip()

    @pytest.mark.parametrize(
        ("encoding", "text"),
        [
            (
                "cp1252",
                "Smart specialisation in Zürich, Düsseldorf and São Paulo: a naïve "
                "“innovation” agenda – with €2 million for café culture.\n",
            ),
            ("cp1252", "Café Zürich – Müller & Søn\n"),
            ("latin-1", "Région Île-de-France: stratégie régionale d'innovation.\n"),
            ("latin-1", "Müller, Jürgen: Förderung der Forschung\n"),
        ],
    )
    def test_plain_text_legacy_encodings(
        self, tmp_path: Path, limits: LoadLimits, encoding: str, text: str
    ) -> None:
        data = text.encode(encoding)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        path = tmp_path / "legacy.txt"
        path.write_bytes(data)
        tight = LoadLimits(limits.max_bytes, limits.max_pages, min_text_chars=10)
        assert load_file(path, tight).pages[0].text == text

    @pytest.mark.parametrize(
        ("encoding", "text"),
        [
            ("cp1250", "Zażółć gęślą jaźń. Strategia inteligentnej specjalizacji śląskiego.\n"),
            ("cp1251", "Стратегия за интелигентна специализация на Република България.\n"),
            ("cp1253", "Στρατηγική έξυπνης εξειδίκευσης της περιφέρειας.\n"),
            (
                "cp1257",
                "Lietuvos Respublikos Vyriausybė, mokslinių tyrimų ir eksperimentinės "
                "plėtros programa.\n",
            ),
        ],
    )
    def test_plain_text_other_code_pages_not_forced_to_cp1252(
        self, tmp_path: Path, limits: LoadLimits, encoding: str, text: str
    ) -> None:
        path = tmp_path / "legacy.txt"
        path.write_bytes(text.encode(encoding))
        tight = LoadLimits(limits.max_bytes, limits.max_pages, min_text_chars=10)
        assert load_file(path, tight).pages[0].text == text

    def test_undecodable_bytes_never_crash(self, tmp_path: Path, limits: LoadLimits) -> None:
        path = tmp_path / "noise.txt"
        path.write_bytes(_random_bytes(3000, seed=5))
        try:
            doc = load_file(path, limits)
        except EmptyFileError:
            return
        assert isinstance(doc.pages[0].text, str)
