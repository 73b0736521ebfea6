"""The ingest pipeline end to end: real PDFs, real MiniLM, real embedded Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.errors import EmbedderMismatchError
from ingest.manifest import FAILED, INDEXED, INDEXING
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import IMAGE_ONLY_PDF, STRATEGIES


def _store_state(ing: Ingestor) -> tuple[set[str], set[str]]:
    return ing.store.all_ids(), ing.records.all_keys()


class TestIngestor:
    def test_first_ingest_indexes_every_supported_file(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        report = ing.ingest([small_corpus])
        assert sorted(report.added) == [
            "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
            "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf",
            "guidance/S3CoP_Clusters_Interregional_Cooperation_slides.md",
            "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf",
        ]
        assert report.failed == []
        assert report.pages == 23 + 8 + 1 + 1
        assert report.chunks_embedded == report.chunks == ing.store.count() > 30
        ids, keys = _store_state(ing)
        assert ids == keys

    def test_chunk_metadata_is_complete(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        docs = ing.store.get_documents(
            {"doc_id": "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"}
        )
        assert docs
        pages = {d.metadata["page"] for d in docs}
        assert pages <= set(range(1, 24)) and len(pages) > 15
        meta = docs[0].metadata
        assert meta["country"] == "LT"
        assert meta["territorial_level"] == "national"
        assert meta["doc_type"] == "strategy"
        assert meta["language"] == "en"
        assert meta["file"] == meta["doc_id"]
        assert len(meta["content_hash"]) == 64
        assert meta["title"]
        assert sorted(d.metadata["chunk_index"] for d in docs) == list(range(len(docs)))

    def test_reingest_unchanged_embeds_nothing(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        first = ing.ingest([small_corpus])
        again = ing.ingest([small_corpus])
        assert again.chunks_embedded == 0
        assert len(again.unchanged) == 4 and again.added == again.updated == []
        assert ing.store.count() == first.chunks
        assert first.times.embed_s > 0 and first.times.parse_s > 0  # not reset by the re-run
        assert again.times.embed_s == 0

    def test_changed_file_replaces_its_chunks(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        md = small_corpus / "guidance" / "S3CoP_Clusters_Interregional_Cooperation_slides.md"
        doc_id = "guidance/S3CoP_Clusters_Interregional_Cooperation_slides.md"
        before = set(ing.records.keys_for(doc_id))
        md.write_text(
            "# Cooperation update\n\nThe Baltic cluster alliance on marine robotics "
            "meets twice a year to plan joint calls with Galician partners.\n",
            encoding="utf-8",
        )
        report = ing.ingest([small_corpus])
        assert report.updated == [doc_id]
        after = set(ing.records.keys_for(doc_id))
        assert after and not (after & before)
        texts = [d.page_content for d in ing.store.get_documents({"doc_id": doc_id})]
        assert len(texts) == len(after) and "marine robotics" in " ".join(texts)
        ids, keys = _store_state(ing)
        assert ids == keys

    def test_removed_file_is_deleted_on_folder_reingest(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        (small_corpus / "guidance" / "OnlineS3_2.4_Benchmarking_Case_Study.pdf").unlink()
        report = ing.ingest([small_corpus])
        assert report.deleted == ["guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"]
        assert not ing.store.get_documents(
            {"doc_id": "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"}
        )

    def test_delete_removes_document_completely(self, settings, small_corpus, embedder):
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        total = ing.store.count()
        doc_id = "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"
        n = len(ing.records.keys_for(doc_id))
        assert ing.delete("LT_Lithuania_RIS3_Implementation_Programme.pdf") == [doc_id]
        assert ing.store.count() == total - n
        assert ing.records.keys_for(doc_id) == []
        assert ing.manifest.get(doc_id) is None
        assert ing.delete("no-such-document.pdf") == []

    def test_bad_files_reported_and_batch_goes_on(self, settings, small_corpus, embedder):
        bad = small_corpus / "bad"
        bad.mkdir()
        shutil.copy(IMAGE_ONLY_PDF, bad / IMAGE_ONLY_PDF.name)
        (bad / "empty.pdf").write_bytes(b"")
        (bad / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
        (bad / "picture.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
        truncated = (STRATEGIES / "LU_Luxembourg_S3_2014.pdf").read_bytes()
        (bad / "truncated.pdf").write_bytes(truncated[: len(truncated) // 3])
        ing = Ingestor(settings, embedder)
        report = ing.ingest([small_corpus])
        reasons = {f.file: f.reason for f in report.failed}
        assert "no text layer (needs OCR)" in reasons[f"bad/{IMAGE_ONLY_PDF.name}"]
        assert "empty file" in reasons["bad/empty.pdf"]
        assert "not a PDF" in reasons["bad/picture.pdf"]
        assert "bad/corrupt.pdf" in reasons
        assert len(report.added) == 4  # the good files all went in
        for name in reasons:
            assert not ing.store.get_documents({"doc_id": name}), f"partial chunks for {name}"
            assert ing.manifest.get(name).status == FAILED  # type: ignore[union-attr]
        # truncated PDFs either fail cleanly or yield only their readable pages
        if "bad/truncated.pdf" not in reasons:
            assert "bad/truncated.pdf" in report.added

    def test_sidecar_metadata_override(self, settings, small_corpus, embedder):
        pdf = small_corpus / "guidance" / "OnlineS3_2.4_Benchmarking_Case_Study.pdf"
        pdf.with_suffix(".meta.json").write_text(
            '{"nuts_code": "DEA1", "doc_type": "other", "year": 2016}', encoding="utf-8"
        )
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        docs = ing.store.get_documents({"nuts_code": "DEA1"})
        assert docs and {d.metadata["doc_id"] for d in docs} == {
            "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"
        }
        meta = docs[0].metadata
        assert (meta["country"], meta["doc_type"], meta["year"]) == ("DE", "other", 2016)

    def test_stored_override_reingest(self, settings, small_corpus, embedder):
        doc_id = "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        ing.manifest.set_overrides(doc_id, {"nuts_code": "DEA1", "title": "Edited"})
        report = ing.reingest(doc_id)
        assert report.failed == [] and report.updated == [doc_id]
        docs = ing.store.get_documents({"doc_id": doc_id})
        assert docs and {d.metadata["country"] for d in docs} == {"DE"}
        assert {d.metadata["title"] for d in docs} == {"Edited"}
        assert ing.manifest.get(doc_id).metadata["nuts_code"] == "DEA1"
        # unchanged file + unchanged override: nothing re-processed, overrides kept
        again = ing.ingest([small_corpus])
        assert again.chunks_embedded == 0 and doc_id in again.unchanged
        assert ing.manifest.get_overrides(doc_id)["nuts_code"] == "DEA1"
        # a changed override re-processes the file on the next plain ingest
        ing.manifest.set_overrides(doc_id, {"nuts_code": "DEA1", "year": 2015})
        third = ing.ingest([small_corpus])
        assert third.updated == [doc_id]
        assert {d.metadata["year"] for d in ing.store.get_documents({"doc_id": doc_id})} == {2015}

    def test_bad_stored_override_is_reported(self, settings, small_corpus, embedder):
        doc_id = "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        ing.manifest.set_overrides(doc_id, {"doc_type": "bogus"})
        report = ing.reingest(doc_id)
        assert [(f.file, f.kind) for f in report.failed] == [(doc_id, "metadata")]
        assert "doc_type" in report.failed[0].reason
        assert ing.manifest.get(doc_id).status == INDEXED  # the last good version stays
        with pytest.raises(LookupError):
            ing.reingest("no/such.pdf")

    def test_embedder_switch_is_refused(self, settings, small_corpus, embedder):
        Ingestor(settings, embedder).ingest([small_corpus])
        changed = Settings(data_dir=settings.data_dir, chunk_size=120, chunk_overlap=20)
        with pytest.raises(EmbedderMismatchError, match="--rebuild"):
            Ingestor(changed, embedder)

    def test_rebuild_after_switch(self, settings, small_corpus, embedder):
        Ingestor(settings, embedder).ingest([small_corpus])
        changed = Settings(data_dir=settings.data_dir, chunk_size=120, chunk_overlap=20)
        from ingest.pipeline import reset_index

        reset_index(changed)
        ing = Ingestor(changed, embedder)
        report = ing.ingest([small_corpus])
        assert len(report.added) == 4 and report.chunks_embedded == ing.store.count()

    def test_crash_leftovers_are_repaired(self, settings, small_corpus, embedder):
        """A run killed between the vector write and the record write leaves orphans."""
        ing = Ingestor(settings, embedder)
        ing.ingest([small_corpus])
        doc_id = "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"
        row = ing.manifest.get(doc_id)
        assert row is not None and row.status == INDEXED
        ing.store.vs.add_texts(["orphan chunk from a killed run"], ids=["orphan-1"])
        lost = ing.records.keys_for(doc_id)[:3]
        ing.records.delete_keys(lost)
        row.status = INDEXING
        ing.manifest.upsert(row)
        report = ing.ingest([small_corpus])
        assert doc_id in report.added + report.updated
        ids, keys = _store_state(ing)
        assert ids == keys and "orphan-1" not in ids
        assert ing.manifest.get(doc_id).status == INDEXED  # type: ignore[union-attr]


@pytest.mark.slow
class TestFullCorpus:
    def test_whole_shared_corpus_twice(self, tmp_path: Path, embedder, capsys):
        from tests.conftest import CORPUS

        settings = Settings(data_dir=tmp_path / "data")
        ing = Ingestor(settings, embedder)
        first = ing.ingest([CORPUS / "strategies", CORPUS / "guidance"], root=CORPUS)
        assert [f.file for f in first.failed] == [
            "guidance/OnlineS3_4.1_EDP_Workshop_Review_Summary.pdf"
        ]
        assert len(first.added) == 27
        assert first.pages == 400  # 398 PDF pages with text + the .txt and .md files
        assert ing.store.count() == first.chunks_embedded == first.chunks
        second = ing.ingest([CORPUS / "strategies", CORPUS / "guidance"], root=CORPUS)
        assert second.chunks_embedded == 0 and len(second.unchanged) == 27
        with capsys.disabled():
            print(
                f"\nfull corpus: {first.pages} pages, {first.chunks} chunks, "
                f"{first.seconds:.1f}s ({first.chunks / first.seconds:.1f} chunks/s); "
                f"re-ingest {second.seconds:.2f}s; times {first.as_json()['times']}"
            )
