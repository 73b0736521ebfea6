"""Priority classification against hand labels: metrics, datasets, runner, calibration.

Two datasets:

- ``en``: ``eval/datasets/priorities_labelled.jsonl``, English priorities of six strategies with
  hand labels for all four fields (see its ``.md``). The classifier's calibration is fitted on
  this set, so its headline figures are **5-fold cross-fitted**: each fold is predicted with a
  calibration fitted on the other four (the in-sample figures with the shipped calibration are
  reported beside them).
- ``cz``: the Czech regional domains with the NACE divisions the Czech document lists (54 of
  91). Nothing was fitted on them: a cross-lingual held-out check of divisions (and of the
  sections they imply).

Metrics treat each field as a set of codes per item. Each is defined once below.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from observatory.models import LabelField

DATASETS = Path(__file__).resolve().parent / "datasets"
LABELLED = DATASETS / "priorities_labelled.jsonl"
CZ_DOMAINS = Path("../shared/corpus/data/cz_nris3_regional_domains_fulltext.json")
GOLD_FIELDS: tuple[LabelField, ...] = (
    "nace_sections",
    "nace_divisions",
    "nabs_chapters",
    "ecosystems",
)
RECALL_KS = (1, 3, 5, 10)
FOLDS = 5


# --- metrics -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def _prf(tp: int, fp: int, fn: int) -> PRF:
    """P = tp/(tp+fp), R = tp/(tp+fn), F1 = their harmonic mean; 0 where a denominator is 0."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def micro_prf(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> PRF:
    """Micro-averaged P/R/F1: true/false positives and misses summed over all items, then one
    P/R/F1. An item with empty gold and empty prediction adds nothing; predictions on an item
    with empty gold are all false positives."""
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    return _prf(tp, fp, fn)


