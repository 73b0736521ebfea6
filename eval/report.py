"""A self-contained HTML report (and a markdown summary) for one or more finished eval runs.

Charts are matplotlib PNGs embedded as base64 and the CSS is inline, so the file opens from
disk, from an e-mail or from the web app with no network. The per-question drill-down shows
what a reviewer checks: the question, the answer, each citation with its passage (and whether it
is on a gold page), what was missed.
"""

from __future__ import annotations

import base64
import io
import webbrowser
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from eval.runs import EvalRun

TEMPLATES = Path(__file__).resolve().parent / "templates"
PASSAGE_CHARS = 900  # passages are cut for size; the run folder keeps them whole
REPORT_NAME = "report.html"
SUMMARY_NAME = "report.md"

RETRIEVAL_METRICS = ("hit@1", "hit@5", "hit@10", "recall@10", "mrr", "ndcg@10")
ANSWER_METRICS = (
    ("key_fact_recall", "KF recall"),
    ("similarity", "similarity"),
    ("citation_on_gold", "cites gold"),
    ("citation_recall", "cit. recall"),
    ("citation_precision", "cit. precision"),
    ("correct_refusal_rate", "correct refusal"),
    ("false_refusal_rate", "false refusal"),
)
CLASSIFICATION_METRICS = ("precision", "recall", "f1")


