"""Feedback marked wrong in the app → draft eval cases (eval/feedback.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.feedback import Feedback, FeedbackStore
from eval.datasets import DatasetError
from eval.feedback import check_reviewed, export_feedback
from s3assist.cli import app
from s3assist.settings import Settings, get_settings


def test_export_drafts_review_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.app_db.parent.mkdir(parents=True)
    store = FeedbackStore(settings.app_db)
    source = {"file": "strategies/LU.pdf", "page": 14, "text": "The steering committee ..."}
    store.add(Feedback("incorrect", "Who steers Luxembourg's RIS3?", "Nobody [1].", [source],
                       "extractive", "abc123", comment="the committee is on page 14"))  # fmt: skip
    store.add(Feedback("correct", "What is EDP?", "A process [1].", [source]))
    store.add(Feedback("wrong_evidence", "Quels sont les domaines prioritaires ?", "…", []))
    store.add(Feedback("incorrect", "who steers luxembourg's  RIS3?", "Again.", []))  # duplicate

    out = tmp_path / "cases.jsonl"
    assert export_feedback(settings, out, ["incorrect", "wrong_evidence"]) == 2
    drafts = [json.loads(line) for line in out.read_text().splitlines()]
    first, second = drafts
    assert first["id"] == "fb00001" and first["status"] == "needs_review"
    assert first["feedback"]["comment"] == "the committee is on page 14"
    assert first["feedback"]["sources"] == [source] and first["answerable"] is None
    assert second["lang"] == "fr"
    # unreviewed drafts cannot enter a dataset
    with pytest.raises(ValueError, match="needs_review"):
        check_reviewed(out)
    first.update(status="reviewed", answerable=True, topic="governance",
                 reference_answer="A steering committee of ministers.",
                 key_facts=["steering committee"],
                 gold=[{"file": "strategies/LU.pdf", "page": 14}])  # fmt: skip
    second.update(status="reviewed", answerable=False, topic="priorities")
    out.write_text("\n".join(json.dumps(d) for d in (first, second)) + "\n")
    assert check_reviewed(out) == 2
    second["answerable"] = None  # a half-reviewed case is refused by the dataset loader
    out.write_text("\n".join(json.dumps(d) for d in (first, second)) + "\n")
    with pytest.raises(DatasetError):
        check_reviewed(out)

    monkeypatch.setenv("S3ASSIST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["eval", "feedback-export", "--out", str(tmp_path / "c2")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "c2").read_text().splitlines()) == 2  # default: incorrect + wrong_ev.
    bad = CliRunner().invoke(app, ["eval", "feedback-export", "--verdicts", "meh"])
    assert bad.exit_code == 1


def test_export_without_a_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no feedback database"):
        export_feedback(Settings(data_dir=tmp_path / "none"), tmp_path / "x.jsonl", ["incorrect"])
