"""The Chroma store: filters on real data, and the `chroma run` server mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.search import chroma_server
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from vectorstore.filters import build_where
from vectorstore.store import ChunkStore


class TestFilters:
    def test_each_filter_narrows_results(self, settings, small_corpus, embedder):
        Ingestor(settings, embedder).ingest([small_corpus])
        store = ChunkStore(settings, embedder)
        query = "regional innovation policy"
        everything = store.search(query, 50)
        assert {h.metadata["doc_type"] for h in everything} == {"strategy", "guidance"}
        cases = {
            "doc_type": "strategy",
            "country": "LT",
            "territorial_level": "national",
            "language": "en",
            "file": "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf",
            "page": "3",
        }
        for field, value in cases.items():
            hits = store.search(query, 50, build_where({field: value}))
            assert hits, field
            expected = int(value) if field == "page" else value
            assert {h.metadata[field] for h in hits} == {expected}, field
        both = store.search(query, 50, build_where({"doc_type": "guidance", "page": "1"}))
        assert both and all(h.metadata["doc_type"] == "guidance" and h.page == 1 for h in both)
        none = store.search(query, 50, build_where({"country": "PT"}))
        assert none == []


@pytest.mark.slow
class TestChromaServer:
    def test_ingest_and_search_against_chroma_run(self, tmp_path: Path, small_corpus, embedder):
        with chroma_server(tmp_path / "server") as (port, _pid):
            settings = Settings(
                data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port
            )
            ing = Ingestor(settings, embedder)
            report = ing.ingest([small_corpus])
            assert len(report.added) == 4
            assert not (tmp_path / "data" / "chroma").exists()  # vectors went to the server
            hits = ChunkStore(settings, embedder).search("benchmarking indicator HRST", 3)
            assert hits[0].file == "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"
            again = ing.ingest([small_corpus])
            assert again.chunks_embedded == 0
