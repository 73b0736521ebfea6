"""The HTML/markdown report (eval/report.py) and `s3assist eval report`."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from eval.report import PASSAGE_CHARS, render_html, write_report
from eval.runs import load_run
from s3assist.cli import app
from tests.test_eval_compare import answers_run, row

REPORTS = Path(__file__).resolve().parents[1] / "eval" / "reports"


def test_answers_report_is_self_contained_with_drilldown(tmp_path: Path) -> None:
    hostile = row("q1", 0.5)
    hostile["question"] = "What does <script>alert(1)</script> do?"
    hostile["citations"][0]["text"] = "long passage " * 200
    folder = answers_run(
        tmp_path / "run",
        "extractive",
        [hostile, row("q2", 1.0), row("q3", None, refused=True, answerable=False)],
        key_fact_recall=0.75,
        citation_precision=1.0,
        total_s={"p50": 0.2},
        tokens={"in": 0, "out": 0},
    )
    html = render_html([load_run(folder)])
    # self-contained: embedded charts, nothing fetched from anywhere
    assert html.count('src="data:image/png;base64,') == 2  # metric bars + key-fact histogram
    assert not re.search(r'(src|href)="(https?:)?//', html)
    # user text is escaped, never executed
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # drill-down: worst first, with the answer, the cited passage (cut) and the gold mark
    assert html.index("<code>q1</code>") < html.index("<code>q2</code>")
    assert "strategies/A.pdf p. 3" in html and "(gold page)" in html
    cut = re.search(r'<div class="passage">(long passage[^<]*)</div>', html)
    assert cut is not None and len(cut.group(1)) <= PASSAGE_CHARS + 2
    assert "Per question: extractive (3)" in html


def test_write_report_for_committed_runs(tmp_path: Path) -> None:
    runs = [load_run(REPORTS / "retrieval_answers_set")]
    path = write_report(runs, tmp_path / "out")
    html = path.read_text(encoding="utf-8")
    assert "Retrieval: retrieval_answers_set" in html
    assert "hybrid_rescored" in html
    assert 'alt="rank of the first gold page"' in html
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Retrieval evaluation")  # the runner's own markdown is reused


def test_cli_report(tmp_path: Path) -> None:
    folder = answers_run(tmp_path / "run", "extractive", [row("q1", 1.0)], key_fact_recall=1.0)
    result = CliRunner().invoke(app, ["eval", "report", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").is_file() and (folder / "report.md").is_file()
    missing = CliRunner().invoke(app, ["eval", "report", str(tmp_path / "none")])
    assert missing.exit_code == 1
