"""File -> pages of raw text. One loader per format; PDF pages keep their 1-based numbers.

Formats without pages (HTML, DOCX, Markdown, text) come back as a single page 1, with headings
written as Markdown ``#`` lines so the chunker can attach section titles.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    NeedsOCRError,
    TooLargeError,
    UnsupportedFileError,
)

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class PageText:
    page: int
    text: str


@dataclass
class LoadedDocument:
    path: Path
    pages: list[PageText]
    title_hint: str | None = None
    date_hint: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def char_count(self) -> int:
        return sum(len(p.text.strip()) for p in self.pages)


@dataclass(frozen=True)
class LoadLimits:
    max_bytes: int
    max_pages: int
    min_text_chars: int


def load_file(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Dispatch on the extension, after the checks every format shares."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise UnsupportedFileError(f"unsupported file type '{suffix or '(none)'}'")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise EmptyFileError("empty file (0 bytes)")
    if size > limits.max_bytes:
        raise TooLargeError(
            f"file is {size / 1e6:.1f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit "
            "(raise S3ASSIST_MAX_FILE_MB to accept it)"
        )
    doc = loader(path, limits)
    if doc.char_count < limits.min_text_chars:
        if suffix == ".pdf":
            raise NeedsOCRError(
                f"no text layer (needs OCR): {doc.char_count} characters of text on "
                f"{len(doc.pages)} page(s); run OCR (e.g. ocrmypdf) and ingest the result"
            )
        raise EmptyFileError(f"no text to index ({doc.char_count} characters)")
    return doc


def _load_pdf(path: Path, limits: LoadLimits) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise CorruptFileError("not a PDF (no %PDF- header): wrong extension or damaged file")
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise EncryptedFileError(
                    f"encrypted PDF that cannot be opened ({exc}); supply a decrypted copy"
                ) from exc
            if not ok:
                raise EncryptedFileError(
                    "encrypted PDF: a password is needed; supply a decrypted copy"
                )
        n_pages = len(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, FileNotDecryptedError, ValueError, KeyError, OSError) as exc:
        raise CorruptFileError(f"corrupt or truncated PDF: {exc}") from exc
    if n_pages == 0:
        raise EmptyFileError("PDF has no pages")
    if n_pages > limits.max_pages:
        raise TooLargeError(
            f"PDF has {n_pages} pages, over the {limits.max_pages}-page limit "
            "(raise S3ASSIST_MAX_PAGES to accept it)"
        )
    pages: list[PageText] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise CorruptFileError(f"cannot read text of page {number}: {exc}") from exc
        pages.append(PageText(number, text))
    meta = {}
    try:
        meta = dict(reader.metadata or {})
    except Exception:  # damaged info dictionaries are common and harmless
        meta = {}
    title = str(meta.get("/Title") or "").strip() or None
    date = str(meta.get("/CreationDate") or "").strip() or None
    return LoadedDocument(path, pages, title_hint=title, date_hint=date)


def _decode(data: bytes) -> str:
    """UTF-8 first (with or without BOM); otherwise the best charset guess, never a crash.

    Windows-1252 (a superset of Latin-1) wins when it reads the bytes about as cleanly and at
    least as coherently as the detector's own pick: on short Western European text the detector
    ties many code pages and picks e.g. cp1250 ("naïve" -> "naďve") or cp775 ("Zürich" ->
    "Z³rich"). Code pages the detector tells apart (Polish, Cyrillic, Greek, Lithuanian) still
    win; an exact tie (Czech in cp1250 reads cleanly as cp1252 too) goes to cp1252.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    western = from_bytes(data, cp_isolation=["cp1252"]).best()
    if western is not None and (
        best is None or (western.chaos <= best.chaos + 0.05 and western.coherence >= best.coherence)
    ):
        return str(western)
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def _load_text(path: Path, limits: LoadLimits) -> LoadedDocument:
    text = _decode(path.read_bytes())
    title = None
    for line in text.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            title = stripped[:200]
            break
    return LoadedDocument(path, [PageText(1, text)], title_hint=title)


_DROP_HTML = ["script", "style", "noscript", "iframe", "nav", "footer", "header", "form", "svg"]
_BLOCKS = ["p", "li", "td", "th", "div", "section", "article", "br", "tr", "pre", "blockquote"]


def _load_html(path: Path, limits: LoadLimits) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(path.read_bytes()), "lxml")
    for tag in soup(_DROP_HTML):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for block in soup.find_all(_BLOCKS):
        block.insert_after("\n")
    body = soup.body or soup
    text = body.get_text()
    return LoadedDocument(path, [PageText(1, text)], title_hint=title or None)


def _load_docx(path: Path, limits: LoadLimits) -> LoadedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
        if total > limits.max_bytes * 20:
            raise TooLargeError(f"DOCX expands to {total / 1e6:.0f} MB (zip bomb?); refused")
        document = docx.Document(str(path))
    except IngestError:
        raise
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"corrupt or not a DOCX file: {exc}") from exc
    lines: list[str] = []
    title = (document.core_properties.title or "").strip() or None
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            digits = "".join(ch for ch in style if ch.isdigit())
            level = int(digits) if digits else 1
            lines.append(f"\n{'#' * min(level, 6)} {text}\n")
            title = title or text
        else:
            lines.append(text + "\n")
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append(" | ".join(dict.fromkeys(cells)) + "\n")
    return LoadedDocument(path, [PageText(1, "\n".join(lines))], title_hint=title)


_LOADERS = {
    ".pdf": _load_pdf,
    ".html": _load_html,
    ".htm": _load_html,
    ".docx": _load_docx,
    ".md": _load_text,
    ".markdown": _load_text,
    ".txt": _load_text,
}

SUPPORTED_SUFFIXES = frozenset(_LOADERS)
