"""Agreement of the citation support score with hand labels (``eval/datasets/support_pairs.jsonl``).

``check_answer`` keeps a generated sentence's citation only when
``SentenceScorer.similarity([sentence], [passage])`` reaches ``settings.support_threshold``. This
module measures how often that decision matches a human reading of the same (sentence, passage)
pair: each pair is scored exactly as the assistant scores it (MiniLM cosine blended 0.6/0.4 with
lexical recall for English; the multilingual USE cosine when ``lang != "en"``), predicted
"supported" when ``score >= threshold``, and compared with the label.

Reported, at the configured threshold and over a sweep of thresholds: accuracy, precision and
recall of "supported", F1 and Cohen's kappa, for all pairs and for the English and cross-lingual
pairs separately (the two score scales differ); the best threshold by accuracy and by F1; and per
kind of sentence (paraphrase, quote, wrong_detail, ...) the score range and accuracy.

``python -m eval.support_agreement`` prints the markdown report; :func:`run_agreement` returns
the numbers.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.datasets import DatasetError
from s3assist.settings import Settings

SUPPORT_PAIRS = Path(__file__).resolve().parent / "datasets" / "support_pairs.jsonl"
LABELS = ("supported", "not_supported")
KINDS = (
    "paraphrase",
    "quote",
    "wrong_detail",
    "other_region",
    "partial",
    "generic",
    "cross_lingual",
)
FIELDS = ("id", "sentence", "passage", "file", "page", "label", "kind", "lang")
# Fine grid for the best threshold; the printed sweep shows every fifth point.
GRID = tuple(round(0.20 + 0.01 * i, 2) for i in range(71))  # 0.20 .. 0.90
SWEEP_SHOWN = tuple(t for t in GRID if round(t * 100) % 5 == 0)
SUBSETS = ("all", "en", "cross_lingual")


@dataclass(frozen=True)
class SupportPair:
    id: str
    sentence: str
    passage: str
    file: str
    page: int
    label: str
    kind: str
    lang: str

    @property
    def supported(self) -> bool:
        return self.label == "supported"

    @property
    def cross_lingual(self) -> bool:
        return self.lang != "en"


def load_support_pairs(path: Path = SUPPORT_PAIRS) -> list[SupportPair]:
    """Read and validate the pairs; every problem is reported at once as a DatasetError."""
    problems: list[str] = []
    pairs: list[SupportPair] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: invalid JSON ({e})")
            continue
        if not isinstance(obj, dict) or set(obj) != set(FIELDS):
            problems.append(f"{where}: fields must be exactly {list(FIELDS)}")
            continue
        bad = [k for k in FIELDS if k != "page" and not (isinstance(obj[k], str) and obj[k])]
        if bad:
            problems.append(f"{where}: empty or non-string {bad}")
            continue
        page = obj["page"]
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            problems.append(f"{where}: page must be an integer >= 1")
            continue
        if obj["label"] not in LABELS:
            problems.append(f"{where}: label {obj['label']!r} not in {LABELS}")
        if obj["kind"] not in KINDS:
            problems.append(f"{where}: kind {obj['kind']!r} not in {KINDS}")
        if (obj["kind"] == "cross_lingual") != (obj["lang"] != "en"):
            problems.append(f"{where}: kind cross_lingual if and only if lang != 'en'")
        if obj["id"] in seen:
            problems.append(f"{where}: duplicate id {obj['id']!r}")
        seen.add(obj["id"])
        pairs.append(SupportPair(**{k: obj[k] for k in FIELDS}))
    if not pairs:
        problems.append("no pairs")
    if problems:
        raise DatasetError(path, problems)
    return pairs


# --- metrics -----------------------------------------------------------------------------------


def agreement(gold: Sequence[bool], predicted: Sequence[bool]) -> dict[str, Any]:
    """Confusion counts, accuracy, precision/recall/F1 of "supported" and Cohen's kappa.

    Precision is None when nothing is predicted supported, recall when nothing is labelled so.
    Kappa is None when both raters use a single identical label throughout (chance agreement 1).
    """
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    n = len(gold)
    tp = sum(g and p for g, p in zip(gold, predicted, strict=True))
    tn = sum(not g and not p for g, p in zip(gold, predicted, strict=True))
    fp = sum(p and not g for g, p in zip(gold, predicted, strict=True))
    fn = n - tp - tn - fp
    accuracy = (tp + tn) / n if n else None
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {
        "n": n,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "accuracy": accuracy,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "kappa": cohen_kappa(gold, predicted),
    }


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two binary raters: (p_o - p_e) / (1 - p_e)."""
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    p_e = pa * pb + (1 - pa) * (1 - pb)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)


