"""The classification schemes the observatory labels priorities with, loaded from data files.

Codes follow the issue's JSON contract: NACE section letters ("C"), two-digit NACE divisions
("28"), two-digit NABS 2007 chapters ("07"), ecosystem names as written in SWD(2021) 351, and
S3 topic slugs. Every file under ``observatory/data/`` is cited in ``data/SOURCES.md``. Each
label carries a ``description``: what the zero-shot classifier compares priority texts with.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from observatory.models import LABEL_FIELDS, LabelField

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class TaxonomyLabel:
    """One code of one scheme, with the text that describes what it covers."""

    field: LabelField
    code: str
    label: str
    description: str = ""
    parent: str | None = None  # NACE division → section letter
    nace_divisions: tuple[str, ...] = ()  # ecosystems: their typical NACE divisions

    @property
    def text(self) -> str:
        """Name plus description: what label embeddings and lexical matching read."""
        return f"{self.label}. {self.description}".strip() if self.description else self.label


@dataclass(frozen=True)
class Taxonomy:
    """The labels of one field, in file order, with code lookup."""

    field: LabelField
    labels: tuple[TaxonomyLabel, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def codes(self) -> list[str]:
        return [lab.code for lab in self.labels]

    def get(self, code: str) -> TaxonomyLabel:
        """The label for ``code``; KeyError names the field when the code is unknown."""
        for lab in self.labels:
            if lab.code == code:
                return lab
        raise KeyError(f"{code!r} is not a {self.field} code")

    def __contains__(self, code: object) -> bool:
        return any(lab.code == code for lab in self.labels)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _nace_text(row: dict[str, str]) -> str:
    """Group titles first (short, topical: they survive MiniLM's 256-token cut), then the
    includes notes."""
    groups = f"{row['groups']}." if row.get("groups") else ""
    return " ".join(part for part in (groups, row["includes"], row["also_includes"]) if part)


@cache
def nace_sections() -> Taxonomy:
    """The 21 NACE Rev. 2 sections A..U, described by their 'includes' notes."""
    labels = tuple(
        TaxonomyLabel("nace_sections", r["code"], r["label"].capitalize(), _nace_text(r))
        for r in _rows("nace_rev2.csv")
        if r["level"] == "1"
    )
    return Taxonomy("nace_sections", labels)


@cache
def nace_divisions() -> Taxonomy:
    """The 88 NACE Rev. 2 divisions "01".."99", each with its section as parent."""
    labels = tuple(
        TaxonomyLabel("nace_divisions", r["code"], r["label"], _nace_text(r), parent=r["parent"])
        for r in _rows("nace_rev2.csv")
        if r["level"] == "2"
    )
    return Taxonomy("nace_divisions", labels)


@cache
def nabs_chapters() -> Taxonomy:
    """The 14 NABS 2007 chapters "01".."14" (socio-economic objectives of R&D)."""
    labels = tuple(
        TaxonomyLabel("nabs_chapters", r["code"], r["label"], r["description"])
        for r in _rows("nabs2007.csv")
        if not r["parent"]
    )
    return Taxonomy("nabs_chapters", labels)


@cache
def nabs_subchapters() -> tuple[TaxonomyLabel, ...]:
    """The 2-digit splits of chapters 12 and 13 ("12.1".."13.6"): kept for display and import;
    the classifier labels chapters only (the splits are by funding source, not by topic)."""
    return tuple(
        TaxonomyLabel("nabs_chapters", r["code"], r["label"], parent=r["parent"])
        for r in _rows("nabs2007.csv")
        if r["parent"]
    )


@cache
def ecosystems() -> Taxonomy:
    """The 14 industrial ecosystems of SWD(2021) 351 with our descriptions and NACE mapping."""
    labels = tuple(
        TaxonomyLabel(
            "ecosystems",
            r["name"],
            r["name"],
            r["description"],
            nace_divisions=tuple(r["nace_divisions"].split()),
        )
        for r in _rows("ecosystems.csv")
    )
    return Taxonomy("ecosystems", labels)


@cache
def s3_topics() -> Taxonomy:
    """The 8 S3 Community of Practice topics (governance, monitoring, ...)."""
    labels = tuple(
        TaxonomyLabel("s3_topics", r["code"], r["label"], r["description"])
        for r in _rows("s3_topics.csv")
    )
    return Taxonomy("s3_topics", labels)


_LOADERS = {
    "nace_sections": nace_sections,
    "nace_divisions": nace_divisions,
    "nabs_chapters": nabs_chapters,
    "ecosystems": ecosystems,
    "s3_topics": s3_topics,
}


def taxonomy(field: LabelField) -> Taxonomy:
    """The scheme behind one label field of ``observatory.models``."""
    if field not in _LOADERS:
        raise KeyError(f"unknown label field {field!r}; expected one of {LABEL_FIELDS}")
    return _LOADERS[field]()


def section_of(division: str) -> str:
    """NACE section letter of a two-digit division ("28" → "C")."""
    parent = nace_divisions().get(division).parent
    assert parent is not None
    return parent


def divisions_of(section: str) -> list[str]:
    """The two-digit divisions of a NACE section letter."""
    return [lab.code for lab in nace_divisions().labels if lab.parent == section]


def ecosystems_of_division(division: str) -> list[str]:
    """Ecosystems whose NACE mapping contains the division (may be several, or none)."""
    return [eco.code for eco in ecosystems().labels if division in eco.nace_divisions]


def normalise_code(field: LabelField, code: str) -> str:
    """Accept the usual spellings of a code ("1" / "01" / "C28" / "28.1" / lower case) and
    return the taxonomy's own; ValueError when it names nothing in the scheme."""
    raw = code.strip()
    if field in ("nace_divisions", "nabs_chapters"):
        digits = raw.lstrip("ABCDEFGHIJKLMNOPQRSTUabcdefghijklmnopqrstu").split(".")[0]
        raw = digits.zfill(2) if digits.isdigit() else raw
    elif field == "nace_sections":
        raw = raw.upper()
    elif field == "ecosystems":
        by_lower = {lab.code.casefold().replace("-", "–"): lab.code for lab in ecosystems().labels}
        raw = by_lower.get(raw.casefold().replace("-", "–"), raw)
    if raw not in taxonomy(field):
        raise ValueError(f"{code!r} is not a {field} code")
    return raw
