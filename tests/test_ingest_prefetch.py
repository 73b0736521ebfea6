"""Ingest with the next file prepared in a background thread (``ingest_prefetch``).

Real PDFs, real MiniLM (and USE where said), real embedded Chroma. The prefetch path must give
exactly what the serial one gives (chunks, metadata, reports, failures) and handle files that
change or vanish between being prefetched and being indexed.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import ingest.pipeline as pipeline
from ingest.loaders import LoadLimits
from ingest.manifest import FAILED
from ingest.pipeline import Ingestor, IngestReport, Progress
from s3assist.settings import Settings
from tests.badinput import KINDS, PARAGRAPHS, good_pdf_bytes
from tests.conftest import GUIDANCE, SMALL_PDFS

BENCHMARKING_PDF = SMALL_PDFS[1]
STAKEHOLDER_TXT = GUIDANCE / "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
SLIDES_MD = GUIDANCE / "S3CoP_Clusters_Interregional_Cooperation_slides.md"


def _copy(src: Path, dest: Path) -> None:
    """Copy a corpus file (read-only there) as a writable file."""
    shutil.copyfile(src, dest)
    dest.chmod(0o644)


def _settings(tmp_path: Path, name: str, prefetch: bool, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / name, ingest_prefetch=prefetch, **kw)


def _outcome(report: IngestReport) -> dict[str, Any]:
    """Everything a report says except timings."""
    data = report.as_json()
    del data["seconds"], data["times"]
    data["lists"] = (report.added, report.updated, report.unchanged, report.deleted)
    data["failed"] = [(f.file, f.kind, f.reason) for f in report.failed]
    return data


def _snapshot(ing: Ingestor) -> tuple[list[dict[str, Any]], set[str], dict[str, Any]]:
    """Chroma (every collection: id -> text, metadata), record keys and manifest rows."""
    chroma = []
    for col in ing.store.collections():
        got = col.get(include=["documents", "metadatas"])
        pairs = zip(got["documents"], got["metadatas"], strict=True)
        chroma.append(dict(zip(got["ids"], pairs, strict=True)))
    rows = {
        r.doc_id: (r.abs_path, r.file_hash, r.meta_hash, r.status, r.pages, r.chunks, r.metadata)
        for r in ing.manifest.all()
    }
    return chroma, ing.records.all_keys(), rows


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(file name, ran in a worker thread) per call of the prepare step."""
    calls: list[tuple[str, bool]] = []
    real = pipeline._parse_and_chunk

    def spy(path: Path, *args: Any) -> Any:
        calls.append((path.name, threading.current_thread() is not threading.main_thread()))
        return real(path, *args)

    monkeypatch.setattr(pipeline, "_parse_and_chunk", spy)
    return calls


@pytest.mark.slow
def test_same_chunks_and_reports_with_and_without_prefetch(
    tmp_path: Path, small_corpus: Path, embedder: Any, parses: list[tuple[str, bool]]
) -> None:
    """Both collections (MiniLM + USE), records and manifest are identical."""
    serial = Ingestor(_settings(tmp_path, "serial", False), embedder)
    serial_report = serial.ingest([small_corpus])
    assert not any(worker for _, worker in parses)
    parses.clear()
    ahead = Ingestor(_settings(tmp_path, "ahead", True), embedder)
    ahead_report = ahead.ingest([small_corpus])
    # every file was read by the worker thread
    assert sorted(parses) == sorted((p.name, True) for p in small_corpus.rglob("*") if p.is_file())
    assert len(serial_report.added) == 4 and serial_report.failed == []
    assert _outcome(ahead_report) == _outcome(serial_report)
    chroma, keys, rows = _snapshot(ahead)
    assert len(chroma) == 2 and all(chroma) and keys == set(chroma[0]) == set(chroma[1])
    assert (chroma, keys, rows) == _snapshot(serial)
    # stage times are still measured in the worker
    assert ahead_report.times.parse_s > 0 and ahead_report.times.chunk_s > 0
    assert ahead_report.times.embed_s > 0


def _bad_batch(root: Path) -> dict[str, str]:
    """Bad files (from tests/badinput.py) between good ones; file name -> expected outcome."""
    root.mkdir()
    stage = root.parent / "stage"
    stage.mkdir()
    expected: dict[str, str] = {}
    for kind in KINDS:
        if kind.name in ("corrupt_pdf", "encrypted_pdf", "zero_byte", "duplicates"):
            kind.make(stage, False)
            expected.update(kind.expect)
    for name in expected:
        shutil.move(stage / name, root / name)
    # sorted order: a_ corrupt d_ dup_copy dup_original e_ encrypted_* f_ g_ h_ zero.* zz_
    _copy(BENCHMARKING_PDF, root / "a_benchmarking.pdf")
    _copy(STAKEHOLDER_TXT, root / "d_stakeholder.txt")
    (root / "e_bad_sidecar.md").write_text("# Sidecar\n\n" + PARAGRAPHS[0], encoding="utf-8")
    (root / "e_bad_sidecar.meta.json").write_text('{"doc_type": "bogus"}', encoding="utf-8")
    _copy(SLIDES_MD, root / "f_slides.md")
    (root / "h_parser_bug.md").write_text("# Bug\n\n" + PARAGRAPHS[1], encoding="utf-8")
    (root / "zz_good.pdf").write_bytes(good_pdf_bytes("Closing note"))
    expected.update(
        {
            "a_benchmarking.pdf": "indexed",
            "d_stakeholder.txt": "indexed",
            "e_bad_sidecar.md": "metadata",
            "f_slides.md": "indexed",
            "h_parser_bug.md": "error",
            "zz_good.pdf": "indexed",
        }
    )
    return expected


