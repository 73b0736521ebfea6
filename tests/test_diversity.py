"""Result diversity: per-page and per-document caps, order preserved."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from assistant.diversity import cap_per_group


class Item(NamedTuple):
    name: str
    file: str
    page: int


def key(item: Item) -> tuple[str, int]:
    return (item.file, item.page)


# Best first, as the retriever hands them over.
RANKED = [
    Item("a1p1-1", "a.pdf", 1),
    Item("a1p1-2", "a.pdf", 1),
    Item("b-p3-1", "b.pdf", 3),
    Item("a1p2-1", "a.pdf", 2),
    Item("a1p1-3", "a.pdf", 1),
    Item("b-p3-2", "b.pdf", 3),
    Item("a1p3-1", "a.pdf", 3),
    Item("c-p1-1", "c.md", 1),
    Item("b-p4-1", "b.pdf", 4),
]


def names(items: list[Item]) -> list[str]:
    return [i.name for i in items]


class TestCapPerGroup:
    def test_per_page_cap_one_is_the_default(self):
        out = cap_per_group(RANKED, key)
        assert names(out) == ["a1p1-1", "b-p3-1", "a1p2-1", "a1p3-1", "c-p1-1", "b-p4-1"]
        assert len({key(i) for i in out}) == len(out)

    def test_per_page_cap_two(self):
        out = cap_per_group(RANKED, key, max_per_page=2)
        assert names(out) == [
            "a1p1-1",
            "a1p1-2",
            "b-p3-1",
            "a1p2-1",
            "b-p3-2",
            "a1p3-1",
            "c-p1-1",
            "b-p4-1",
        ]

    def test_same_page_number_in_other_files_is_another_page(self):
        items = [Item("x", "a.pdf", 1), Item("y", "b.pdf", 1), Item("z", "a.pdf", 1)]
        assert names(cap_per_group(items, key)) == ["x", "y"]

    def test_per_doc_cap(self):
        out = cap_per_group(RANKED, key, max_per_page=0, max_per_doc=2)
        assert names(out) == ["a1p1-1", "a1p1-2", "b-p3-1", "b-p3-2", "c-p1-1"]

    def test_per_doc_cap_one(self):
        out = cap_per_group(RANKED, key, max_per_page=0, max_per_doc=1)
        assert names(out) == ["a1p1-1", "b-p3-1", "c-p1-1"]

    def test_page_and_doc_caps_together(self):
        out = cap_per_group(RANKED, key, max_per_page=1, max_per_doc=2)
        assert names(out) == ["a1p1-1", "b-p3-1", "a1p2-1", "c-p1-1", "b-p4-1"]

    def test_page_cap_two_and_doc_cap_three(self):
        out = cap_per_group(RANKED, key, max_per_page=2, max_per_doc=3)
        assert names(out) == ["a1p1-1", "a1p1-2", "b-p3-1", "a1p2-1", "b-p3-2", "c-p1-1", "b-p4-1"]

    def test_zero_means_no_cap(self):
        assert cap_per_group(RANKED, key, max_per_page=0, max_per_doc=0) == RANKED

    @pytest.mark.parametrize(("per_page", "per_doc"), [(1, 0), (2, 0), (0, 2), (1, 2), (0, 0)])
    def test_order_preserved_and_subset(self, per_page, per_doc):
        out = cap_per_group(RANKED, key, per_page, per_doc)
        positions = [RANKED.index(i) for i in out]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    def test_best_item_of_each_page_survives(self):
        out = cap_per_group(RANKED, key)
        first_per_page: dict[tuple[str, int], Item] = {}
        for item in RANKED:
            first_per_page.setdefault(key(item), item)
        assert set(out) == set(first_per_page.values())

    def test_empty(self):
        assert cap_per_group([], key) == []
        assert cap_per_group([], key, max_per_page=0, max_per_doc=3) == []

    def test_accepts_any_iterable(self):
        assert names(cap_per_group(iter(RANKED[:3]), key)) == ["a1p1-1", "b-p3-1"]

    def test_input_not_modified(self):
        items = list(RANKED)
        cap_per_group(items, key, max_per_page=1, max_per_doc=1)
        assert items == RANKED