def at_threshold(gold: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    """Agreement when "supported" is predicted for ``score >= threshold`` (as check_answer)."""
    return {"threshold": threshold, **agreement(gold, [s >= threshold for s in scores])}


def best_threshold(
    gold: Sequence[bool], scores: Sequence[float], metric: str, grid: Sequence[float] = GRID
) -> dict[str, Any] | None:
    """The grid threshold maximising ``metric`` ("accuracy" or "f1"); ties are broken by the
    median of the tied thresholds (the middle of a plateau is the least fragile choice)."""
    rows = [at_threshold(gold, scores, t) for t in grid]
    values = [r[metric] for r in rows if r[metric] is not None]
    if not values:
        return None
    top = max(values)
    tied = [r for r in rows if r[metric] is not None and abs(r[metric] - top) < 1e-12]
    best = dict(tied[(len(tied) - 1) // 2])
    best["tied_range"] = [tied[0]["threshold"], tied[-1]["threshold"]]
    return best


# --- the run -----------------------------------------------------------------------------------


def make_scorer(settings: Settings, need_multilingual: bool = True) -> Any:
    """The assistant's SentenceScorer: MiniLM from settings, USE for cross-lingual pairs."""
    from assistant.evidence import SentenceScorer
    from vectorstore.embeddings import dense_embedder, make_embedder

    embedder = dense_embedder(settings)
    multilingual = make_embedder("use") if need_multilingual else None
    return SentenceScorer(embedder, multilingual)


def score_pairs(pairs: Sequence[SupportPair], scorer: Any) -> list[float]:
    """Each pair scored on its own, as check_answer scores a (sentence, cited passage) cell."""
    from assistant.citations import support_matrix

    return [
        float(support_matrix(scorer, [p.sentence], [p.passage], p.cross_lingual)[0, 0])
        for p in pairs
    ]


def _subset(pairs: Sequence[SupportPair], name: str) -> list[int]:
    if name == "all":
        return list(range(len(pairs)))
    want_xl = name == "cross_lingual"
    return [i for i, p in enumerate(pairs) if p.cross_lingual == want_xl]


def run_agreement(
    settings: Settings,
    path: Path = SUPPORT_PAIRS,
    scorer: Any = None,
) -> dict[str, Any]:
    """Score every pair and measure agreement with the labels; returns plain JSON-able data."""
    pairs = load_support_pairs(path)
    if scorer is None:
        scorer = make_scorer(settings, any(p.cross_lingual for p in pairs))
    scores = score_pairs(pairs, scorer)
    threshold = settings.support_threshold
    gold = [p.supported for p in pairs]

    current: dict[str, Any] = {}
    best: dict[str, Any] = {}
    sweep: dict[str, list[dict[str, Any]]] = {}
    for name in SUBSETS:
        idx = _subset(pairs, name)
        if not idx:
            continue
        g = [gold[i] for i in idx]
        s = [scores[i] for i in idx]
        pair_thresholds = [
            settings.support_threshold_multilingual
            if pairs[i].cross_lingual
            else settings.support_threshold
            for i in idx
        ]
        current[name] = {
            "threshold": threshold,
            **agreement(g, [sc >= t for sc, t in zip(s, pair_thresholds, strict=True)]),
        }
        best[name] = {m: best_threshold(g, s, m) for m in ("accuracy", "f1")}
        sweep[name] = [at_threshold(g, s, t) for t in GRID]

    best_acc = best["all"]["accuracy"]["threshold"]
    per_kind: list[dict[str, Any]] = []
    for kind in KINDS:
        for label in LABELS:
            idx = [i for i, p in enumerate(pairs) if p.kind == kind and p.label == label]
            if not idx:
                continue
            ks = [scores[i] for i in idx]
            kg = [gold[i] for i in idx]
            # how well this kind alone is separated from the opposite label (same language group)
            xl = kind == "cross_lingual"
            other = [i for i, p in enumerate(pairs) if p.label != label and p.cross_lingual == xl]
            sep = best_threshold(
                kg + [gold[i] for i in other], ks + [scores[i] for i in other], "accuracy"
            )
            per_kind.append(
                {
                    "kind": kind,
                    "label": label,
                    "n": len(idx),
                    "mean": statistics.fmean(ks),
                    "min": min(ks),
                    "max": max(ks),
                    "accuracy_at_threshold": at_threshold(kg, ks, threshold)["accuracy"],
                    "accuracy_at_best": at_threshold(kg, ks, best_acc)["accuracy"],
                    "separating_threshold": sep["threshold"] if sep else None,
                    "separating_accuracy": sep["accuracy"] if sep else None,
                }
            )

    return {
        "dataset": str(path),
        "n": len(pairs),
        "labels": {lab: sum(p.label == lab for p in pairs) for lab in LABELS},
        "threshold": threshold,
        "scorer": {
            "en": f"0.6 * cosine({settings.embedding_model}) + 0.4 * lexical recall",
            "cross_lingual": "cosine(use-multilingual-v3)",
        },
        "at_threshold": current,
        "best": best,
        "sweep": sweep,
        "per_kind": per_kind,
        "pairs": [
            {
                "id": p.id,
                "kind": p.kind,
                "lang": p.lang,
                "label": p.label,
                "score": s,
                "predicted": "supported" if s >= threshold else "not_supported",
            }
            for p, s in zip(pairs, scores, strict=True)
        ],
    }


# --- report ------------------------------------------------------------------------------------


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _metric_row(label: str, m: dict[str, Any], with_threshold: bool = True) -> str:
    threshold = f" {_f(m['threshold'], 2)} |" if with_threshold else ""
    return (
        f"| {label} | {m['n']} |{threshold} {_f(m['accuracy'])} "
        f"| {_f(m['precision'])} | {_f(m['recall'])} | {_f(m['f1'])} | {_f(m['kappa'])} "
        f"| {m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} |"
    )


def _head(first: str, with_threshold: bool = True) -> str:
    cols = [first, "n", *(["threshold"] if with_threshold else [])]
    cols += ["accuracy", "precision", "recall", "F1", "kappa", "TP/FP/FN/TN"]
    return "| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|"


def format_report(result: dict[str, Any]) -> str:
    lines = [
        "# Support score vs hand labels",
        "",
        f"{result['n']} pairs ({result['labels']['supported']} supported, "
        f"{result['labels']['not_supported']} not supported) from `{Path(result['dataset']).name}`;"
        f" configured `support_threshold` = {result['threshold']:.2f}. "
        "Positive class: supported; predicted supported when score >= threshold.",
        "",
        "## At the configured threshold",
        "",
        _head("pairs"),
    ]
    lines += [_metric_row(k, v) for k, v in result["at_threshold"].items()]
    lines += ["", "## Best threshold (grid 0.20-0.90, step 0.01)", "", _head("best")]
    for name, by in result["best"].items():
        for metric, row in by.items():
            if row is None:
                continue
            lo, hi = row["tied_range"]
            tie = f" (tied {lo:.2f}-{hi:.2f})" if lo != hi else ""
            lines.append(_metric_row(f"{name}, by {metric}{tie}", row))
    for name, rows in result["sweep"].items():
        lines += ["", f"## Sweep: {name}", "", _head("threshold", False)]
        shown = [r for r in rows if r["threshold"] in SWEEP_SHOWN]
        lines += [_metric_row(f"{r['threshold']:.2f}", r, False) for r in shown]
    lines += [
        "",
        "## Per kind",
        "",
        "Separating threshold: the best-accuracy threshold between this kind and all pairs of the"
        " opposite label in the same language group.",
        "",
        "| kind | label | n | mean score | min | max | acc @ configured | acc @ best (all) "
        "| separating threshold | its accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in result["per_kind"]:
        lines.append(
            f"| {k['kind']} | {k['label']} | {k['n']} | {_f(k['mean'])} | {_f(k['min'])} "
            f"| {_f(k['max'])} | {_f(k['accuracy_at_threshold'])} | {_f(k['accuracy_at_best'])} "
            f"| {_f(k['separating_threshold'], 2)} | {_f(k['separating_accuracy'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    from s3assist.settings import get_settings

    print(format_report(run_agreement(get_settings())), end="")


if __name__ == "__main__":
    main()
