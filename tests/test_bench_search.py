"""The search and answer benchmarks in quick mode (CI keeps them working; no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import answer as answer_bench
from bench import search as search_bench
from bench.scale import build_store, generate, load_source
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import SMALL_PDFS


@pytest.fixture(scope="module")
def source(tmp_path_factory, embedder) -> Settings:
    """Two real PDFs ingested once (MiniLM + multilingual USE): the chunks variants grow from."""
    base = tmp_path_factory.mktemp("bench")
    corpus = base / "corpus" / "strategies"
    corpus.mkdir(parents=True)
    for pdf in SMALL_PDFS:
        (corpus / pdf.name).write_bytes(pdf.read_bytes())
    settings = Settings(data_dir=base / "data")
    ing = Ingestor(settings, embedder)
    assert ing.ingest([corpus]).failed == []
    ing.close()
    return settings


def test_generation_is_deterministic_and_realistic(source):
    chunks = load_source(source)
    n = len(chunks) * 2 + 7
    first = list(generate(chunks, n, seed=3, batch=50))
    again = list(generate(chunks, n, seed=3, batch=50))
    other = list(generate(chunks, n, seed=4, batch=50))
    ids = [i for b in first for i in b.ids]
    texts = [t for b in first for t in b.texts]
    assert len(ids) == len(set(ids)) == n
    assert ids == [i for b in again for i in b.ids]
    assert texts == [t for b in again for t in b.texts]
    assert texts[len(chunks) :] != [t for b in other for t in b.texts][len(chunks) :]
    assert ids[: len(chunks)] == chunks.ids and texts[: len(chunks)] == chunks.texts
    for b in first:
        for vectors, dim in ((b.dense, 384), (b.multilingual, 512)):
            assert vectors.shape == (len(b.ids), dim)
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    metas = [m for b in first for m in b.metadatas]
    assert all(set(m) == set(chunks.metadatas[i % len(chunks)]) for i, m in enumerate(metas))
    variant = metas[len(chunks)]
    assert variant["file"].startswith("synthetic/v0001/") and variant["doc_id"] == variant["file"]
    assert texts[len(chunks)].startswith(chunks.texts[0][: variant["context_chars"]])


def test_scaled_store_is_cached(source, tmp_path: Path):
    chunks = load_source(source)
    built = build_store(chunks, 300, root=tmp_path, log=lambda _: None)
    assert built.build_s > 0
    again = build_store(chunks, 300, root=tmp_path, log=lambda _: None)
    assert again.build_s == 0.0 and again.settings.data_dir == built.settings.data_dir
    assert json.loads((built.settings.data_dir / "scale.json").read_text())["n"] == 300


@pytest.mark.slow
def test_quick_search_benchmark(source, tmp_path: Path):
    data = search_bench.run(quick=True, source_settings=source, stores_root=tmp_path)
    [row] = data["rows"]
    assert row["chunks"] == search_bench.QUICK_SIZE and row["mode"] == "embedded"
    assert set(row["latency_ms"]) == {*search_bench.VARIANTS, search_bench.FILTERED}
    assert set(row["index_latency_ms"]) == set(row["latency_ms"])
    assert all(s["n"] == 5 and 0 < s["p50"] <= s["p99"] for s in row["latency_ms"].values())
    assert row["bm25_builds"] == 0  # loaded once, never rebuilt per query
    assert (tmp_path / "search_quick.json").is_file()
    assert "| 2,000 | embedded | bm25 |" in search_bench.to_markdown(data["rows"], "cmd")


@pytest.mark.slow
def test_quick_answer_benchmark(source, tmp_path: Path):
    data = answer_bench.run(quick=True, source_settings=source, results_dir=tmp_path)
    [summary] = data["summary"]
    assert summary["config"] == "extractive" and summary["n"] == 2
    assert summary["total_s"] > 0
    assert (tmp_path / "answer_quick.json").is_file()
