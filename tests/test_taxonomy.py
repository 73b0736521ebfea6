"""Taxonomy data files: counts, code formats, the NACE hierarchy and code normalisation."""

from __future__ import annotations

import pytest

from observatory import taxonomy as tx
from observatory.models import LABEL_FIELDS

ECOSYSTEMS = [
    "Aerospace & Defence",
    "Agri-food",
    "Construction",
    "Cultural & Creative Industries",
    "Digital",
    "Electronics",
    "Energy-Intensive Industries",
    "Renewable Energy",
    "Health",
    "Mobility–Transport–Automotive",
    "Proximity, Social Economy & Civil Security",
    "Retail",
    "Textile",
    "Tourism",
]


@pytest.mark.parametrize(
    ("field", "count"),
    [
        ("nace_sections", 21),
        ("nace_divisions", 88),
        ("nabs_chapters", 14),
        ("ecosystems", 14),
        ("s3_topics", 8),
    ],
)
def test_counts(field, count) -> None:
    scheme = tx.taxonomy(field)
    assert len(scheme) == count
    assert len(set(scheme.codes())) == count
    assert all(lab.label for lab in scheme.labels)
    if field != "nace_sections":  # sections T and U have no includes note in NACE itself
        assert all(lab.description for lab in scheme.labels)


def test_every_label_field_has_a_taxonomy() -> None:
    assert {tx.taxonomy(f).field for f in LABEL_FIELDS} == set(LABEL_FIELDS)
    with pytest.raises(KeyError):
        tx.taxonomy("colours")  # type: ignore[arg-type]


def test_code_formats() -> None:
    assert tx.nace_sections().codes() == list("ABCDEFGHIJKLMNOPQRSTU")
    assert all(len(c) == 2 and c.isdigit() for c in tx.nace_divisions().codes())
    assert tx.nabs_chapters().codes() == [f"{i:02d}" for i in range(1, 15)]
    assert tx.ecosystems().codes() == ECOSYSTEMS
    assert {s.code for s in tx.nabs_subchapters()} == {
        f"{c}.{i}" for c in (12, 13) for i in range(1, 7)
    }


def test_nace_hierarchy() -> None:
    assert tx.section_of("28") == "C"
    assert tx.section_of("01") == "A"
    assert tx.section_of("86") == "Q"
    assert tx.divisions_of("B") == ["05", "06", "07", "08", "09"]
    assert sum(len(tx.divisions_of(s)) for s in tx.nace_sections().codes()) == 88
    division_28 = tx.nace_divisions().get("28")
    assert "machine tools" in division_28.text  # group titles are part of the label text


def test_ecosystem_nace_mapping_is_valid() -> None:
    divisions = set(tx.nace_divisions().codes())
    for eco in tx.ecosystems().labels:
        assert eco.nace_divisions, eco.code
        assert set(eco.nace_divisions) <= divisions, eco.code
    assert "Health" in tx.ecosystems_of_division("21")
    assert tx.ecosystems_of_division("29") == ["Mobility–Transport–Automotive"]


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        ("nace_divisions", "1", "01"),
        ("nace_divisions", "C28", "28"),
        ("nace_divisions", "28.1", "28"),
        ("nabs_chapters", "7", "07"),
        ("nace_sections", "c", "C"),
        ("ecosystems", "mobility-transport-automotive", "Mobility–Transport–Automotive"),
    ],
)
def test_normalise_code(field, raw, code) -> None:
    assert tx.normalise_code(field, raw) == code


@pytest.mark.parametrize(
    ("field", "raw"), [("nace_divisions", "34"), ("nabs_chapters", "15"), ("ecosystems", "Space")]
)
def test_normalise_code_rejects_unknown(field, raw) -> None:
    with pytest.raises(ValueError, match="is not a"):
        tx.normalise_code(field, raw)


def test_unknown_code_lookup_names_the_field() -> None:
    with pytest.raises(KeyError, match="nace_divisions"):
        tx.nace_divisions().get("00")