def macro_prf(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> PRF:
    """Macro-averaged P/R/F1: P, R and F1 per label, then the unweighted mean over the labels
    that occur in the gold or the predictions of at least one item (labels nobody used or
    predicted are not averaged in). A label predicted but never gold scores 0 on all three."""
    labels = set().union(*gold, *pred) if gold else set()
    if not labels:
        return PRF(0.0, 0.0, 0.0)
    per = []
    for lab in labels:
        tp = sum(lab in g and lab in p for g, p in zip(gold, pred, strict=True))
        fp = sum(lab not in g and lab in p for g, p in zip(gold, pred, strict=True))
        fn = sum(lab in g and lab not in p for g, p in zip(gold, pred, strict=True))
        per.append(_prf(tp, fp, fn))
    n = len(per)
    return PRF(
        sum(x.precision for x in per) / n,
        sum(x.recall for x in per) / n,
        sum(x.f1 for x in per) / n,
    )


def exact_match(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> float:
    """Share of items whose predicted set equals the gold set (empty = empty counts)."""
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def recall_at_k(gold: set[str], ranked: Sequence[str], k: int) -> float | None:
    """Share of the gold codes among the first k ranked codes; None when gold is empty (the
    item cannot be scored and is left out of means)."""
    if not gold:
        return None
    return len(gold & set(ranked[:k])) / len(gold)


def precision_at_k(gold: set[str], ranked: Sequence[str], k: int) -> float | None:
    """Share of the first k ranked codes that are gold (divided by k even when fewer are
    ranked); None when gold is empty."""
    if not gold:
        return None
    return len(gold & set(ranked[:k])) / k


def mean(values: Iterable[float | None]) -> float:
    """Mean of the scorable values (None left out); 0.0 when none are."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else 0.0


def field_metrics(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> dict[str, float]:
    """The per-field table row: micro P/R/F1 (``precision``/``recall``/``f1``), macro P/R/F1
    and exact match."""
    mi, ma = micro_prf(gold, pred), macro_prf(gold, pred)
    return {
        "precision": mi.precision,
        "recall": mi.recall,
        "f1": mi.f1,
        "macro_precision": ma.precision,
        "macro_recall": ma.recall,
        "macro_f1": ma.f1,
        "exact_match": exact_match(gold, pred),
    }


def ranking_metrics(gold: Sequence[set[str]], ranked: Sequence[Sequence[str]]) -> dict[str, float]:
    """recall@k and precision@k of a ranking (NACE divisions by probability) for RECALL_KS."""
    out: dict[str, float] = {}
    for k in RECALL_KS:
        out[f"recall@{k}"] = mean(recall_at_k(g, r, k) for g, r in zip(gold, ranked, strict=True))
        out[f"precision@{k}"] = mean(
            precision_at_k(g, r, k) for g, r in zip(gold, ranked, strict=True)
        )
    return out


# --- datasets ----------------------------------------------------------------------------------
@dataclass
class LabelledPriority:
    id: str
    text: str
    language: str
    gold: dict[str, set[str]]
    meta: dict[str, Any] = field(default_factory=dict)


def load_labelled(path: Path = LABELLED) -> list[LabelledPriority]:
    """The hand-labelled English priorities (text = title + description)."""
    from observatory.taxonomy import section_of

    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = f"{row['title']}. {row['description']}" if row["description"] else row["title"]
        gold: dict[str, set[str]] = {f: set(row[f]) for f in GOLD_FIELDS}
        derived = {section_of(d) for d in gold["nace_divisions"]}
        if derived != gold["nace_sections"]:
            raise ValueError(f"{row['id']}: nace_sections {gold['nace_sections']} != {derived}")
        meta = {k: row[k] for k in ("doc", "page", "region", "title")}
        items.append(LabelledPriority(row["id"], text, row.get("language", "en"), gold, meta))
    return items


def load_czech(path: Path = CZ_DOMAINS) -> list[LabelledPriority]:
    """Czech regional domains that list NACE divisions (text = title + full description)."""
    from observatory.taxonomy import normalise_code, section_of

    data = json.loads(path.read_text(encoding="utf-8"))
    items = []
    for region, domains in data.items():
        for key, dom in domains.items():
            divisions, unknown = set(), []
            for code in dom.get("nace") or []:
                try:
                    divisions.add(normalise_code("nace_divisions", code))
                except ValueError:  # e.g. "34", a NACE Rev. 1 division: not in Rev. 2
                    unknown.append(code)
            if not divisions:
                continue
            text = f"{dom['nazev']}: {dom['popis']}" if dom.get("popis") else dom["nazev"]
            gold = {
                "nace_divisions": divisions,
                "nace_sections": {section_of(d) for d in divisions},
            }
            meta = {"region": region, "title": dom["nazev"], "not_in_nace_rev2": unknown}
            items.append(LabelledPriority(f"cz-{region}-{key}", text, "cs", gold, meta))
    return items


# --- runner ------------------------------------------------------------------------------------
@dataclass
class ClassificationEvalResult:
    out_dir: Path
    summary: dict[str, Any]
    markdown: str


def _folds(n: int, k: int = FOLDS, seed: int = 7) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def _predict(
    classifier: Any, scores: Sequence[Any], cal: Mapping[str, Any]
) -> list[tuple[Any, dict[str, Any]]]:
    """(Classification, probabilities) per item under calibration ``cal``."""
    saved = classifier.calibration
    classifier.calibration = dict(cal)
    try:
        return [(classifier.decide(s), classifier.probabilities(s)) for s in scores]
    finally:
        classifier.calibration = saved


def _ranked_divisions(probs: Mapping[str, Any]) -> list[str]:
    from observatory.taxonomy import taxonomy

    codes = taxonomy("nace_divisions").codes()
    return [codes[j] for j in sorted(range(len(codes)), key=lambda j: -probs["nace_divisions"][j])]


def _score_set(
    items: Sequence[LabelledPriority],
    predictions: Sequence[tuple[Any, dict[str, Any]]],
    fields: Sequence[str],
) -> dict[str, Any]:
    per_field: dict[str, Any] = {
        f: field_metrics(
            [it.gold[f] for it in items], [set(res.codes(f)) for res, _ in predictions]
        )
        for f in fields
    }
    ranking = ranking_metrics(
        [it.gold["nace_divisions"] for it in items],
        [_ranked_divisions(p) for _, p in predictions],
    )
    return {**per_field, "nace_division_ranking": ranking, "items": len(items)}


def _confidence_gap(
    items: Sequence[LabelledPriority], predictions: Sequence[tuple[Any, dict[str, Any]]]
) -> dict[str, dict[str, float]]:
    """Mean confidence of correct vs wrong predicted labels per field (calibration check)."""
    out: dict[str, dict[str, float]] = {}
    for f in GOLD_FIELDS:
        right: list[float] = []
        wrong: list[float] = []
        for it, (res, _) in zip(items, predictions, strict=True):
            for lab in res.labels.get(f, []):
                (right if lab.code in it.gold[f] else wrong).append(lab.confidence)
        out[f] = {"correct": mean(right), "wrong": mean(wrong), "n_correct": len(right),
                  "n_wrong": len(wrong)}  # fmt: skip
    return out


def run_classification_eval(
    settings: Any,
    out_dir: Path,
    labelled: Path = LABELLED,
    czech: Path | None = CZ_DOMAINS,
    calibrate_to: Path | None = None,
    progress: Any = None,
) -> ClassificationEvalResult:
    """Score the classifier on both sets and write ``per_item.jsonl``, ``summary.json`` and
    ``classification.md`` into ``out_dir``. With ``calibrate_to``, the calibration fitted on
    all labelled items is written there first and used for the in-sample and Czech figures."""
    from observatory.classify import PriorityClassifier, calibration_json, fit_calibration

    say = progress or (lambda _msg: None)
    classifier = PriorityClassifier(settings)
    en_items = load_labelled(labelled)
    cz_items = load_czech(czech) if czech is not None and czech.is_file() else []
    say(f"scoring {len(en_items)} labelled + {len(cz_items)} Czech priorities")
    en_scores = classifier.score_many([i.text for i in en_items], [i.language for i in en_items])
    cz_scores = classifier.score_many([i.text for i in cz_items], [i.language for i in cz_items])
    gold = [i.gold for i in en_items]

    if calibrate_to is not None:
        fitted = fit_calibration(en_scores, gold)
        meta = {
            "fitted_on": str(labelled.name),
            "items": len(en_items),
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        calibrate_to.write_text(calibration_json(fitted, meta), encoding="utf-8")
        classifier.calibration = fitted
        say(f"calibration written to {calibrate_to}")

    # cross-fitted predictions for the labelled set
    cv_pred: list[Any] = [None] * len(en_items)
    for fold in _folds(len(en_items)):
        train = [j for j in range(len(en_items)) if j not in fold]
        cal = fit_calibration([en_scores[j] for j in train], [gold[j] for j in train])
        for j, pred in zip(fold, _predict(classifier, [en_scores[j] for j in fold], cal),
                           strict=True):  # fmt: skip
            cv_pred[j] = pred
    shipped = classifier.calibration
    in_pred = _predict(classifier, en_scores, shipped)
    cz_pred = _predict(classifier, cz_scores, shipped)

    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings_hash": settings.settings_hash() if hasattr(settings, "settings_hash") else "",
        "datasets": {"en": str(labelled), "cz": str(czech) if cz_items else None},
        "kind": "classification",
        "systems": {
            "en_cv": _score_set(en_items, cv_pred, GOLD_FIELDS),
            "en_in_sample": _score_set(en_items, in_pred, GOLD_FIELDS),
        },
        "en_confidence": _confidence_gap(en_items, cv_pred),
        "calibration": {
            f: {"threshold": c.threshold, "top_k": c.top_k}
            for f, c in shipped.items()
            if f in GOLD_FIELDS
        },
    }
    if cz_items:
        summary["systems"]["cz"] = _score_set(
            cz_items, cz_pred, ("nace_sections", "nace_divisions")
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "per_item.jsonl").open("w", encoding="utf-8") as handle:
        for name, items, preds in (("en_cv", en_items, cv_pred), ("cz", cz_items, cz_pred)):
            for it, (res, probs) in zip(items, preds, strict=True):
                item_f1 = [micro_prf([it.gold[f]], [set(res.codes(f))]).f1 for f in it.gold]
                row = {
                    "system": name,
                    "id": it.id,
                    "f1": mean(item_f1),
                    "text": it.text[:300],
                    "gold": {f: sorted(v) for f, v in it.gold.items()},
                    "predicted": {
                        f: [
                            {**lab.as_json(), "evidence": list(lab.evidence)}
                            for lab in res.labels.get(f, [])
                        ]
                        for f in GOLD_FIELDS
                    },
                    "ranked_divisions": _ranked_divisions(probs)[:10],
                }
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(summary)
    (out_dir / "classification.md").write_text(markdown, encoding="utf-8")
    return ClassificationEvalResult(out_dir, summary, markdown)


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The tables of a run: per-field P/R/F1 per set, then the division rankings."""
    lines = []
    sets = [("en_cv", "English hand-labelled, 5-fold cross-fitted calibration"),
            ("en_in_sample", "English hand-labelled, shipped calibration (in-sample)"),
            ("cz", "Czech domains (cross-lingual, held out)")]  # fmt: skip
    for key, title in sets:
        if key not in summary.get("systems", {}):
            continue
        block = summary["systems"][key]
        lines += [f"## {title} ({block['items']} items)", ""]
        lines += ["| field | micro P | micro R | micro F1 | macro P | macro R | macro F1 | exact |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for f in GOLD_FIELDS:
            if f not in block:
                continue
            m = block[f]
            lines.append(
                f"| {f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                f"{m['macro_precision']:.3f} | {m['macro_recall']:.3f} | {m['macro_f1']:.3f} | "
                f"{m['exact_match']:.3f} |"
            )
        rank = block["nace_division_ranking"]
        ks = " | ".join(f"@{k}" for k in RECALL_KS)
        recall = " | ".join(f"{rank[f'recall@{k}']:.3f}" for k in RECALL_KS)
        precision = " | ".join(f"{rank[f'precision@{k}']:.3f}" for k in RECALL_KS)
        lines += [
            "",
            f"| NACE divisions ranked | {ks} |",
            "|---|" + "---:|" * len(RECALL_KS),
            f"| recall | {recall} |",
            f"| precision | {precision} |",
            "",
        ]
    conf = summary.get("en_confidence", {})
    if conf:
        lines += [
            "## Mean confidence of predicted labels (English, cross-fitted)",
            "",
            "| field | correct | wrong | n correct | n wrong |",
            "|---|---:|---:|---:|---:|",
        ]
        for f, c in conf.items():
            lines.append(
                f"| {f} | {c['correct']:.3f} | {c['wrong']:.3f} | {c['n_correct']} | "
                f"{c['n_wrong']} |"
            )
        lines.append("")
    return "\n".join(lines)


def run_for_all(settings: Any, out_dir: Path, quiet: bool = False) -> ClassificationEvalResult:
    """What ``s3assist eval all`` calls: both sets, shipped calibration, no refit."""
    from rich.console import Console

    console = Console(stderr=True, quiet=quiet)
    return run_classification_eval(settings, out_dir, progress=console.print)
