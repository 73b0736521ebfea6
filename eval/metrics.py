"""Page-level retrieval metrics, computed with ``ranx``.

Unit of relevance: the **page**. A retrieved chunk counts as its page id ``"file#page"`` (``file``
relative to the corpus root, ``page`` 1-based physical, as in the datasets). A ranking of chunks
becomes a ranking of distinct pages with :func:`rank_pages`: the first chunk of a page fixes the
page's position, later chunks of the same page are dropped, and the pages behind move up. So
three chunks of page A followed by one of page B rank B second, not fourth.

Every gold page has relevance 1 (binary); a query's score averages into the mean with weight 1.
What none of these metrics can see:

- whether the retrieved *chunk* holds the answer, only that it lies on a gold page (a page
  with several chunks counts as found through any of them);
- near misses the gold leaves out by design (tables of contents, figure lists, boilerplate
  repeated in sibling documents: see ``eval/datasets/retrieval_dev.md``): they score 0;
- anything the retriever returns beyond the cut-off (10 distinct pages), except through
  ``hit_rank`` in the per-query output.

Each metric below is one function returning ``{query id: score}``; :data:`METRICS` lists them in
table order. Inputs: ``gold`` maps a query id to its gold page ids, ``ranked`` maps it to its
distinct page ids in rank order (queries missing from ``ranked``, or with nothing retrieved,
score 0 everywhere).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from eval.datasets import page_id

CUTOFF = 10
NO_RESULT = "__no_result__"  # ranx refuses an empty ranking: an empty run gets this, score 0

Gold = Mapping[str, Sequence[str]]
Ranked = Mapping[str, Sequence[str]]


def rank_pages(chunks: Iterable[tuple[str, int]]) -> list[str]:
    """Chunk ``(file, page)`` pairs in rank order -> distinct page ids in rank order."""
    return list(dict.fromkeys(page_id(file, page) for file, page in chunks))


def first_hit_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold page in the distinct-page ranking (any depth), or None."""
    wanted = set(gold)
    return next((i for i, p in enumerate(ranked, 1) if p in wanted), None)


def _ranx(gold: Gold, ranked: Ranked, metric: str) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    if not gold:
        return {}
    for qid, pages in gold.items():
        if not pages:
            raise ValueError(f"query {qid!r} has no gold pages: it cannot be scored")
    qrels = Qrels({qid: dict.fromkeys(pages, 1) for qid, pages in gold.items()})
    run_dict: dict[str, dict[str, float]] = {}
    for qid in gold:
        pages = list(dict.fromkeys(ranked.get(qid, ())))
        # strictly decreasing scores: ranx sorts by score, so ties must not reorder pages
        entry = {p: float(len(pages) - i) for i, p in enumerate(pages)}
        run_dict[qid] = entry or {NO_RESULT: 0.0}
    run = Run(run_dict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64->int64 cast notice inside ranx
        evaluate(qrels, run, metric, return_mean=False, save_results_in_run=True)
    return {qid: float(v) for qid, v in run.scores[metric].items()}


def hit_at(k: int, gold: Gold, ranked: Ranked) -> dict[str, float]:
    """hit@k (ranx ``hit_rate@k``): 1 if any gold page is among the first k distinct pages, else 0.

    The share of queries a user answers by reading k pages. Cannot see how many of several
    gold pages were found, nor where in the top k the first one sits.
    """
    return _ranx(gold, ranked, f"hit_rate@{k}")


def hit_at_1(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """hit@1: the top page is a gold page (see :func:`hit_at`)."""
    return hit_at(1, gold, ranked)


def hit_at_5(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """hit@5: a gold page among the first 5 distinct pages (see :func:`hit_at`)."""
    return hit_at(5, gold, ranked)


def hit_at_10(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """hit@10: a gold page among the first 10 distinct pages (see :func:`hit_at`)."""
    return hit_at(10, gold, ranked)


def recall_at_10(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """recall@10 (ranx ``recall@10``): gold pages among the first 10 distinct pages / gold pages.

    Equals hit@10 for the single-gold queries; lower when a query has 2-3 gold pages and only
    some are found. Cannot see order within the top 10, nor that one gold page may already
    answer the query fully (the others being repeats).
    """
    return _ranx(gold, ranked, f"recall@{CUTOFF}")


def mrr_at_10(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """MRR (ranx ``mrr@10``): 1 / rank of the first gold page among the first 10 distinct pages.

    0 when no gold page is in the top 10 (a page at rank 11 scores like no page at all).
    Cannot see any gold page after the first one.
    """
    return _ranx(gold, ranked, f"mrr@{CUTOFF}")


def ndcg_at_10(gold: Gold, ranked: Ranked) -> dict[str, float]:
    """nDCG@10 (ranx ``ndcg@10``), binary gains: DCG = sum over gold pages at rank r <= 10 of
    1 / log2(r + 1), divided by the DCG of the ideal ranking (all gold pages first).

    Rewards finding every gold page, and finding them early. Cannot see graded relevance
    (a page stating the answer and one merely mentioning it are both 1 or both 0).
    """
    return _ranx(gold, ranked, f"ndcg@{CUTOFF}")


@dataclass(frozen=True)
class Metric:
    key: str  # in summary.json
    label: str  # column header in retrieval.md
    compute: Callable[[Gold, Ranked], dict[str, float]]


METRICS: tuple[Metric, ...] = (
    Metric("hit@1", "hit@1", hit_at_1),
    Metric("hit@5", "hit@5", hit_at_5),
    Metric("hit@10", "hit@10", hit_at_10),
    Metric("recall@10", "recall@10", recall_at_10),
    Metric("mrr", "MRR", mrr_at_10),
    Metric("ndcg@10", "nDCG@10", ndcg_at_10),
)


def per_query_scores(gold: Gold, ranked: Ranked) -> dict[str, dict[str, float]]:
    """``{query id: {metric key: score}}`` for every query in ``gold``."""
    by_metric = {m.key: m.compute(gold, ranked) for m in METRICS}
    return {qid: {key: scores[qid] for key, scores in by_metric.items()} for qid in gold}


def mean_scores(
    per_query: Mapping[str, Mapping[str, float]], ids: Iterable[str]
) -> dict[str, float]:
    """Mean of each metric over the given query ids (0.0 for an empty subset)."""
    rows = [per_query[qid] for qid in ids]
    return {m.key: float(np.mean([r[m.key] for r in rows])) if rows else 0.0 for m in METRICS}


def percentile(values: Sequence[float], q: float) -> float:
    """q-th percentile with linear interpolation (numpy's default); 0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0
