"""Result diversity: no ten chunks of one page.

A per-page cap (default 1) keeps the best chunk of each page, because the page is what a
citation points at and what the evaluation scores; a per-document cap spreads results over
documents when wanted (0 = no cap). Order is preserved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def cap_per_group(
    items: Iterable[T],
    page_key: Callable[[T], tuple[str, int]],
    max_per_page: int = 1,
    max_per_doc: int = 0,
) -> list[T]:
    pages: dict[tuple[str, int], int] = {}
    docs: dict[str, int] = {}
    out: list[T] = []
    for item in items:
        page = page_key(item)
        if max_per_page and pages.get(page, 0) >= max_per_page:
            continue
        if max_per_doc and docs.get(page[0], 0) >= max_per_doc:
            continue
        pages[page] = pages.get(page, 0) + 1
        docs[page[0]] = docs.get(page[0], 0) + 1
        out.append(item)
    return out
