"""SIGKILL crash trials (reduced CI form of ``python -m bench.reliability crash|sqlite``).

Each trial kills a real ingest (real MiniLM + USE, embedded Chroma, both collections) at a
seeded write or after a seeded delay, reruns it, and checks that store, record manager, BM25 and
manifest agree exactly; the SQLite trials kill helpdesk/feedback writers mid-stream. The runs
happen in a child interpreter because the harness forks workers (not safe from inside pytest's
threads).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.reliability import _doc_text, check_consistency
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import REPO

CI_TRIALS = 25


def _run(*args: str, workdir: Path) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, "-m", "bench.reliability", *args, "--json", "--workdir", str(workdir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ingest_survives_sigkill_at_random_points(tmp_path):
    summary = _run("crash", "--trials", str(CI_TRIALS), "--seed", "7", workdir=tmp_path)
    assert summary["failures"] == []
    assert summary["passed"] == summary["trials"] == CI_TRIALS
    # most write-hook trials really die mid-ingest (timer kills vary with machine speed, so
    # they are counted, not asserted)
    assert summary["killed_by_hook"] >= summary["hook_trials"] * 0.8
    assert {"before", "after", "timer"} <= set(summary["points"])


@pytest.mark.slow
def test_helpdesk_and_feedback_survive_sigkill(tmp_path):
    summary = _run("sqlite", "--trials", str(CI_TRIALS), "--seed", "7", workdir=tmp_path)
    assert summary["failures"] == []
    assert summary["passed"] == summary["trials"] == CI_TRIALS
    assert summary["killed"] >= CI_TRIALS * 0.8


class TestChecker:
    """The consistency check must see what a crash could leave behind."""

    @pytest.fixture
    def ingested(self, tmp_path, embedder):  # type: ignore[no-untyped-def]
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        rng = random.Random(3)
        for name in ("a", "b"):
            (corpus / f"{name}.md").write_text(_doc_text(name, 1, rng), encoding="utf-8")
        ing = Ingestor(Settings(data_dir=tmp_path / "data"), embedder)
        ing.ingest([corpus])
        yield ing, corpus
        ing.close()

    def test_clean_store_passes(self, ingested):
        ing, corpus = ingested
        assert check_consistency(ing, corpus) == []

    def test_orphan_in_one_collection_is_found(self, ingested):
        ing, corpus = ingested
        extra = ing.store.collections()[1]
        got = extra.get(limit=1, include=["embeddings", "documents", "metadatas"])
        extra.add(
            ids=["orphan"],
            embeddings=got["embeddings"],
            documents=got["documents"],
            metadatas=got["metadatas"],
        )
        problems = check_consistency(ing, corpus)
        assert any("collection 1 differs" in p for p in problems)

    def test_stale_version_is_found(self, ingested):
        ing, corpus = ingested
        (corpus / "a.md").write_text(_doc_text("a", 2, random.Random(4)), encoding="utf-8")
        problems = check_consistency(ing, corpus)
        assert any("another version" in p for p in problems)
        assert any("manifest hash" in p for p in problems)
