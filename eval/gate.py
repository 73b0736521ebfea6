"""The CI regression gate: a fixed slice of the dev sets, scored on a small index, against
checked-in thresholds (``eval/gate.toml``).

Why a slice: the full sets need the whole corpus indexed (about 75 s of embedding on an idle
2-core machine, minutes on a busy one) and the local LLM is far too slow for CI. The slice takes
the documents listed in the config, the retrieval and answer questions whose gold pages all lie
in them, and every unanswerable question (the slice holds their answers no more than the whole
corpus does). Retrieval runs the default variant, answers the extractive backend: both are
deterministic on one machine, so a threshold only needs a margin for cross-machine float
differences and one question's worth of change (see the config's comments).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import load_answer_dataset, load_retrieval_dataset
from eval.runs import load_run
from s3assist.settings import Settings

DATASETS = Path(__file__).resolve().parent / "datasets"
GATE_CONFIG = Path(__file__).resolve().parent / "gate.toml"


@dataclass(frozen=True)
class Bound:
    metric: str  # "retrieval.mrr", "answers.false_refusal_rate"
    min: float | None = None
    max: float | None = None

    def check(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min}")
        if self.max is not None:
            parts.append(f"<= {self.max}")
        return " and ".join(parts)


@dataclass
class GateConfig:
    documents: list[str]
    variant: str
    backend: str
    bounds: list[Bound]
    retrieval_dataset: Path = DATASETS / "retrieval_dev.jsonl"
    answer_dataset: Path = DATASETS / "answers_dev.jsonl"

    @classmethod
    def load(cls, path: Path = GATE_CONFIG) -> GateConfig:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        bounds = [
            Bound(metric, spec.get("min"), spec.get("max"))
            for metric, spec in data.get("thresholds", {}).items()
        ]
        for bound in bounds:
            if bound.metric.split(".")[0] not in ("retrieval", "answers"):
                raise ValueError(
                    f"gate metric {bound.metric!r} must start with retrieval. or answers."
                )
            if bound.min is None and bound.max is None:
                raise ValueError(f"gate metric {bound.metric!r} needs min or max")
        return cls(
            documents=list(data["documents"]),
            variant=str(data.get("variant", "hybrid_rescored")),
            backend=str(data.get("backend", "extractive")),
            bounds=bounds,
        )


@dataclass
class Check:
    metric: str
    value: float | None
    bound: str
    ok: bool


@dataclass
class GateResult:
    out_dir: Path
    checks: list[Check] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def markdown(self) -> str:
        lines = [
            f"# Eval gate: {'PASSED' if self.passed else 'FAILED'}",
            "",
            f"slice: {self.sizes}",
            "",
            "| metric | value | threshold | |",
            "|---|---:|---|---|",
        ]
        for c in self.checks:
            value = "–" if c.value is None else f"{c.value:.4f}"
            lines.append(f"| {c.metric} | {value} | {c.bound} | {'ok' if c.ok else 'REGRESSION'} |")
        return "\n".join(lines) + "\n"


def _subset_ids(config: GateConfig) -> tuple[list[str], list[str]]:
    docs = set(config.documents)
    retrieval = [
        q.id
        for q in load_retrieval_dataset(config.retrieval_dataset)
        if q.gold and all(g.file in docs for g in q.gold)
    ]
    answers = [
        r.id
        for r in load_answer_dataset(config.answer_dataset)
        if all(g.file in docs for g in r.gold)  # unanswerable: no gold, always in
    ]
    return retrieval, answers


def _write_subset(src: Path, ids: list[str], dest: Path) -> Path:
    wanted = set(ids)
    lines = [
        line
        for line in src.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] in wanted
    ]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def slice_corpus(config: GateConfig, corpus_root: Path, dest: Path) -> Path:
    """Copy the gate's documents (same relative paths, so gold ids still match) into ``dest``."""
    for rel in config.documents:
        src = corpus_root / rel
        if not src.is_file():
            raise FileNotFoundError(f"gate document not in the corpus: {src}")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    return dest


def evaluate_bounds(
    bounds: list[Bound], metrics: dict[str, dict[str, float | None]]
) -> list[Check]:
    """Check every bound against ``metrics[stage][metric]``; a missing metric fails."""
    checks = []
    for bound in bounds:
        stage, _, name = bound.metric.partition(".")
        value = metrics.get(stage, {}).get(name)
        checks.append(Check(bound.metric, value, bound.describe(), bound.check(value)))
    return checks


def run_gate(
    settings: Settings,
    corpus_root: Path,
    out_dir: Path,
    config: GateConfig | None = None,
    *,
    quiet: bool = False,
) -> GateResult:
    from eval.answers import run_answer_eval
    from eval.report import write_report
    from eval.retrieval import run_retrieval_eval

    config = config or GateConfig.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    root = slice_corpus(config, corpus_root, out_dir / "corpus")
    retrieval_ids, answer_ids = _subset_ids(config)
    r_path = _write_subset(config.retrieval_dataset, retrieval_ids, out_dir / "retrieval.jsonl")
    a_path = _write_subset(config.answer_dataset, answer_ids, out_dir / "answers.jsonl")
    gate_settings = settings.model_copy(update={"data_dir": out_dir / "data"})
    run_retrieval_eval(
        gate_settings, r_path, [config.variant], out_dir / "retrieval", root, quiet=quiet
    )
    run_answer_eval(gate_settings, a_path, [config.backend], out_dir / "answers", root, quiet=quiet)
    retrieval = load_run(out_dir / "retrieval")
    answers = load_run(out_dir / "answers")
    write_report([retrieval, answers], out_dir, title="S3 Assistant eval gate")
    checks = evaluate_bounds(
        config.bounds,
        {
            "retrieval": retrieval.metrics(config.variant),
            "answers": answers.metrics(config.backend),
        },
    )
    result = GateResult(
        out_dir,
        checks,
        {
            "documents": len(config.documents),
            "retrieval": len(retrieval_ids),
            "answers": len(answer_ids),
        },
    )
    (out_dir / "gate.md").write_text(result.markdown(), encoding="utf-8")
    (out_dir / "gate.json").write_text(
        json.dumps(
            {
                "passed": result.passed,
                "sizes": result.sizes,
                "checks": [c.__dict__ for c in result.checks],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return result


def suggested_bounds(result: GateResult, margin: float) -> dict[str, Any]:
    """Thresholds ``margin`` below (above, for maxima) what this run measured: for re-basing."""
    out: dict[str, Any] = {}
    for c in result.checks:
        if c.value is None:
            continue
        key = "max" if c.bound.startswith("<=") else "min"
        value = c.value + margin if key == "max" else c.value - margin
        out[c.metric] = {key: round(max(0.0, min(1.0, value)), 3)}
    return out
