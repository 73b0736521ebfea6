"""Eval reports served by the web app (app/reports.py), on a real loopback server."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from app.server import create_app
from tests.test_app_api import app_settings, running
from tests.test_eval_compare import answers_run, row

REPORTS = Path(__file__).resolve().parents[1] / "eval" / "reports"


def test_reports_index_and_pages(tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(REPORTS / "retrieval_answers_set", eval_dir / "reports" / "retrieval_set")
    answers_run(eval_dir / "runs" / "r1", "extractive", [row("q1", 1.0)], key_fact_recall=1.0)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "summary.json").write_text("{}")
    settings = app_settings(tmp_path / "data", eval_dir=eval_dir)
    with running(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        index = client.get("/reports")
        assert index.status_code == 200
        assert 'href="/reports/reports/retrieval_set"' in index.text
        assert 'href="/reports/runs/r1"' in index.text and "answers" in index.text
        page = client.get("/reports/runs/r1")  # no report.html yet: rendered, not written
        assert page.status_code == 200 and "Per question: extractive (1)" in page.text
        assert not (eval_dir / "runs" / "r1" / "report.html").exists()
        assert client.get("/reports/reports/retrieval_set").status_code == 200
        assert client.get("/reports/runs/none").status_code == 404
        # nothing outside eval_dir, however the path is spelled
        assert client.get("/reports/../secret").status_code == 404
        assert client.get("/reports/%2E%2E/secret").status_code == 404
