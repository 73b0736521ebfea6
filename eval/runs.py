"""Reading finished eval run folders back: one shape for compare, report and the CI gate.

A run folder is what a runner wrote: ``summary.json`` plus one row per question
(``per_query.jsonl`` for retrieval, ``per_question.jsonl`` for answers, ``per_item.jsonl`` for
classification; each may be gzipped). The kind is read from which file is there. A *system* is
what was compared inside one run: a retrieval variant, an answer backend, a classifier.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunKind = Literal["retrieval", "answers", "classification"]
ROW_FILES: dict[RunKind, str] = {
    "retrieval": "per_query.jsonl",
    "answers": "per_question.jsonl",
    "classification": "per_item.jsonl",
}
SYSTEM_KEYS: dict[RunKind, str] = {
    "retrieval": "variants",
    "answers": "backends",
    "classification": "systems",
}
ROW_SYSTEM_KEYS: dict[RunKind, str] = {
    "retrieval": "variant",
    "answers": "backend",
    "classification": "system",
}

# Metric-name fragments where a smaller value is the better one; everything else is "higher is
# better". Latencies, token counts and false refusals.
LOWER_IS_BETTER = ("false_refusal", "latency", "_s.", "_ms", "seconds", "tokens", "errors", "build")


class RunError(ValueError):
    """Not a run folder, or one this code cannot read."""


def _open_rows(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def lower_is_better(metric: str) -> bool:
    return any(fragment in metric for fragment in LOWER_IS_BETTER)


def _flatten(prefix: str, value: Any, out: dict[str, float | None]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        out[prefix] = float(value)
    elif value is None:
        out[prefix] = None
    elif isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)


@dataclass
class EvalRun:
    """A finished run: its summary, its rows grouped by system, and headline metrics."""

    path: Path
    kind: RunKind
    summary: dict[str, Any]
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # system → id → row

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def systems(self) -> list[str]:
        return list(self.summary.get(SYSTEM_KEYS[self.kind], {}))

    @property
    def subsets(self) -> dict[str, str]:
        return dict(self.summary.get("subsets") or {"all": "All"})

    def metrics(self, system: str, subset: str = "all") -> dict[str, float | None]:
        """Headline numbers of one system on one subset, flattened (``latency_ms.p50``)."""
        data = self.summary.get(SYSTEM_KEYS[self.kind], {}).get(system)
        if data is None:
            return {}
        if self.kind == "retrieval":
            part = data.get("subsets", {}).get(subset)
            if part is None:
                return {}
            out: dict[str, float | None] = {}
            _flatten("", part.get("metrics", {}), out)
            _flatten("latency_ms", part.get("latency_ms", {}), out)
            return out
        part = data.get(subset, data if subset == "all" else None)
        if part is None:
            return {}
        out = {}
        _flatten("", part, out)
        out.pop("n", None)
        return out

    def item_score(self, row: dict[str, Any]) -> float | None:
        """The one per-question number that says better or worse between runs.

        Retrieval: reciprocal rank of the first gold page. Answers: key-fact recall on an
        answerable question (a refusal scores 0), 1/0 for refusing an unanswerable one.
        Classification: the row's ``f1`` (mean over fields) when the runner wrote one.
        """
        if self.kind == "retrieval":
            return float(row.get("scores", {}).get("mrr", 0.0))
        if self.kind == "answers":
            if row.get("answerable") is False:
                return 1.0 if row.get("refused") else 0.0
            value = row.get("key_fact_recall")
            return 0.0 if row.get("refused") or value is None else float(value)
        value = row.get("f1", row.get("score"))
        return None if value is None else float(value)


def detect_kind(path: Path) -> RunKind:
    for kind, name in ROW_FILES.items():
        if (path / name).is_file() or (path / f"{name}.gz").is_file():
            return kind
    summary = path / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        for kind, key in SYSTEM_KEYS.items():
            if kind == data.get("kind") or (key in data and kind != "classification"):
                return kind
    raise RunError(f"{path} is not an eval run folder (no summary.json with per-question rows)")


def load_run(path: Path) -> EvalRun:
    """Read ``path`` (a run folder); rows are keyed by system then question id."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise RunError(f"{path} has no summary.json")
    kind = detect_kind(path)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    run = EvalRun(path, kind, summary)
    row_file = path / ROW_FILES[kind]
    if not row_file.is_file():
        row_file = path / f"{ROW_FILES[kind]}.gz"
    if row_file.is_file():
        key = ROW_SYSTEM_KEYS[kind]
        default = run.systems[0] if len(run.systems) == 1 else "default"
        for row in _open_rows(row_file):
            system = str(row.get(key) or default)
            run.rows.setdefault(system, {})[str(row["id"])] = row
    return run


def find_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder`` (any depth), newest first: what the app lists."""
    if not folder.is_dir():
        return []
    found = [p.parent for p in folder.rglob("summary.json")]
    runs = []
    for candidate in found:
        try:
            detect_kind(candidate)
        except (RunError, ValueError):
            continue
        runs.append(candidate)
    return sorted(runs, key=lambda p: (p / "summary.json").stat().st_mtime, reverse=True)