def test_bad_files_fail_the_same_way_and_the_batch_goes_on(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch, parses: list[tuple[str, bool]]
) -> None:
    root = tmp_path / "batch"
    expected = _bad_batch(root)
    real_load = pipeline.load_file

    def buggy_load(path: Path, limits: LoadLimits) -> Any:
        if path.name == "h_parser_bug.md":
            raise RuntimeError("a parser bug")
        return real_load(path, limits)

    monkeypatch.setattr(pipeline, "load_file", buggy_load)
    reports, snapshots = [], []
    for prefetch in (False, True):
        settings = _settings(tmp_path, f"data-{prefetch}", prefetch, multilingual_index=False)
        ing = Ingestor(settings, embedder)
        reports.append(ing.ingest([root]))
        snapshots.append(_snapshot(ing))
        for f in reports[-1].failed:
            assert ing.manifest.get(f.file).status == FAILED  # type: ignore[union-attr]
            assert not ing.store.get_documents({"doc_id": f.file})
    serial, ahead = reports
    got = {f.file: f.kind for f in ahead.failed}
    assert got == {name: kind for name, kind in expected.items() if kind != "indexed"}
    assert sorted(ahead.added) == sorted(n for n, k in expected.items() if k == "indexed")
    reasons = {f.file: f.reason for f in ahead.failed}
    assert (
        reasons["h_parser_bug.md"] == "unexpected error while reading: RuntimeError: a parser bug"
    )
    assert _outcome(ahead) == _outcome(serial)
    assert snapshots[0] == snapshots[1]
    worker_parsed = {name for name, worker in parses if worker}
    assert {"corrupt.pdf", "encrypted_user_password.pdf", "zero.pdf", "h_parser_bug.md"} <= (
        worker_parsed
    )


class _WaitForWorker(Progress):
    """After file ``name`` is done, wait until the worker hook for the next one has run, so the
    change it makes lands between the prefetch and the file's turn (no race)."""

    def __init__(self, events: dict[str, threading.Event]):
        self.events = events

    def file_done(self, name: str, status: str) -> None:
        if name in self.events:
            assert self.events[name].wait(60), f"the worker never prepared the file after {name}"


def test_file_deleted_or_rewritten_after_prefetch(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("a.md", "b.md", "c.md", "d.md"):
        body = f"# Note {name}\n\n" + "\n\n".join(PARAGRAPHS)
        (root / name).write_text(body, encoding="utf-8")
    new_text = "The rewritten note is about hydrogen valleys and offshore wind in the Baltic Sea."
    real = pipeline._parse_and_chunk
    done = {"a.md": threading.Event(), "b.md": threading.Event()}  # key: the file before
    seen: list[str] = []

    def meddle(path: Path, *args: Any) -> Any:
        prepared = real(path, *args)
        if threading.current_thread() is not threading.main_thread():
            seen.append(path.name)
            if path.name == "b.md":
                path.unlink()
                done["a.md"].set()
            elif path.name == "c.md":
                path.write_text(f"# Rewritten\n\n{new_text}\n", encoding="utf-8")
                done["b.md"].set()
        return prepared

    monkeypatch.setattr(pipeline, "_parse_and_chunk", meddle)
    settings = _settings(tmp_path, "data", True, multilingual_index=False)
    ing = Ingestor(settings, embedder, progress=_WaitForWorker(done))
    report = ing.ingest([root])
    assert seen == ["a.md", "b.md", "c.md", "d.md"]  # b and c with their old content
    assert [(f.file, f.kind, f.reason) for f in report.failed] == [
        ("b.md", "missing", "cannot read file: it vanished (deleted or moved)")
    ]
    assert sorted(report.added) == ["a.md", "c.md", "d.md"]
    assert ing.manifest.get("b.md") is None and ing.records.keys_for("b.md") == []
    texts = " ".join(d.page_content for d in ing.store.get_documents({"doc_id": "c.md"}))
    assert new_text in texts and PARAGRAPHS[0] not in texts
    row = ing.manifest.get("c.md")
    assert row is not None and row.file_hash == pipeline.file_sha256(root / "c.md")


def test_unchanged_reingest_parses_nothing(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch, parses: list[tuple[str, bool]]
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for src in (BENCHMARKING_PDF, STAKEHOLDER_TXT, SLIDES_MD):
        _copy(src, root / src.name)
    loads: list[str] = []
    real = pipeline.load_file

    def counting(path: Path, limits: LoadLimits) -> Any:
        loads.append(path.name)
        return real(path, limits)

    monkeypatch.setattr(pipeline, "load_file", counting)
    ing = Ingestor(_settings(tmp_path, "data", True, multilingual_index=False), embedder)
    first = ing.ingest([root])
    assert len(first.added) == 3 and len(loads) == 3
    assert sum(worker for _, worker in parses) == 3
    loads.clear()
    again = ing.ingest([root])
    assert loads == [] and again.chunks_embedded == 0
    assert sorted(again.unchanged) == sorted(first.added)
    assert again.times.parse_s == again.times.chunk_s == 0
    # one changed file among unchanged ones: only it is read
    (root / SLIDES_MD.name).write_text("# Changed\n\n" + PARAGRAPHS[2], encoding="utf-8")
    third = ing.ingest([root])
    assert loads == [SLIDES_MD.name] and third.updated == [SLIDES_MD.name]
