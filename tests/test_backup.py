"""`s3assist backup` / `restore`: a round trip gives identical search hits and app records;
damaged backups, busy data dirs and non-empty targets are refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.feedback import Feedback, FeedbackStore
from app.helpdesk import HelpdeskStore
from ingest.pipeline import Ingestor
from s3assist.backup import (
    MANIFEST_NAME,
    BackupError,
    DataBusyError,
    backup,
    restore,
    writer_lock,
)
from s3assist.settings import Settings
from tests.conftest import GUIDANCE, REPO

QUERIES = ("stakeholder engagement in the entrepreneurial discovery", "interregional clusters")


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "S3ASSIST_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "s3assist.cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _hits(settings: Settings) -> list[list[dict]]:  # type: ignore[type-arg]
    from assistant.retriever import build_retriever

    out = []
    for variant in ("hybrid", "bm25"):
        retriever = build_retriever(settings, variant)
        out += [[h.as_json() for h in retriever.search(q, 5, {})] for q in QUERIES]
    return out


def _forget_chroma() -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _app_rows(settings: Settings) -> tuple[list, list]:  # type: ignore[type-arg]
    helpdesk = [e.as_json() for e in HelpdeskStore(settings).list()]
    feedback = [(f.id, f.verdict, f.question) for f in FeedbackStore(settings.app_db).all()]
    return helpdesk, feedback


@pytest.fixture(scope="module")
def populated(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    corpus = tmp_path_factory.mktemp("corpus")
    for name in (
        "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
        "S3CoP_Clusters_Interregional_Cooperation_slides.md",
    ):
        shutil.copy(GUIDANCE / name, corpus / name)
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    ing = Ingestor(settings, embedder)
    assert len(ing.ingest([corpus]).added) == 2
    ing.close()
    entry = HelpdeskStore(settings).add("How to run focus groups?", "Use the EDP guide [1].")
    HelpdeskStore(settings).approve(entry, "admin")
    FeedbackStore(settings.app_db).add(Feedback("correct", "What is EDP?", "An answer.", []))
    return settings, corpus


@pytest.mark.slow
class TestRoundTrip:
    def test_backup_wipe_restore_gives_identical_hits(self, populated, tmp_path, embedder):
        settings, corpus = populated
        hits_before = _hits(settings)
        rows_before = _app_rows(settings)
        assert all(hits_before) and rows_before[0] and rows_before[1]

        dest = tmp_path / "backup"
        done = _cli("backup", str(dest), "--json", data_dir=settings.data_dir)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((dest / MANIFEST_NAME).read_text())
        files = {f["path"]: f for f in manifest["files"]}
        for db in ("records.sqlite", "app.sqlite", "chroma/chroma.sqlite3"):
            assert files[db]["sqlite"], db
        assert any(p.startswith("bm25/") for p in files)
        assert not any(p.endswith(("-wal", "-shm")) or p.startswith("cache/") for p in files)

        _forget_chroma()
        shutil.rmtree(settings.data_dir)
        done = _cli("restore", str(dest), data_dir=settings.data_dir)
        assert done.returncode == 0, done.stderr
        _forget_chroma()

        assert _hits(settings) == hits_before
        assert _app_rows(settings) == rows_before
        ing = Ingestor(settings, embedder)
        again = ing.ingest([corpus])  # record manager and manifest came back too
        assert len(again.unchanged) == 2 and again.chunks_embedded == 0
        ing.close()

    def test_restore_refuses_a_non_empty_data_dir_without_force(self, populated, tmp_path):
        settings, _ = populated
        dest = tmp_path / "backup"
        backup(settings, dest)
        refused = _cli("restore", str(dest), data_dir=settings.data_dir)
        assert refused.returncode == 1 and "--force" in refused.stderr
        forced = _cli("restore", str(dest), "--force", "--json", data_dir=settings.data_dir)
        assert forced.returncode == 0, forced.stderr
        assert json.loads(forced.stdout)["restored"]["files"] == len(
            json.loads((dest / MANIFEST_NAME).read_text())["files"]
        )
        _forget_chroma()


class TestRefusals:
    @pytest.fixture
    def small(self, tmp_path):  # type: ignore[no-untyped-def]
        settings = Settings(data_dir=tmp_path / "data")
        HelpdeskStore(settings).add("Question?", "Answer.")
        (settings.data_dir / "bm25").mkdir()
        (settings.data_dir / "bm25" / "chunks.json").write_text("{}")
        return settings

    def test_damaged_backup_is_refused_and_nothing_changes(self, small, tmp_path):
        dest = tmp_path / "backup"
        backup(small, dest)
        target = Settings(data_dir=tmp_path / "other")
        (dest / "bm25" / "chunks.json").write_text("{ }")
        with pytest.raises(BackupError, match="checksum mismatch"):
            restore(target, dest)
        assert not target.data_dir.exists() or not any(target.data_dir.iterdir())

    def test_backup_refuses_while_a_writer_holds_the_lock(self, small, tmp_path):
        held, release = threading.Event(), threading.Event()

        def writer() -> None:
            with writer_lock(small):
                held.set()
                release.wait(30)

        thread = threading.Thread(target=writer)
        thread.start()
        held.wait(30)
        try:
            with pytest.raises(DataBusyError, match="being written"):
                backup(small, tmp_path / "backup")
            assert not (tmp_path / "backup").exists()
        finally:
            release.set()
            thread.join()
        backup(small, tmp_path / "backup")

    def test_backup_needs_an_empty_destination_outside_the_data_dir(self, small, tmp_path):
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        with pytest.raises(BackupError, match="not an empty folder"):
            backup(small, tmp_path / "full")
        with pytest.raises(BackupError, match="outside the data dir"):
            backup(small, small.data_dir / "inside")

    def test_cache_is_left_out_and_kept_on_restore(self, small, tmp_path):
        (small.cache_dir).mkdir()
        (small.cache_dir / "model.gguf").write_bytes(b"big model")
        manifest = backup(small, tmp_path / "backup")
        assert not any(f.path.startswith("cache/") for f in manifest.files)
        restore(small, tmp_path / "backup", force=True)
        assert (small.cache_dir / "model.gguf").read_bytes() == b"big model"
        assert [e.question for e in HelpdeskStore(small).list()] == ["Question?"]
