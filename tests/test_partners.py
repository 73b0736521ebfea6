"""Partner finder: ranking by similar and complementary priorities, explained, with
neighbour flags (real MiniLM and multilingual USE)."""

from __future__ import annotations

import pytest

from observatory.models import Label, LabelField, Priority
from observatory.partners import (
    PartnerFinder,
    RegionProfile,
    neighbour_flag,
    resolve_query,
    value_chain_positions,
)
from vectorstore.embeddings import make_embedder


def _p(pid: str, nuts: str, title: str, lang: str = "en", **codes: list[str]) -> Priority:
    labels: dict[LabelField, list[Label]] = {}
    for name, values in codes.items():
        labels[name] = [Label(name, c, c, 0.9) for c in values]  # type: ignore[arg-type]
    return Priority(pid, title, nuts_code=nuts, country=nuts[:2], region=nuts, language=lang,
                    labels=labels)  # fmt: skip


PRIORITIES = [
    _p(
        "a1",
        "LT",
        "Medical devices and diagnostics manufacturing",
        ecosystems=["Health"],
        nace_sections=["C"],
        nace_divisions=["26", "32"],
    ),
    _p(
        "a2",
        "LT",
        "Agricultural innovation and food technologies",
        ecosystems=["Agri-food"],
        nace_sections=["A", "C"],
        nace_divisions=["01", "10"],
    ),
    _p(
        "b1",
        "LV",
        "Clinical research and biomedicine",
        ecosystems=["Health"],
        nace_sections=["M", "Q"],
        nace_divisions=["72", "86"],
    ),
    _p(
        "c1",
        "PT",
        "Food processing and smart farming",
        ecosystems=["Agri-food"],
        nace_sections=["A", "C"],
        nace_divisions=["01", "10"],
    ),
    _p(
        "c2",
        "PT",
        "Health technologies for medical devices",
        ecosystems=["Health"],
        nace_sections=["C"],
        nace_divisions=["26", "32"],
    ),
    _p(
        "d1",
        "CZ064",
        "Cestovní ruch a kulturní dědictví",
        "cs",
        ecosystems=["Tourism"],
        nace_sections=["I"],
        nace_divisions=["55"],
    ),
]


@pytest.fixture(scope="module")
def finder() -> PartnerFinder:
    return PartnerFinder(make_embedder("minilm"), make_embedder("use"))


def test_similar_partners_ranked_and_explained(finder: PartnerFinder) -> None:
    query, others = resolve_query("LT", PRIORITIES)
    matches = finder.rank(query, others, k=5)
    assert matches[0].nuts_code == "PT"  # same two domains, same labels
    assert [m.nuts_code for m in matches][-1] == "CZ064"  # tourism, in Czech
    pt = matches[0]
    assert pt.encoder == "minilm"
    assert pt.shared_labels["ecosystems"] == ["Agri-food", "Health"]
    assert pt.shared_labels["nace_divisions"] == ["01", "10", "26", "32"]
    assert {(pair.mine, pair.theirs) for pair in pt.pairs} >= {
        ("Agricultural innovation and food technologies", "Food processing and smart farming")
    }
    assert "shared ecosystems: Agri-food, Health" in pt.explanation
    cz = next(m for m in matches if m.nuts_code == "CZ064")
    assert cz.encoder == "use" and cz.taxonomy_overlap == 0.0
    assert set(pt.as_json()) >= {"score", "similarity", "taxonomy_overlap", "explanation", "pairs"}


def test_complementary_partner_adds_a_value_chain_position(finder: PartnerFinder) -> None:
    query, others = resolve_query("LT", PRIORITIES)
    matches = finder.rank(query, others, k=5, complementary=True)
    top = matches[0]
    assert top.nuts_code == "LV"
    assert top.complementary == [
        {"ecosystem": "Health", "mine": ["manufacturing"], "they_add": ["research", "services"]}
    ]
    assert "Health: they add research, services" in top.explanation
    assert top.neighbour == "cross-border neighbour (LT-LV)"
    pt = next(m for m in matches if m.nuts_code == "PT")
    assert pt.complementarity == 0.0 and pt.neighbour is None


def test_query_by_priority_id_and_unknown(finder: PartnerFinder) -> None:
    query, others = resolve_query("b1", PRIORITIES)
    assert [p.priority_id for p in query.priorities] == ["b1"]
    assert all(o.key != "LV" for o in others)
    best = finder.rank(query, others, k=1)[0]
    assert best.pairs[0].mine == "Clinical research and biomedicine"
    with pytest.raises(LookupError):
        resolve_query("Atlantis", PRIORITIES)


def test_neighbour_flags_and_positions() -> None:
    def prof(key: str) -> RegionProfile:
        return RegionProfile(key, key, key[:2], [])

    assert neighbour_flag(prof("CZ064"), prof("CZ063")) == "same NUTS-1 region (CZ0)"
    assert neighbour_flag(prof("NL11"), prof("NL33")) == "same country (NL)"
    assert neighbour_flag(prof("CZ064"), prof("SK010")) == "cross-border neighbour (CZ-SK)"
    assert neighbour_flag(prof("CZ064"), prof("FI194")) is None
    assert value_chain_positions(PRIORITIES[2]) == {"research", "services"}
    assert value_chain_positions(PRIORITIES[1]) == {"primary", "manufacturing"}
