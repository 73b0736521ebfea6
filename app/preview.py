"""PDF page previews: one page rendered with pypdfium2, the cited passage marked in yellow.

The passage is located by comparing letters and digits only (PDF text has line breaks, hyphens
and spacing that cleaning removed), then pdfium gives the rectangles of those characters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from ingest.loaders import PDFIUM_LOCK

PREVIEW_WIDTH = 900
MATCH_CHARS = 60
"""Letters/digits of the passage's start (and end) used to find it on the page."""


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of ``text`` and, for each, its index in ``text``."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isalnum():
            chars.append(ch.lower())
            index.append(i)
    return "".join(chars), index


def find_span(page_text: str, passage: str) -> tuple[int, int] | None:
    """(first, last) character index of ``passage`` in ``page_text``, or None."""
    hay, where = _normalise(page_text)
    needle, _ = _normalise(passage)
    if len(needle) < 8 or not hay:
        return None
    head = needle[:MATCH_CHARS]
    start = hay.find(head)
    if start < 0:
        return None
    end = start + len(head) - 1
    if len(needle) > MATCH_CHARS:
        tail = needle[-MATCH_CHARS:]
        tail_at = hay.find(tail, start)
        if 0 <= tail_at <= start + len(needle) * 2:
            end = tail_at + len(tail) - 1
    return where[start], where[end]


def _highlight(page: Any, image: Image.Image, scale: float, passages: list[str]) -> Image.Image:
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    _, height = page.get_size()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for passage in passages:
        span = find_span(text, passage)
        if span is None:
            continue
        first, last = span
        for i in range(textpage.count_rects(first, last - first + 1)):
            left, bottom, right, top = textpage.get_rect(i)
            box = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
            draw.rectangle(box, fill=(255, 214, 0, 90), outline=(230, 160, 0, 200))
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def render_page(
    path: Path, page_number: int, passages: list[str] | None = None, width: int = PREVIEW_WIDTH
) -> Image.Image | None:
    """Page ``page_number`` (1-based) of a PDF as an image, or None (not a PDF, no such page)."""
    if path.suffix.lower() != ".pdf" or not path.is_file():
        return None
    with PDFIUM_LOCK:  # pdfium is not thread-safe; an upload's ingest may be reading a PDF
        pdf = pdfium.PdfDocument(str(path))
        try:
            if not 1 <= page_number <= len(pdf):
                return None
            page = pdf[page_number - 1]
            scale = width / page.get_size()[0]
            image = page.render(scale=scale).to_pil()
            if passages:
                image = _highlight(page, image, scale, passages)
            return image
        finally:
            pdf.close()
