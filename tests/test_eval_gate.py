"""The CI regression gate's logic (eval/gate.py). The gate itself runs in `make test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets import load_answer_dataset, load_retrieval_dataset
from eval.gate import (
    GATE_CONFIG,
    Bound,
    GateConfig,
    GateResult,
    _subset_ids,
    evaluate_bounds,
    slice_corpus,
    suggested_bounds,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def test_bounds_check_min_max_and_missing() -> None:
    assert Bound("retrieval.mrr", min=0.5).check(0.5)
    assert not Bound("retrieval.mrr", min=0.5).check(0.49)
    assert not Bound("answers.false_refusal_rate", max=0.1).check(0.11)
    assert Bound("answers.false_refusal_rate", max=0.1).check(0.1)
    assert not Bound("retrieval.mrr", min=0.0).check(None)  # a metric that vanished fails
    checks = evaluate_bounds(
        [Bound("retrieval.mrr", min=0.6), Bound("answers.false_refusal_rate", max=0.1),
         Bound("answers.citation_precision", min=0.9)],
        {"retrieval": {"mrr": 0.7}, "answers": {"false_refusal_rate": 0.2}},
    )  # fmt: skip
    assert [c.ok for c in checks] == [True, False, False]
    result = GateResult(Path("."), checks)
    assert not result.passed
    assert "| answers.false_refusal_rate | 0.2000 | <= 0.1 | REGRESSION |" in result.markdown()
    assert not GateResult(Path(".")).passed  # no checks: nothing proven, not a pass


def test_checked_in_config_is_valid_and_strict() -> None:
    config = GateConfig.load(GATE_CONFIG)
    assert config.backend == "extractive" and config.variant == "hybrid_rescored"
    assert {b.metric.split(".")[0] for b in config.bounds} == {"retrieval", "answers"}
    # every threshold is a real bound, not a placeholder that cannot fail
    for bound in config.bounds:
        assert (bound.min or 0) > 0 or (bound.max is not None and bound.max < 1), bound


def test_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "gate.toml"
    bad.write_text('documents = []\n[thresholds]\n"speed.x" = { min = 1 }\n')
    with pytest.raises(ValueError, match="must start with"):
        GateConfig.load(bad)
    bad.write_text('documents = []\n[thresholds]\n"retrieval.mrr" = {}\n')
    with pytest.raises(ValueError, match="needs min or max"):
        GateConfig.load(bad)


def test_slice_questions_have_gold_inside_the_slice(tmp_path: Path) -> None:
    config = GateConfig.load(GATE_CONFIG)
    retrieval, answers = _subset_ids(config)
    docs = set(config.documents)
    by_id = {q.id: q for q in load_retrieval_dataset(config.retrieval_dataset)}
    assert len(retrieval) >= 25
    assert all(all(g.file in docs for g in by_id[i].gold) for i in retrieval)
    records = {r.id: r for r in load_answer_dataset(config.answer_dataset)}
    assert len(answers) >= 35
    assert sum(not records[i].answerable for i in answers) == 15  # every unanswerable one
    root = slice_corpus(config, CORPUS, tmp_path / "corpus")
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(
        config.documents
    )
    missing = GateConfig(["strategies/nope.pdf"], "hybrid", "extractive", [])
    with pytest.raises(FileNotFoundError):
        slice_corpus(missing, CORPUS, tmp_path / "c2")


def test_suggested_bounds_leave_a_margin() -> None:
    checks = evaluate_bounds(
        [Bound("retrieval.mrr", min=0.1), Bound("answers.false_refusal_rate", max=0.9)],
        {"retrieval": {"mrr": 0.7}, "answers": {"false_refusal_rate": 0.05}},
    )
    got = suggested_bounds(GateResult(Path("."), checks), 0.03)
    assert got == {"retrieval.mrr": {"min": 0.67}, "answers.false_refusal_rate": {"max": 0.08}}
