"""File -> pages of raw text. One loader per format; PDF pages keep their 1-based numbers.

Formats without pages (HTML, DOCX, Markdown, text) come back as a single page 1, with headings
written as Markdown ``#`` lines so the chunker can attach section titles.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    MissingFileError,
    NeedsOCRError,
    TooLargeError,
    UnsupportedFileError,
)

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader
    from pypdf.generic import StreamObject

logging.getLogger("pypdf").setLevel(logging.ERROR)
log = logging.getLogger(__name__)

PdfTextEngine = Literal["pdfium", "pypdf"]

PDFIUM_LOCK = threading.Lock()
"""pdfium is not thread-safe, not even across documents: every pdfium call in the process must
hold this lock (the ingest prefetch thread and the app's page previews may run at once)."""


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
    """What one file may cost, and how PDF text is read. The defaults mirror ``Settings``."""

    max_bytes: int
    max_pages: int
    min_text_chars: int
    max_chars: int = 5_000_000
    max_decompressed_bytes: int = 200_000_000
    max_seconds: float = 300.0
    pdf_text_engine: PdfTextEngine = "pdfium"


def load_file(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Dispatch on the extension, after the checks every format shares."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise UnsupportedFileError(f"unsupported file type '{suffix or '(none)'}'")
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise MissingFileError("cannot read file: it vanished (deleted or moved)") from exc
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise EmptyFileError("empty file (0 bytes)")
    if size > limits.max_bytes:
        raise TooLargeError(
            f"file is {size / 1e6:.1f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit "
            "(raise S3ASSIST_MAX_FILE_MB to accept it)"
        )
    if loader in (_load_text, _load_html) and size > 4 * limits.max_chars:
        _too_many_chars(size, limits, "bytes of text")  # even 4-byte UTF-8 would be too long
    doc = loader(path, limits)
    if (chars := sum(len(p.text) for p in doc.pages)) > limits.max_chars:
        _too_many_chars(chars, limits, "characters of text")
    if doc.char_count < limits.min_text_chars:
        if suffix == ".pdf":
            raise NeedsOCRError(
                f"no text layer (needs OCR): {doc.char_count} characters of text on "
                f"{len(doc.pages)} page(s); run OCR (e.g. ocrmypdf) and ingest the result"
            )
        raise EmptyFileError(f"no text to index ({doc.char_count} characters)")
    return doc


def _too_many_chars(n: int, limits: LoadLimits, what: str) -> None:
    raise TooLargeError(
        f"document has {n:,} {what}, over the {limits.max_chars:,}-character limit "
        "(raise S3ASSIST_MAX_DOCUMENT_CHARS to accept it)"
    )


def _load_pdf(path: Path, limits: LoadLimits) -> LoadedDocument:
    """pypdf checks the structure (header, encryption, page count, metadata) in every case; the
    page text comes from pdfium (C, ~10x faster) or, with ``pdf_text_engine="pypdf"``, pypdf.

    Both read the same bytes, read once. pdfium is only handed a document whose page streams
    were measured within ``max_decompressed_bytes`` (it inflates streams without any limit);
    when it cannot open the file or counts other pages than pypdf, the pypdf text is used so
    page numbers agree.
    """
    data, reader, n_pages = _open_pdf(path, limits)
    budget = _PageBudget(limits, n_pages, time.monotonic() + limits.max_seconds)
    pages = None
    if limits.pdf_text_engine == "pdfium":
        _check_inflated_sizes(reader, limits, budget)
        pages = _pdfium_pages(data, path.name, budget)
    if pages is None:
        pages = _pypdf_pages(reader, budget)
    meta = {}
    try:
        meta = dict(reader.metadata or {})
    except Exception:  # damaged info dictionaries are common and harmless
        meta = {}
    title = str(meta.get("/Title") or "").strip() or None
    date = str(meta.get("/CreationDate") or "").strip() or None
    return LoadedDocument(path, pages, title_hint=title, date_hint=date)


def _open_pdf(path: Path, limits: LoadLimits) -> tuple[bytes, PdfReader, int]:
    """The checks every engine shares: a PDF header, opens, decrypts with "", page limits."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError

    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise CorruptFileError("not a PDF (no %PDF- header): wrong extension or damaged file")
    try:
        data = path.read_bytes()
        reader = PdfReader(io.BytesIO(data), strict=False)
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
    except LimitReachedError as exc:
        raise _pdf_bomb(exc) from exc
    except (PdfReadError, FileNotDecryptedError, ValueError, KeyError, OSError) as exc:
        raise CorruptFileError(f"corrupt or truncated PDF: {exc}") from exc
    except RecursionError as exc:
        raise CorruptFileError("corrupt PDF: its object structure loops") from exc
    if n_pages == 0:
        raise EmptyFileError("PDF has no pages")
    if n_pages > limits.max_pages:
        raise TooLargeError(
            f"PDF has {n_pages} pages, over the {limits.max_pages}-page limit "
            "(raise S3ASSIST_MAX_PAGES to accept it)"
        )
    return data, reader, n_pages


@dataclass
class _PageBudget:
    """The per-document limits checked after every page: characters so far and the deadline."""

    limits: LoadLimits
    n_pages: int
    deadline: float
    chars: int = 0

    def tick(self, number: int) -> None:
        if time.monotonic() > self.deadline:
            raise TooLargeError(
                f"reading the text took over {self.limits.max_seconds:.0f} s (stopped at page "
                f"{number} of {self.n_pages}; raise S3ASSIST_MAX_PARSE_SECONDS to accept it)"
            )

    def add(self, number: int, text: str) -> PageText:
        self.chars += len(text)
        if self.chars > self.limits.max_chars:
            _too_many_chars(self.chars, self.limits, f"characters of text by page {number}")
        self.tick(number)
        return PageText(number, text)


def _pypdf_pages(reader: PdfReader, budget: _PageBudget) -> list[PageText]:
    from pypdf.errors import LimitReachedError

    pages: list[PageText] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except LimitReachedError as exc:
            raise _pdf_bomb(exc, number) from exc
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise CorruptFileError(f"cannot read text of page {number}: {exc}") from exc
        pages.append(budget.add(number, text))
    return pages


def _pdfium_pages(data: bytes, name: str, budget: _PageBudget) -> list[PageText] | None:
    """Page text by pdfium, or None when pdfium cannot open the file or counts other pages.

    Every pdfium object is closed as soon as it is read: they hold C memory the garbage
    collector does not see."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            log.info("pdfium cannot open %s (%s): reading its text with pypdf", name, exc)
            return None
        try:
            if len(pdf) != budget.n_pages:
                log.info(
                    "pdfium counts %d pages in %s, pypdf %d: reading its text with pypdf",
                    len(pdf), name, budget.n_pages,
                )  # fmt: skip
                return None
            pages: list[PageText] = []
            for index in range(budget.n_pages):
                number = index + 1
                try:
                    page = pdf[index]
                except pdfium.PdfiumError as exc:
                    raise CorruptFileError(f"cannot read text of page {number}: {exc}") from exc
                try:
                    textpage = page.get_textpage()
                    try:
                        text = textpage.get_text_bounded()
                    finally:
                        textpage.close()
                except pdfium.PdfiumError as exc:
                    raise CorruptFileError(f"cannot read text of page {number}: {exc}") from exc
                finally:
                    page.close()
                pages.append(budget.add(number, normalise_pdfium_text(text)))
            return pages
        finally:
            pdf.close()


_PDFIUM_LINE_HYPHEN = re.compile("[\x02\ufffe]")
_PDFIUM_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\uffff]")


def normalise_pdfium_text(text: str) -> str:
    r"""pdfium's text in pypdf's shape, so ``ingest.cleaning`` sees the same kind of text.

    pdfium ends lines with "\r\n" and writes a hyphen that ended a line as "\x02" (bounded text;
    "\ufffe" in range text) with the line break removed: "health\x02related". That becomes
    "health-\nrelated", as pypdf gives it, and cleaning decides whether the hyphen stays.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _PDFIUM_LINE_HYPHEN.sub("-\n", text)
    return _PDFIUM_CONTROLS.sub("", text)


_INFLATE_CHUNK = 1 << 20


def _check_inflated_sizes(reader: PdfReader, limits: LoadLimits, budget: _PageBudget) -> None:
    """Refuse a page whose content streams, form XObjects and Type 3 glyphs decode to more than
    ``max_decompressed_bytes`` together, before pdfium (which inflates without a limit) sees it.

    Flate streams are counted by zlib in 1 MB steps and never held; other filters are decoded
    by pypdf under its own limits. Sizes are cached per object: pages share resources.
    """
    from pypdf.errors import LimitReachedError

    cap = limits.max_decompressed_bytes
    sizes: dict[object, int] = {}
    for number, page in enumerate(reader.pages, start=1):
        total = 0
        try:
            seen: set[object] = set()
            for stream in _page_streams(page):
                key = _object_key(stream)
                if key in seen:
                    continue
                seen.add(key)
                if (size := sizes.get(key)) is None:
                    size = sizes[key] = _decoded_size(stream, cap - total)
                total += size
                if total > cap:
                    raise TooLargeError(
                        f"page {number}'s content streams inflate to over {cap / 1e6:g} MB "
                        "(decompression bomb?); refused (raise S3ASSIST_MAX_DECOMPRESSED_MB "
                        "to accept it)"
                    )
        except IngestError:
            raise
        except LimitReachedError as exc:
            raise _pdf_bomb(exc, number) from exc
        except Exception as exc:  # damaged streams or resources: what pypdf's text reading met
            raise CorruptFileError(f"cannot read text of page {number}: {exc}") from exc
        budget.tick(number)


def _object_key(obj: object) -> object:
    ref = getattr(obj, "indirect_reference", None)
    return (ref.idnum, ref.generation) if ref is not None else id(obj)


def _page_streams(page: PageObject) -> Iterator[StreamObject]:
    """The streams pdfium parses to build a page's text: its contents, and the form XObjects
    and Type 3 glyph procedures reachable from its resources (a superset of those used)."""
    from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

    contents = _resolve(page.get("/Contents"))
    for item in contents if isinstance(contents, ArrayObject) else [contents]:
        if isinstance(stream := _resolve(item), StreamObject):
            yield stream
    pending = [page.get("/Resources")]
    visited: set[int] = set()
    while pending:
        resources = _resolve(pending.pop())
        if not isinstance(resources, DictionaryObject) or id(resources) in visited:
            continue
        visited.add(id(resources))  # the reader caches resolved objects: ids are stable
        for group_name in ("/XObject", "/Font"):
            group = _resolve(resources.get(group_name))
            if not isinstance(group, DictionaryObject):
                continue
            for value in group.values():
                obj = _resolve(value)
                if isinstance(obj, StreamObject) and obj.get("/Subtype") == "/Form":
                    yield obj
                    pending.append(obj.get("/Resources"))
                elif isinstance(obj, DictionaryObject) and obj.get("/Subtype") == "/Type3":
                    procs = _resolve(obj.get("/CharProcs"))
                    if isinstance(procs, DictionaryObject):
                        for proc in procs.values():
                            if isinstance(glyph := _resolve(proc), StreamObject):
                                yield glyph
                    pending.append(obj.get("/Resources"))


def _resolve(obj: object) -> object:
    get_object = getattr(obj, "get_object", None)
    return get_object() if get_object is not None else obj


def _decoded_size(stream: StreamObject, cap: int) -> int:
    """Decoded length of ``stream``; a Flate stream is only counted, and stops past ``cap``."""
    from pypdf.filters import decode_stream_data
    from pypdf.generic import ArrayObject

    filters = _resolve(stream.get("/Filter"))
    names = list(filters) if isinstance(filters, ArrayObject) else [filters] if filters else []
    if not names:
        return len(stream._data)
    if names in (["/FlateDecode"], ["/Fl"]):
        return _inflated_size(stream._data, cap)
    return len(decode_stream_data(stream))  # LZW, ASCII85, chains: pypdf's limits apply


def _inflated_size(data: bytes, cap: int) -> int:
    """Bytes a zlib stream inflates to, counted in C without keeping them; stops past ``cap``.

    A damaged stream counts what inflates before the damage, which is what pdfium reads too."""
    inflater = zlib.decompressobj()
    total = 0
    try:
        total = len(inflater.decompress(data, _INFLATE_CHUNK))
        while not inflater.eof and total <= cap:
            out = inflater.decompress(inflater.unconsumed_tail, _INFLATE_CHUNK)
            if not out:
                break
            total += len(out)
    except zlib.error:
        pass
    return total


def _pdf_bomb(exc: Exception, page: int | None = None) -> TooLargeError:
    where = f" on page {page}" if page else ""
    return TooLargeError(
        f"a compressed stream{where} inflates past pypdf's safety limit (decompression "
        f"bomb?); refused ({exc})"
    )


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many C0 control bytes in the first 8 KB: not text in any 8-bit charset.

    UTF-16/32 text has NULs too, but starts with a BOM (checked by the caller)."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(head) * 0.05


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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if _looks_binary(data):
        raise EmptyFileError("no text to index: the file holds binary data, not text")
    if (mixed := _decode_mixed(data)) is not None:
        return mixed
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


def _decode_mixed(data: bytes) -> str | None:
    """Files pasted together from UTF-8 and legacy parts: decode line by line when most
    non-ASCII lines are valid UTF-8, so the UTF-8 lines are not turned into mojibake."""
    lines = data.splitlines(keepends=True)
    utf8, legacy = [], []
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8.append(i)
        except UnicodeDecodeError:
            legacy.append(i)
    if not utf8 or len(utf8) < len(legacy):
        return None
    rest = _decode(b"".join(lines[i] for i in legacy)).splitlines(keepends=True)
    if len(rest) != len(legacy):  # a decoded line break the bytes did not have
        rest = [_decode(lines[i]) for i in legacy]
    decoded = dict(zip(legacy, rest, strict=True))
    out = [decoded[i] if i in decoded else line.decode("utf-8") for i, line in enumerate(lines)]
    return "".join(out)


def _load_text(path: Path, limits: LoadLimits) -> LoadedDocument:
    text = _decode(path.read_bytes())
    title = None
    for line in text.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            title = stripped[:200]
            break
    return LoadedDocument(path, [PageText(1, text)], title_hint=title)


_DROP_HTML = frozenset(
    ["script", "style", "noscript", "iframe", "nav", "footer", "header", "form", "svg", "object",
     "embed", "template", "applet", "canvas", "math", "head"]
)  # fmt: skip
_BLOCKS = frozenset(
    ["p", "li", "td", "th", "div", "section", "article", "br", "tr", "pre", "blockquote",
     "ul", "ol", "table", "dd", "dt", "main", "aside", "figure", "figcaption", "body"]
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def _load_html(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Text of the body in one linear walk (lxml ``iterwalk``): dropped elements (scripts,
    frames, navigation) are skipped whole, headings become ``#`` lines, blocks end lines.

    Linear on purpose: tree edits (BeautifulSoup's ``insert_after``) are quadratic on deeply
    nested pages, and 100,000 nested ``<div>`` took minutes.
    """
    import lxml.html
    from lxml import etree

    text = _decode(path.read_bytes())
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise EmptyFileError(f"no text to index: {exc}") from exc
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        # libxml2 drops everything nested deeper than 2,048 levels: refuse, never index half.
        raise CorruptFileError("HTML nested deeper than 2,048 levels (its text would be lost)")
    title_el = root.find(".//title")
    title = " ".join(title_el.text_content().split()) if title_el is not None else ""
    body = root.find("body")
    parts: list[str] = []
    walker = etree.iterwalk(body if body is not None else root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""  # "" = comment / PI
        if event == "start":
            if not tag or tag in _DROP_HTML or tag in _HEADINGS:
                if tag in _HEADINGS:
                    heading = " ".join(" ".join(el.itertext()).split())
                    parts.append(f"\n\n{'#' * _HEADINGS[tag]} {heading}\n\n")
                walker.skip_subtree()
                parts.append(el.tail or "")  # no "end" event follows a skipped subtree
                continue
            parts.append(el.text or "")
        else:
            if tag in _BLOCKS:
                parts.append("\n")
            parts.append(el.tail or "")
    return LoadedDocument(path, [PageText(1, "".join(parts))], title_hint=title or None)


def _load_docx(path: Path, limits: LoadLimits) -> LoadedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    with path.open("rb") as fh:
        if fh.read(8) == _OLE2_MAGIC:
            raise EncryptedFileError(
                "password-protected DOCX (or a legacy .doc renamed): save an unprotected .docx"
            )
    try:
        with zipfile.ZipFile(path) as zf:
            # Declared sizes are a safe bound: zipfile never inflates a member past its size.
            total = sum(info.file_size for info in zf.infolist())
        if total > limits.max_decompressed_bytes:
            raise TooLargeError(
                f"DOCX expands to {total / 1e6:.0f} MB, over the "
                f"{limits.max_decompressed_bytes / 1e6:.0f} MB limit (zip bomb?); refused "
                "(raise S3ASSIST_MAX_DECOMPRESSED_MB to accept it)"
            )
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


_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

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