@dataclass
class Chart:
    alt: str
    png: str


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    heading: str
    anchor: str
    meta: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    drilldown: list[dict[str, Any]] = field(default_factory=list)
    legend: str = ""
    item_score: str = ""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def bar_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]]
) -> str:
    """Grouped bars: one group per metric label, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 2), 3.4))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        heights = [0.0 if v is None else v for v in values]
        bars = ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=name)
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def histogram(title: str, xlabel: str, series: Mapping[str, Sequence[float]], bins: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    ax.hist(list(series.values()), bins=bins, label=list(series), alpha=0.85)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("questions", fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _meta(run: EvalRun) -> list[tuple[str, str]]:
    s = run.summary
    keys = ("date", "settings_hash", "dataset", "dataset_sha256", "corpus")
    meta = [(k, str(s[k])) for k in keys if s.get(k)]
    index = s.get("index")
    if index:
        meta.append(("index", f"{index.get('chunks')} chunks, {index.get('pages')} pages"))
    if s.get("skipped"):
        meta.append(("skipped", "; ".join(f"{k}: {v}" for k, v in s["skipped"].items())))
    config = run.path / "config.json"
    if config.is_file():
        meta.append(("config overrides", config.read_text(encoding="utf-8").strip()))
    return meta


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + " …"


def _drilldown(run: EvalRun, describe: Any) -> list[dict[str, Any]]:
    out = []
    for system, rows in run.rows.items():
        items = []
        for qid, row in rows.items():
            score = run.item_score(row)
            item = {"id": qid, "score": _fmt(score), "sort": -1.0 if score is None else score}
            item["css"] = "muted" if score is None else ("ok" if score >= 0.999 else "bad")
            item.update(describe(row))
            items.append(item)
        items.sort(key=lambda i: (i["sort"], i["id"]))
        out.append({"name": system, "questions": items})
    return out


# --- retrieval --------------------------------------------------------------------------------
def _retrieval_item(row: dict[str, Any]) -> dict[str, Any]:
    gold = set(row.get("gold", []))
    pages = [f"{p}{' ✓' if p in gold else ''}" for p in row.get("pages", [])]
    return {
        "text": row.get("query", ""),
        "facts": [
            ("first gold rank", _fmt(row.get("hit_rank")) if row.get("hit_rank") else "not found"),
            ("gold pages", ", ".join(sorted(gold))),
            ("retrieved pages", ", ".join(pages)),
            ("language", row.get("lang", "")),
        ],
        "answer": "",
        "citations": [],
        "missed": "" if row.get("hit_rank") else "no gold page in the ranking",
    }


def retrieval_section(run: EvalRun) -> Section:
    section = Section(
        f"Retrieval: {run.name}",
        f"retrieval-{run.name}",
        _meta(run),
        item_score="reciprocal rank of the first gold page",
    )
    for subset, title in run.subsets.items():
        rows = []
        for system in run.systems:
            m = run.metrics(system, subset)
            if not m:
                continue
            rows.append(
                [
                    system,
                    *(_fmt(m.get(k)) for k in RETRIEVAL_METRICS),
                    _fmt(m.get("latency_ms.p50")),
                ]
            )
        if rows:
            n = run.summary["variants"][run.systems[0]]["subsets"].get(subset, {}).get("n", "?")
            section.tables.append(
                Table(f"{title} (n={n})", ["variant", *RETRIEVAL_METRICS, "p50 ms"], rows)
            )
    series = {s: [run.metrics(s).get(k) for k in RETRIEVAL_METRICS] for s in run.systems}
    if series:
        section.charts.append(
            Chart(
                "retrieval metrics", bar_chart("Retrieval, all queries", RETRIEVAL_METRICS, series)
            )
        )
        ranks = {
            s: [min(float(r.get("hit_rank") or 11), 11.0) for r in run.rows.get(s, {}).values()]
            for s in run.systems
        }
        if any(ranks.values()):
            section.charts.append(
                Chart(
                    "rank of the first gold page",
                    histogram(
                        "Rank of the first gold page (11 = not in the top 10)",
                        "rank",
                        ranks,
                        bins=[b + 0.5 for b in range(0, 12)],
                    ),
                )
            )
    section.drilldown = _drilldown(run, _retrieval_item)
    return section


# --- answers ----------------------------------------------------------------------------------
def _answer_item(row: dict[str, Any]) -> dict[str, Any]:
    gold = set(row.get("gold", []))
    citations = [
        {
            "where": f"{c.get('file')} p. {c.get('page')}",
            "gold": f"{c.get('file')}#{c.get('page')}" in gold,
            "text": _cut(c.get("text", "")),
        }
        for c in row.get("citations", [])
    ]
    missed = [f["fact"] for f in row.get("key_facts", []) if not f.get("found")]
    answerable = row.get("answerable", True)
    facts = [
        ("answerable", "yes" if answerable else "no (should refuse)"),
        ("refused", "yes" if row.get("refused") else "no"),
        ("backend used", row.get("backend_used") or row.get("backend", "")),
        ("key-fact recall", _fmt(row.get("key_fact_recall"))),
        ("citation recall / precision",
         f"{_fmt(row.get('citation_recall'))} / {_fmt(row.get('citation_precision'))}"),
        ("gold pages", ", ".join(sorted(gold)) or "none"),
    ]  # fmt: skip
    if row.get("error"):
        facts.append(("error", row["error"]))
    if not answerable and not row.get("refused"):
        missed.append("answered a question the sources do not answer")
    return {
        "text": row.get("question", ""),
        "facts": facts,
        "answer": row.get("answer", ""),
        "citations": citations,
        "missed": "; ".join(missed),
    }


def answers_section(run: EvalRun) -> Section:
    from eval.answers import LEGEND

    section = Section(
        f"Answers: {run.name}",
        f"answers-{run.name}",
        _meta(run),
        item_score="key-fact recall; unanswerable: 1 if refused",
    )
    header = [
        "backend",
        "n",
        *(label for _, label in ANSWER_METRICS),
        "total p50 s",
        "tokens in/out",
    ]
    for subset, title in run.subsets.items():
        rows = []
        for system in run.systems:
            part = run.summary["backends"][system].get(subset) or {}
            if not part.get("n"):
                continue
            m = run.metrics(system, subset)
            rows.append(
                [
                    system,
                    f"{part['n']} ({part.get('answerable')}/{part.get('unanswerable')})",
                    *(_fmt(m.get(k)) for k, _ in ANSWER_METRICS),
                    _fmt(m.get("total_s.p50")),
                    f"{m.get('tokens.in') or 0:.0f} / {m.get('tokens.out') or 0:.0f}",
                ]
            )
        if rows:
            section.tables.append(Table(title, header, rows))
    labels = [label for _, label in ANSWER_METRICS]
    series = {s: [run.metrics(s).get(k) for k, _ in ANSWER_METRICS] for s in run.systems}
    if series:
        section.charts.append(
            Chart("answer metrics", bar_chart("Answers, all questions", labels, series))
        )
        kf = {
            s: [float(r["key_fact_recall"]) for r in run.rows.get(s, {}).values()
                if r.get("answerable", True) and r.get("key_fact_recall") is not None]
            for s in run.systems
        }  # fmt: skip
        if any(kf.values()):
            section.charts.append(
                Chart(
                    "key-fact recall per question",
                    histogram("Key-fact recall per answerable question", "recall", kf, bins=10),
                )
            )
    section.legend = LEGEND.format(
        fact=run.summary.get("fact_threshold"),
        support=run.summary.get("support_threshold"),
        support_ml=run.summary.get("support_threshold_multilingual") or "the same",
        k=run.summary.get("naive_k"),
    )
    section.drilldown = _drilldown(run, _answer_item)
    return section


# --- classification ---------------------------------------------------------------------------
def _classification_item(row: dict[str, Any]) -> dict[str, Any]:
    facts = []
    for name in ("nace_sections", "nace_divisions", "nabs_chapters", "ecosystems"):
        gold, pred = row.get("gold", {}).get(name), row.get("predicted", {}).get(name)
        if gold is not None or pred is not None:
            shown = [
                f"{p['code']} ({p.get('confidence', 0):.2f})" if isinstance(p, dict) else str(p)
                for p in pred or []
            ]
            facts.append(
                (name, f"gold {', '.join(gold or []) or '–'} · predicted {', '.join(shown) or '–'}")
            )
    return {
        "text": row.get("text") or row.get("title", ""),
        "facts": facts,
        "answer": "",
        "citations": [],
        "missed": "",
    }


def classification_section(run: EvalRun) -> Section:
    section = Section(
        f"Classification: {run.name}", f"classification-{run.name}", _meta(run), item_score="F1"
    )
    for system in run.systems or ["default"]:
        flat = run.metrics(system)
        fields = sorted({k.split(".")[0] for k in flat if "." in k})
        rows = [
            [f, *(_fmt(flat.get(f"{f}.{m}")) for m in CLASSIFICATION_METRICS)]
            for f in fields
            if any(flat.get(f"{f}.{m}") is not None for m in CLASSIFICATION_METRICS)
        ]
        if rows:
            section.tables.append(Table(system, ["field", *CLASSIFICATION_METRICS], rows))
            series = {m: [flat.get(f"{r[0]}.{m}") for r in rows] for m in CLASSIFICATION_METRICS}
            section.charts.append(
                Chart(system, bar_chart(f"Classification: {system}", [r[0] for r in rows], series))
            )
    section.drilldown = _drilldown(run, _classification_item)
    return section


SECTIONS = {
    "retrieval": retrieval_section,
    "answers": answers_section,
    "classification": classification_section,
}


def render_html(runs: Sequence[EvalRun], title: str | None = None) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    sections = [SECTIONS[run.kind](run) for run in runs]
    return env.get_template("report.html.j2").render(
        title=title or "S3 Assistant evaluation: " + ", ".join(r.name for r in runs),
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        sections=sections,
    )


def render_summary(runs: Sequence[EvalRun]) -> str:
    """Markdown summary: the runner's own markdown per run, or the headline tables."""
    parts = []
    for run in runs:
        own = {"retrieval": "retrieval.md", "answers": "answers.md"}.get(run.kind, "")
        path = run.path / own if own else None
        if path is not None and path.is_file():
            parts.append(path.read_text(encoding="utf-8"))
            continue
        section = SECTIONS[run.kind](run)
        lines = [f"# {section.heading}", ""]
        for table in section.tables:
            lines += [f"## {table.title}", "", "| " + " | ".join(table.header) + " |",
                      "|" + "---|" * len(table.header)]  # fmt: skip
            lines += ["| " + " | ".join(row) + " |" for row in table.rows]
            lines.append("")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def write_report(
    runs: Sequence[EvalRun], out_dir: Path, title: str | None = None, open_it: bool = False
) -> Path:
    """Write ``report.html`` and ``report.md`` into ``out_dir``; return the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / REPORT_NAME
    html_path.write_text(render_html(runs, title), encoding="utf-8")
    (out_dir / SUMMARY_NAME).write_text(render_summary(runs), encoding="utf-8")
    if open_it:
        webbrowser.open(html_path.resolve().as_uri())
    return html_path
