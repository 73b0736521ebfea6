"""Priority extraction from real strategy PDFs, the title matcher, and labels on chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.loaders import PageText
from observatory.extract import (
    MATCH_THRESHOLD,
    Extractor,
    load_gold,
    match_score,
    page_candidates,
    recall_against,
    token_dice,
)
from tests.conftest import REPO, STRATEGIES

GOLD = REPO / "eval" / "datasets" / "priorities_gold_extraction.jsonl"
LT = STRATEGIES / "LT_Lithuania_RIS3_Implementation_Programme.pdf"


def test_candidates_from_numbered_items_lists_and_enumerations() -> None:
    page = PageText(
        3,
        "Table of contents\n"
        "3.2 Societal Challenges ........ 11\n"
        "15.1. Energy and sustainable environment. The selection of this area\n"
        "Sustainable food systems and the regeneration of the bioeconomy1. \n"
        "b) cyber security; and\n"
        "• Water technology\n"
        "• Strong in starches, seed potatoes and dairy products, with\n"
        "five key clusters were identified, namely: Agrifood, Energy, Healthy\n"
        "Ageing, Smart (Sensor) Systems and Materials and Water Technology.\n",
    )
    got = {(c.title, c.kind) for c in page_candidates(page)}
    assert ("Energy and sustainable environment", "numbered") in got
    assert (
        "Sustainable food systems and the regeneration of the bioeconomy",
        "trailing-number",
    ) in got
    assert ("Water technology", "bullet") in got
    assert ("Cyber security", "sub-item") in got
    enumerated = {t for t, k in got if k == "enumeration"}
    assert {"Agrifood", "Healthy Ageing", "Smart (Sensor) Systems and Materials"} <= enumerated
    assert "Water Technology" in enumerated
    assert not any("Societal" in t or "starches" in t for t, _ in got)  # contents, fragments
    assert all(c.page == 3 for c in page_candidates(page))


def test_matcher() -> None:
    assert token_dice("Logistics sector", "Logistics sectors") == 1.0
    assert match_score("Clean, Safe Water", "clean and safe water") == 1.0
    assert (
        match_score(
            "Information and communications technology (ICT)",
            "Information and communication technologies",
        )
        >= MATCH_THRESHOLD
    )
    assert match_score("Reliable, Clean and Efficient Energy", "Energy") < MATCH_THRESHOLD
    assert match_score("Energy", "Water Technology", cosine=0.3) < MATCH_THRESHOLD
    assert match_score("ICT", "Digital technologies", cosine=0.8) >= MATCH_THRESHOLD


def test_extracts_lithuanian_priority_areas_with_pages(embedder) -> None:  # type: ignore[no-untyped-def]
    found = Extractor(embedder).extract_file(LT)
    gold = load_gold(GOLD)[LT.name]
    row = recall_against(gold, [(c.title, c.page) for c in found], LT.name, embedder)
    assert row.recall == 1.0, row.missed
    assert row.page_agree == 6
    assert len(found) <= 15  # the cut-off keeps the list reviewable


@pytest.mark.slow
def test_extract_review_apply_filters_search_and_survives_reingest(
    settings,
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from ingest.pipeline import Ingestor
    from observatory.service import ObservatoryService
    from vectorstore.bm25 import BM25Index, bm25_dir
    from vectorstore.filters import build_where
    from vectorstore.store import make_client

    corpus = tmp_path / "strategies"
    corpus.mkdir()
    shutil.copy(LT, corpus / LT.name)
    ingestor = Ingestor(settings)
    ingestor.ingest([corpus])
    svc = ObservatoryService(settings)
    report = svc.extract()
    assert list(report.documents) == [LT.name] and report.documents[LT.name] >= 6
    health = next(p for p in svc.priorities({"doc_id": LT.name}) if "Health" in p.title)
    assert health.page == 8 and health.country == "LT" and health.source == "extracted"
    svc.add_label(health.priority_id, "ecosystems", "Health", "ana", "stated on p. 8")
    applied = svc.apply()
    assert applied[LT.name]["ecosystems"] == ["Health"]

    where = build_where({"ecosystems": "Health"})
    client = make_client(settings)
    for name in (settings.collection, f"{settings.collection}__multilingual"):
        col = client.get_collection(name)
        assert len(col.get(where=where, include=[])["ids"]) == col.count() > 0
        assert col.get(where=build_where({"ecosystems": "Tourism"}), include=[])["ids"] == []
    bm25 = BM25Index(bm25_dir(settings))
    bm25.ensure(ingestor.store, ingestor.manifest.generation())  # the bumped generation
    assert bm25.search("health biotechnologies", 5, {"ecosystems": "Health"})
    assert bm25.search("health biotechnologies", 5, {"ecosystems": "Tourism"}) == []

    # re-extraction keeps the review; re-ingest keeps the labels on the new chunks
    svc.extract([LT.name])
    again = svc.priority(health.priority_id)
    assert again is not None and [lab.code for lab in again.labels["ecosystems"]] == ["Health"]
    ingestor.reingest(LT.name)
    col = client.get_collection(settings.collection)
    assert len(col.get(where=where, include=[])["ids"]) == col.count()
    ingestor.close()
    svc.close()
