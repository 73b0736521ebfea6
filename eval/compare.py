"""``s3assist eval compare RUN_A RUN_B``: what changed, metric by metric and question by question.

Both runs must be of one kind (retrieval, answers or classification). Systems (variants or
backends) present in both are compared; a system in only one run is listed, not compared.
A metric change counts as **beyond noise** when it moves by more than ``noise`` (default 0.01:
two runs of one configuration on identical index copies differed by about 0.001 MRR, see
``eval/reports/README.md``); latencies are reported but never judged, as this machine is shared.
A question counts as better or worse when its per-question score (:meth:`EvalRun.item_score`)
moves by more than ``item_noise``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from eval.runs import EvalRun, lower_is_better

DEFAULT_NOISE = 0.01
DEFAULT_ITEM_NOISE = 1e-6
TIMING_FRAGMENTS = ("latency", "_s.", "_ms", "seconds", "build")
# Counts that describe a run rather than grade it: shown, never called better or worse.
INFO_METRICS = {"answerable", "unanswerable", "refused_by_text", "fallbacks_to_extractive", "n"}


def _is_timing(metric: str) -> bool:
    return any(fragment in metric for fragment in TIMING_FRAGMENTS)


@dataclass
class MetricDelta:
    metric: str
    a: float | None
    b: float | None
    delta: float | None
    verdict: str  # better / worse / same / noise / timing / info / n/a


@dataclass
class ItemDelta:
    id: str
    text: str
    a: float | None
    b: float | None
    delta: float


@dataclass
class SystemComparison:
    system: str
    subset: str
    metrics: list[MetricDelta] = field(default_factory=list)
    better: list[ItemDelta] = field(default_factory=list)
    worse: list[ItemDelta] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Comparison:
    a: str
    b: str
    kind: str
    settings_hash: tuple[str, str]
    systems: list[SystemComparison]
    only_in_a: list[str]
    only_in_b: list[str]
    noise: float

    @property
    def regressions(self) -> list[tuple[str, MetricDelta]]:
        return [(s.system, m) for s in self.systems for m in s.metrics if m.verdict == "worse"]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def judge(metric: str, a: float | None, b: float | None, noise: float) -> tuple[float | None, str]:
    """Delta ``b - a`` and whether it is better, worse, within noise, or not judged."""
    if a is None or b is None:
        return None, "n/a"
    delta = b - a
    if metric in INFO_METRICS:
        return delta, "info"
    if _is_timing(metric):
        return delta, "timing"
    if abs(delta) <= 1e-12:
        return delta, "same"
    if abs(delta) <= noise:
        return delta, "noise"
    improved = delta < 0 if lower_is_better(metric) else delta > 0
    return delta, "better" if improved else "worse"


def _item_text(row: dict[str, Any]) -> str:
    return str(row.get("question") or row.get("query") or row.get("text") or row.get("title", ""))


def compare_runs(
    a: EvalRun,
    b: EvalRun,
    *,
    subset: str = "all",
    noise: float = DEFAULT_NOISE,
    item_noise: float = DEFAULT_ITEM_NOISE,
    systems_ab: tuple[str, str] | None = None,
) -> Comparison:
    """Compare the systems both runs share, or only ``systems_ab`` = (system of A, system of B),
    e.g. ("extractive", "local") to compare two backends of one run with itself."""
    if a.kind != b.kind:
        raise ValueError(f"cannot compare a {a.kind} run with a {b.kind} run")
    if systems_ab is not None:
        for run, name in ((a, systems_ab[0]), (b, systems_ab[1])):
            if name not in run.systems:
                raise ValueError(f"{run.path} has no {name!r} (it has {', '.join(run.systems)})")
        pairs = [systems_ab]
    else:
        pairs = [(s, s) for s in a.systems if s in b.systems]
    systems = []
    for system_a, system_b in pairs:
        ma, mb = a.metrics(system_a, subset), b.metrics(system_b, subset)
        name = system_a if system_a == system_b else f"{system_a} → {system_b}"
        cmp = SystemComparison(name, subset)
        for metric in [*ma, *(m for m in mb if m not in ma)]:
            va, vb = ma.get(metric), mb.get(metric)
            delta, verdict = judge(metric, va, vb, noise)
            cmp.metrics.append(MetricDelta(metric, va, vb, delta, verdict))
        rows_a, rows_b = a.rows.get(system_a, {}), b.rows.get(system_b, {})
        cmp.only_a = sorted(set(rows_a) - set(rows_b))
        cmp.only_b = sorted(set(rows_b) - set(rows_a))
        for qid in (q for q in rows_a if q in rows_b):
            sa, sb = a.item_score(rows_a[qid]), b.item_score(rows_b[qid])
            if sa is None or sb is None or abs(sb - sa) <= item_noise:
                cmp.unchanged += 1
                continue
            item = ItemDelta(qid, _item_text(rows_b[qid]), sa, sb, sb - sa)
            (cmp.better if sb > sa else cmp.worse).append(item)
        cmp.better.sort(key=lambda d: -d.delta)
        cmp.worse.sort(key=lambda d: d.delta)
        systems.append(cmp)
    return Comparison(
        a=str(a.path),
        b=str(b.path),
        kind=a.kind,
        settings_hash=(
            str(a.summary.get("settings_hash", "")),
            str(b.summary.get("settings_hash", "")),
        ),
        systems=systems,
        only_in_a=[s for s in a.systems if s not in {p[1] for p in pairs} | set(b.systems)],
        only_in_b=[s for s in b.systems if s not in {p[0] for p in pairs} | set(a.systems)],
        noise=noise,
    )


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def render_comparison(cmp: Comparison, max_items: int = 15) -> str:
    """Markdown: one metric table per shared system, then the questions that moved."""
    marks = {"better": "▲ better", "worse": "▼ worse", "noise": "≈ noise", "same": "=",
             "timing": "(timing)", "info": "(count)", "n/a": ""}  # fmt: skip
    out = [
        f"# Compare {cmp.kind} runs",
        "",
        f"- A: `{cmp.a}` (settings `{cmp.settings_hash[0]}`)",
        f"- B: `{cmp.b}` (settings `{cmp.settings_hash[1]}`)",
        f"- noise band: ±{cmp.noise} (changes inside it are not called better or worse)",
    ]
    if cmp.only_in_a or cmp.only_in_b:
        out.append(
            f"- only in A: {', '.join(cmp.only_in_a) or 'none'}; "
            f"only in B: {', '.join(cmp.only_in_b) or 'none'}"
        )
    for s in cmp.systems:
        out += ["", f"## {s.system} ({s.subset})", "", "| metric | A | B | B − A | |",
                "|---|---:|---:|---:|---|"]  # fmt: skip
        for m in s.metrics:
            out.append(
                f"| {m.metric} | {_num(m.a)} | {_num(m.b)} | {_num(m.delta, True)} | "
                f"{marks[m.verdict]} |"
            )
        out += [
            "",
            f"Questions: {len(s.better)} better, {len(s.worse)} worse, {s.unchanged} unchanged"
            + (f", {len(s.only_a)} only in A" if s.only_a else "")
            + (f", {len(s.only_b)} only in B" if s.only_b else "")
            + ".",
        ]
        for title, items in (("Worse", s.worse), ("Better", s.better)):
            if not items:
                continue
            out += ["", f"{title}:", "", "| id | A | B | question |", "|---|---:|---:|---|"]
            for item in items[:max_items]:
                text = item.text.replace("|", "/")[:110]
                out.append(f"| {item.id} | {_num(item.a)} | {_num(item.b)} | {text} |")
            if len(items) > max_items:
                out.append(f"| … | | | {len(items) - max_items} more in compare.json |")
    return "\n".join(out) + "\n"
