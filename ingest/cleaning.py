"""Text cleaning for PDF-extracted S3 documents.

PDF text (pdfium, or pypdf; the loader puts both in one shape) has one line per visual line,
with running headers, page numbers, ligature glyphs and words hyphenated across lines. Left in,
they pollute BM25 (every page "matches" the header), waste embedding tokens and break phrase
matching. Headings are kept on lines of their own, marked with ``#`` so the chunker can attach
the section to each chunk.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from ingest.loaders import PageText

LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
    "\u0132": "IJ",
    "\u0133": "ij",
}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_HYPHEN_BREAK = re.compile(r"(\w)[-\u2010\u2011]\n\s*([a-zà-ÿ])")
_PAGE_NUMBER = re.compile(r"^(page\s*)?\d{1,4}(\s*(/|of)\s*\d{1,4})?$", re.IGNORECASE)
_BULLET = re.compile(r"^([•●▪■◦○·\-–—*➢✓]|\(?[a-z0-9]{1,3}[.)])\s+", re.IGNORECASE)
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(\.\d{1,2}){0,3}\.?|[IVX]{1,5}\.)\s+\S")
_TERMINAL = (".", "!", "?", ":", ";")
_LINE_HYPHENS = ("-", "\u2010", "\u2011")
_COMPOUND_BREAK = re.compile(r"\w[-\u2010\u2011]$")
HEADER_FOOTER_LINES = 3
"""How many lines at the top and bottom of a page are candidates for running headers/footers."""


def normalise_chars(text: str) -> str:
    for glyph, repl in LIGATURES.items():
        text = text.replace(glyph, repl)
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    return _SPACES.sub(" ", text)


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def _edge_lines(lines: list[str]) -> list[str]:
    content = [ln for ln in lines if ln.strip()]
    return content[:HEADER_FOOTER_LINES] + content[-HEADER_FOOTER_LINES:]


def find_running_lines(pages: list[list[str]]) -> set[str]:
    """Keys of lines that recur at the top/bottom of many pages (headers, footers)."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_line_key(ln) for ln in _edge_lines(lines)})
    threshold = max(3, int(0.4 * len(pages)))
    return {key for key, n in counts.items() if n >= threshold and len(key) > 1}


def looks_like_heading(line: str) -> bool:
    """Short, title-like lines: numbered ("2.3 Governance"), ALL CAPS, or Title Case."""
    text = line.strip()
    if not (3 <= len(text) <= 90) or text.endswith((*_TERMINAL, ",", *_LINE_HYPHENS)):
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3 or letters / len(text) < 0.6 or _BULLET.match(text):
        return False
    words = text.split()
    if len(words) > 12:
        return False
    if _NUMBERED_HEADING.match(text):
        return True
    if text.isupper() and letters >= 4:
        return True
    capitalised = sum(w[:1].isupper() for w in words if len(w) > 3)
    long_words = sum(len(w) > 3 for w in words)
    return 1 <= len(words) <= 8 and long_words > 0 and capitalised == long_words


def _join_lines(lines: list[str]) -> str:
    """Rebuild paragraphs: a line that does not end a sentence continues on the next one."""
    out: list[str] = []
    buf = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            if buf:
                out.append(buf)
                buf = ""
            out.append("")
            continue
        if line.startswith("#") or (
            looks_like_heading(line) and not buf.endswith((",", *_LINE_HYPHENS))
        ):
            if buf:
                out.append(buf)
                buf = ""
            out.extend(["", line if line.startswith("#") else f"# {line}", ""])
            continue
        if _BULLET.match(line) and buf:
            out.append(buf)
            buf = line
            continue
        if buf and _COMPOUND_BREAK.search(buf):
            buf = f"{buf}{line}"  # "Smart-" + "Specialisation": the hyphen is part of the word
        elif buf and not buf.endswith(_TERMINAL):
            buf = f"{buf} {line}"
        else:
            if buf:
                out.append(buf)
            buf = line
    if buf:
        out.append(buf)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clean_pages(pages: list[PageText]) -> list[PageText]:
    """Clean each page; running headers/footers are found across the whole document."""
    normalised = [normalise_chars(p.text) for p in pages]
    dehyphenated = [_HYPHEN_BREAK.sub(r"\1\2", t) for t in normalised]
    split = [t.split("\n") for t in dehyphenated]
    running = find_running_lines(split)
    cleaned: list[PageText] = []
    for page, lines in zip(pages, split, strict=True):
        edges = set(_edge_lines(lines))
        kept = [
            ln
            for ln in lines
            if not (ln in edges and (_line_key(ln) in running or _PAGE_NUMBER.match(ln.strip())))
        ]
        cleaned.append(PageText(page.page, _join_lines(kept)))
    return cleaned
