"""Run folders read back (eval/runs.py) and compared (eval/compare.py), on hand-built runs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eval.compare import compare_runs, judge, render_comparison
from eval.runs import RunError, detect_kind, find_runs, load_run, lower_is_better
from s3assist.cli import app

REPORTS = Path(__file__).resolve().parents[1] / "eval" / "reports"


def answers_run(folder: Path, backend: str, rows: list[dict[str, Any]], **metrics: Any) -> Path:
    folder.mkdir(parents=True)
    part = {"n": len(rows), "answerable": 2, "unanswerable": 1, **metrics}
    summary = {
        "date": "2026-11-25T00:00:00+00:00",
        "settings_hash": folder.name,
        "subsets": {"all": "All questions"},
        "backends": {backend: {"all": part}},
        "skipped": {},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    lines = [json.dumps({**r, "backend": backend}) for r in rows]
    (folder / "per_question.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def row(qid: str, kf: float | None, refused: bool = False, answerable: bool = True) -> dict:
    return {
        "id": qid,
        "question": f"question {qid}?",
        "answerable": answerable,
        "refused": refused,
        "key_fact_recall": kf,
        "answer": "An answer [1].",
        "citations": [{"file": "strategies/A.pdf", "page": 3, "text": "passage"}],
        "gold": ["strategies/A.pdf#3"],
        "key_facts": [{"fact": "x", "found": bool(kf)}],
    }


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = answers_run(
        tmp_path / "a",
        "extractive",
        [row("q1", 0.5), row("q2", 1.0), row("q3", None, refused=True, answerable=False)],
        key_fact_recall=0.75,
        false_refusal_rate=0.0,
        citation_precision=0.9,
        total_s={"p50": 0.2},
        fallbacks_to_extractive=0,
    )
    b = answers_run(
        tmp_path / "b",
        "extractive",
        # q1 better, q2 refused (worse), q3 answered an unanswerable question (worse)
        [row("q1", 1.0), row("q2", 1.0, refused=True), row("q3", None, answerable=False)],
        key_fact_recall=0.5,
        false_refusal_rate=0.5,
        citation_precision=0.905,
        total_s={"p50": 0.4},
        fallbacks_to_extractive=2,
    )
    return a, b


def test_load_run_kinds_rows_and_metrics(two_runs: tuple[Path, Path]) -> None:
    run = load_run(two_runs[0])
    assert run.kind == "answers" and run.systems == ["extractive"]
    assert sorted(run.rows["extractive"]) == ["q1", "q2", "q3"]
    metrics = run.metrics("extractive")
    assert metrics["key_fact_recall"] == 0.75 and metrics["total_s.p50"] == 0.2
    assert "n" not in metrics
    assert run.metrics("missing") == {}


def test_item_score_definitions(two_runs: tuple[Path, Path]) -> None:
    run = load_run(two_runs[0])
    assert run.item_score(row("x", 0.5)) == 0.5
    assert run.item_score(row("x", 0.5, refused=True)) == 0.0  # refusing an answerable one
    assert run.item_score(row("x", None, refused=True, answerable=False)) == 1.0
    assert run.item_score(row("x", None, answerable=False)) == 0.0


def test_compare_metric_verdicts_and_questions(two_runs: tuple[Path, Path]) -> None:
    cmp = compare_runs(load_run(two_runs[0]), load_run(two_runs[1]))
    (system,) = cmp.systems
    verdicts = {m.metric: m.verdict for m in system.metrics}
    assert verdicts["key_fact_recall"] == "worse"
    assert verdicts["false_refusal_rate"] == "worse"  # lower is better, and it rose
    assert verdicts["citation_precision"] == "noise"  # +0.005 is inside ±0.01
    assert verdicts["total_s.p50"] == "timing"  # never judged on a shared machine
    assert verdicts["fallbacks_to_extractive"] == "info"
    assert [i.id for i in system.better] == ["q1"]
    assert {i.id for i in system.worse} == {"q2", "q3"}
    assert system.unchanged == 0
    assert {name for name, _ in cmp.regressions} == {"extractive"}
    md = render_comparison(cmp)
    assert "| key_fact_recall | 0.750 | 0.500 | -0.250 | ▼ worse |" in md
    assert "1 better, 2 worse, 0 unchanged" in md


def test_judge_edges() -> None:
    assert judge("mrr", None, 0.5, 0.01) == (None, "n/a")
    assert judge("mrr", 0.5, 0.5, 0.01) == (0.0, "same")
    assert judge("mrr", 0.5, 0.52, 0.01)[1] == "better"
    assert judge("false_refusal_rate", 0.2, 0.1, 0.01)[1] == "better"
    assert judge("latency_ms.p50", 10.0, 90.0, 0.01)[1] == "timing"
    assert lower_is_better("tokens.in") and not lower_is_better("ndcg@10")


def test_compare_refuses_mixed_kinds_and_unknown_systems(
    tmp_path: Path, two_runs: tuple[Path, Path]
) -> None:
    retrieval = load_run(REPORTS / "retrieval_answers_set")
    with pytest.raises(ValueError, match="cannot compare"):
        compare_runs(load_run(two_runs[0]), retrieval)
    with pytest.raises(ValueError, match="has no 'local'"):
        compare_runs(load_run(two_runs[0]), load_run(two_runs[1]), systems_ab=("local", "x"))
    with pytest.raises(RunError):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError):
        load_run(tmp_path / "empty")


def test_committed_retrieval_report_compares_variants_of_one_run() -> None:
    run = load_run(REPORTS / "retrieval_dev")  # per_query.jsonl.gz
    assert run.kind == "retrieval" and "hybrid_rescored" in run.systems
    assert len(run.rows["naive"]) == 111
    cmp = compare_runs(run, run, systems_ab=("naive", "hybrid_rescored"))
    (system,) = cmp.systems
    mrr = next(m for m in system.metrics if m.metric == "mrr")
    assert mrr.a == pytest.approx(0.562, abs=1e-3) and mrr.b == pytest.approx(0.696, abs=1e-3)
    assert mrr.verdict == "better"
    # per-query deltas are reciprocal-rank changes: they add up to the MRR change
    total = sum(i.delta for i in system.better) + sum(i.delta for i in system.worse)
    assert total / 111 == pytest.approx(0.696 - 0.562, abs=0.002)


def test_gz_rows_and_find_runs(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    src = two_runs[0] / "per_question.jsonl"
    with gzip.open(src.with_suffix(".jsonl.gz"), "wt", encoding="utf-8") as fh:
        fh.write(src.read_text())
    src.unlink()
    assert detect_kind(two_runs[0]) == "answers"
    assert len(load_run(two_runs[0]).rows["extractive"]) == 3
    assert set(find_runs(tmp_path)) == set(two_runs)
    assert find_runs(tmp_path / "missing") == []


def test_cli_compare_json_out_and_exit_code(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app, ["eval", "compare", str(a), str(b), "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "answers" and data["systems"][0]["system"] == "extractive"
    assert (out / "compare.md").is_file() and (out / "compare.json").is_file()
    failing = CliRunner().invoke(app, ["eval", "compare", str(a), str(b), "--fail-on-regression"])
    assert failing.exit_code == 4
    same = CliRunner().invoke(app, ["eval", "compare", str(a), str(a), "--fail-on-regression"])
    assert same.exit_code == 0
    bad = CliRunner().invoke(app, ["eval", "compare", str(a), str(tmp_path / "x"), "--json"])
    assert bad.exit_code == 1 and "error" in json.loads(bad.stdout)
