"""Page-level retrieval metrics on small rankings whose scores are computed by hand."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest

from eval.metrics import (
    METRICS,
    first_hit_rank,
    hit_at,
    hit_at_1,
    hit_at_5,
    hit_at_10,
    mean_scores,
    mrr_at_10,
    ndcg_at_10,
    per_query_scores,
    percentile,
    rank_pages,
    recall_at_10,
)

A, B, C = "a.pdf#1", "a.pdf#2", "b.pdf#1"


def _others(n: int) -> list[str]:
    return [f"other.pdf#{i}" for i in range(1, n + 1)]


def _scores(gold: list[str], ranked: list[str]) -> dict[str, float]:
    return per_query_scores({"q": gold}, {"q": ranked})["q"]


class TestRankPages:
    def test_page_id_is_file_and_page(self) -> None:
        assert rank_pages([("strategies/x.pdf", 3)]) == ["strategies/x.pdf#3"]

    def test_duplicate_pages_collapse_first_occurrence_keeps_rank(self) -> None:
        chunks = [("a.pdf", 1), ("a.pdf", 1), ("b.pdf", 1), ("a.pdf", 1), ("a.pdf", 2)]
        assert rank_pages(chunks) == [A, C, B]

    def test_same_page_number_in_two_files_is_two_pages(self) -> None:
        assert rank_pages([("a.pdf", 1), ("b.pdf", 1)]) == [A, C]

    def test_empty(self) -> None:
        assert rank_pages([]) == []


class TestSingleGold:
    def test_gold_first(self) -> None:
        s = _scores([A], [A, *_others(9)])
        assert s == {
            "hit@1": 1.0,
            "hit@5": 1.0,
            "hit@10": 1.0,
            "recall@10": 1.0,
            "mrr": 1.0,
            "ndcg@10": 1.0,
        }

    def test_gold_third(self) -> None:
        s = _scores([A], [*_others(2), A])
        assert s["hit@1"] == 0.0
        assert s["hit@5"] == 1.0
        assert s["hit@10"] == 1.0
        assert s["recall@10"] == 1.0
        assert s["mrr"] == pytest.approx(1 / 3)
        assert s["ndcg@10"] == pytest.approx(1 / math.log2(4))  # = 0.5

    def test_gold_sixth_misses_hit_at_5(self) -> None:
        s = _scores([A], [*_others(5), A])
        assert (s["hit@5"], s["hit@10"]) == (0.0, 1.0)
        assert s["mrr"] == pytest.approx(1 / 6)
        assert s["ndcg@10"] == pytest.approx(1 / math.log2(7))

    def test_gold_at_rank_10_counts(self) -> None:
        s = _scores([A], [*_others(9), A])
        assert s["hit@10"] == 1.0
        assert s["recall@10"] == 1.0
        assert s["mrr"] == pytest.approx(0.1)
        assert s["ndcg@10"] == pytest.approx(1 / math.log2(11))

    def test_gold_beyond_rank_10_scores_zero(self) -> None:
        ranked = [*_others(10), A]
        s = _scores([A], ranked)
        assert all(v == 0.0 for v in s.values()), s
        assert first_hit_rank(ranked, [A]) == 11  # visible only in the per-query output

    def test_no_hits(self) -> None:
        s = _scores([A], _others(10))
        assert all(v == 0.0 for v in s.values()), s
        assert first_hit_rank(_others(10), [A]) is None

    def test_empty_run(self) -> None:
        s = _scores([A], [])
        assert all(v == 0.0 for v in s.values()), s

    def test_query_missing_from_run_scores_zero(self) -> None:
        scores = per_query_scores({"q1": [A], "q2": [B]}, {"q1": [A]})
        assert scores["q1"]["mrr"] == 1.0
        assert all(v == 0.0 for v in scores["q2"].values())


class TestDuplicatesCollapse:
    def test_chunks_of_one_page_do_not_push_gold_down(self) -> None:
        # chunk ranks: X, X, X, gold -> page ranks: X, gold
        ranked = rank_pages([("x.pdf", 1)] * 3 + [("a.pdf", 1)])
        s = _scores([A], ranked)
        assert s["hit@1"] == 0.0
        assert s["mrr"] == pytest.approx(0.5)
        assert s["ndcg@10"] == pytest.approx(1 / math.log2(3))

    def test_gold_page_found_twice_counts_once(self) -> None:
        ranked = rank_pages([("a.pdf", 1), ("a.pdf", 1), ("x.pdf", 1)])
        s = _scores([A, B], ranked)
        assert s["recall@10"] == pytest.approx(0.5)  # not 1.0: the second chunk is the same page
        assert s["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))

    def test_duplicates_passed_unranked_are_deduplicated(self) -> None:
        assert _scores([B], [A, A, B])["mrr"] == pytest.approx(0.5)


class TestTwoGoldPages:
    def test_both_found(self) -> None:
        s = _scores([A, B], [A, C, B])
        assert s["hit@1"] == 1.0
        assert s["recall@10"] == 1.0
        assert s["mrr"] == 1.0  # only the first gold page counts
        ideal = 1 + 1 / math.log2(3)
        assert s["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)

    def test_one_found(self) -> None:
        s = _scores([A, B], [C, B])
        assert (s["hit@1"], s["hit@5"]) == (0.0, 1.0)
        assert s["recall@10"] == pytest.approx(0.5)
        assert s["mrr"] == pytest.approx(0.5)
        assert s["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))

    def test_second_gold_beyond_cutoff(self) -> None:
        s = _scores([A, B], [A, *_others(9), B])
        assert s["recall@10"] == pytest.approx(0.5)
        assert s["hit@10"] == 1.0


class TestEachMetricFunction:
    gold: ClassVar[dict[str, list[str]]] = {"q1": [A], "q2": [B, C], "q3": [C]}
    ranked: ClassVar[dict[str, list[str]]] = {"q1": [B, A], "q2": [C], "q3": []}

    def test_hit(self) -> None:
        assert hit_at_1(self.gold, self.ranked) == {"q1": 0.0, "q2": 1.0, "q3": 0.0}
        assert hit_at_5(self.gold, self.ranked) == {"q1": 1.0, "q2": 1.0, "q3": 0.0}
        assert hit_at_10(self.gold, self.ranked) == hit_at(10, self.gold, self.ranked)

    def test_recall(self) -> None:
        assert recall_at_10(self.gold, self.ranked) == {"q1": 1.0, "q2": 0.5, "q3": 0.0}

    def test_mrr(self) -> None:
        assert mrr_at_10(self.gold, self.ranked) == {"q1": 0.5, "q2": 1.0, "q3": 0.0}

    def test_ndcg(self) -> None:
        got = ndcg_at_10(self.gold, self.ranked)
        assert got["q1"] == pytest.approx(1 / math.log2(3))
        assert got["q2"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
        assert got["q3"] == 0.0

    def test_gold_must_not_be_empty(self) -> None:
        with pytest.raises(ValueError, match="no gold"):
            mrr_at_10({"q": []}, {"q": [A]})

    def test_every_metric_documented(self) -> None:
        for m in METRICS:
            assert m.compute.__doc__ and len(m.compute.__doc__) > 20, m.key
        assert [m.key for m in METRICS] == [
            "hit@1",
            "hit@5",
            "hit@10",
            "recall@10",
            "mrr",
            "ndcg@10",
        ]


class TestAggregation:
    def test_mean_over_subset(self) -> None:
        per_query = per_query_scores({"q1": [A], "q2": [B]}, {"q1": [A], "q2": [C, B]})
        assert mean_scores(per_query, ["q1", "q2"])["mrr"] == pytest.approx(0.75)
        assert mean_scores(per_query, ["q2"])["hit@1"] == 0.0
        assert mean_scores(per_query, [])["mrr"] == 0.0

    def test_percentile(self) -> None:
        values = [float(v) for v in range(1, 101)]
        assert percentile(values, 50) == pytest.approx(50.5)
        assert percentile(values, 95) == pytest.approx(95.05)
        assert percentile([], 95) == 0.0
