"""Rank fusion: hand-computed scores on tiny rankings."""

from __future__ import annotations

from typing import ClassVar

import pytest

from assistant.fusion import reciprocal_rank_fusion, weighted_score_fusion


def _ids(fused: list[tuple[str, float]]) -> list[str]:
    return [doc_id for doc_id, _ in fused]


def _scores(fused: list[tuple[str, float]]) -> dict[str, float]:
    return dict(fused)


class TestReciprocalRankFusion:
    RANKINGS: ClassVar[dict[str, list[str]]] = {"a": ["x", "y", "z"], "b": ["z", "y"]}

    def test_hand_computed_k60(self):
        fused = reciprocal_rank_fusion(self.RANKINGS)
        # x: rank 1 in a; y: rank 2 in both; z: rank 3 in a, rank 1 in b
        expected = {"x": 1 / 61, "y": 1 / 62 + 1 / 62, "z": 1 / 63 + 1 / 61}
        assert _scores(fused) == pytest.approx(expected)
        assert _ids(fused) == ["z", "y", "x"]

    def test_hand_computed_k1(self):
        fused = reciprocal_rank_fusion(self.RANKINGS, k=1)
        assert _scores(fused) == pytest.approx({"x": 1 / 2, "y": 2 / 3, "z": 1 / 4 + 1 / 2})
        assert _ids(fused) == ["z", "y", "x"]

    def test_default_k_is_60(self):
        assert reciprocal_rank_fusion(self.RANKINGS) == reciprocal_rank_fusion(self.RANKINGS, k=60)

    def test_agreement_beats_single_first_place_at_k60(self):
        # The docstring's claim: rank 1 in one list (1/61) < rank 10 in two lists (2/70).
        rankings = {
            "a": ["solo", *[f"f{i}" for i in range(8)], "both"],  # "both" at rank 10
            "b": [*[f"g{i}" for i in range(9)], "both"],  # and at rank 10 here
        }
        fused = _scores(reciprocal_rank_fusion(rankings))
        assert fused["both"] == pytest.approx(2 / 70)
        assert fused["solo"] == pytest.approx(1 / 61)
        assert fused["both"] > fused["solo"]

    def test_weights_scale_each_ranking(self):
        fused = reciprocal_rank_fusion(self.RANKINGS, {"a": 2.0, "b": 0.5}, k=1)
        expected = {"x": 2 / 2, "y": 2 / 3 + 0.5 / 3, "z": 2 / 4 + 0.5 / 2}
        assert _scores(fused) == pytest.approx(expected)
        assert _ids(fused) == ["x", "y", "z"]

    def test_ranking_missing_from_weights_gets_weight_one(self):
        partial = reciprocal_rank_fusion(self.RANKINGS, {"a": 2.0}, k=1)
        explicit = reciprocal_rank_fusion(self.RANKINGS, {"a": 2.0, "b": 1.0}, k=1)
        assert partial == explicit

    def test_weight_zero_drops_a_ranking(self):
        fused = reciprocal_rank_fusion({"a": ["x"], "b": ["only_in_b", "x"]}, {"b": 0.0}, k=1)
        assert fused == [("x", pytest.approx(1 / 2))]

    def test_weight_zero_ranking_does_not_affect_tie_break(self):
        # p and q tie on the live ranking's score only if the dropped one counted; it must not.
        fused = reciprocal_rank_fusion({"a": ["p", "q"], "b": ["q", "p"]}, {"b": 0}, k=1)
        assert _ids(fused) == ["p", "q"]
        assert _scores(fused) == pytest.approx({"p": 1 / 2, "q": 1 / 3})

    @pytest.mark.parametrize("weight", [-1.0, -0.001])
    def test_negative_weight_raises(self, weight):
        with pytest.raises(ValueError, match="weight"):
            reciprocal_rank_fusion(self.RANKINGS, {"b": weight})

    def test_empty_input(self):
        assert reciprocal_rank_fusion({}) == []
        assert reciprocal_rank_fusion({}, {"a": 1.0}) == []

    def test_empty_lists(self):
        assert reciprocal_rank_fusion({"a": [], "b": []}) == []
        assert reciprocal_rank_fusion({"a": [], "b": ["x"]}, k=1) == [("x", pytest.approx(1 / 2))]

    def test_duplicate_within_a_ranking_counts_once_at_best_rank(self):
        fused = reciprocal_rank_fusion({"a": ["x", "y", "x", "x"]}, k=1)
        assert _scores(fused) == pytest.approx({"x": 1 / 2, "y": 1 / 3})
        assert _ids(fused) == ["x", "y"]

    def test_duplicate_does_not_stop_other_rankings_counting(self):
        fused = reciprocal_rank_fusion({"a": ["x", "x"], "b": ["y", "x"]}, k=1)
        assert _scores(fused) == pytest.approx({"x": 1 / 2 + 1 / 3, "y": 1 / 2})

    def test_exact_tie_broken_by_id(self):
        # Both at rank 1 once and rank 2 once: same score, same best rank -> id order.
        fused = reciprocal_rank_fusion({"a": ["m", "b"], "b": ["b", "m"]})
        assert fused[0][1] == fused[1][1]
        assert _ids(fused) == ["b", "m"]

    def test_exact_tie_broken_by_best_rank_before_id(self):
        # k=1: "zz" at rank 1 once = 1/2; "aa" at rank 3 twice = 1/4 + 1/4 = 1/2.
        rankings = {"a": ["zz", "f1", "aa"], "b": ["f2", "f3", "aa"]}
        fused = reciprocal_rank_fusion(rankings, k=1)
        scores = _scores(fused)
        assert scores["zz"] == scores["aa"] == 0.5
        assert _ids(fused).index("zz") < _ids(fused).index("aa")

    def test_output_is_deterministic_under_input_order(self):
        one = reciprocal_rank_fusion({"a": ["p", "q"], "b": ["q", "p"]})
        two = reciprocal_rank_fusion({"b": ["q", "p"], "a": ["p", "q"]})
        assert _ids(one) == _ids(two) == ["p", "q"]

    @pytest.mark.parametrize("k", [0, -1, -60])
    def test_k_below_one_raises(self, k):
        with pytest.raises(ValueError, match="k must be >= 1"):
            reciprocal_rank_fusion(self.RANKINGS, k=k)

    def test_k_below_one_raises_even_for_empty_input(self):
        with pytest.raises(ValueError):
            reciprocal_rank_fusion({}, k=0)


class TestWeightedScoreFusion:
    def test_hand_computed_example(self):
        scores = {"dense": {"a": 0.8, "b": 0.6}, "bm25": {"b": 10.0, "c": 5.0}}
        fused = weighted_score_fusion(scores, {"dense": 1.0, "bm25": 0.5})
        # bm25 / max: b=1.0, c=0.5; dense floor = 0.6 (lowest returned); bm25 floor = 0
        expected = {"a": 0.8 + 0.5 * 0.0, "b": 0.6 + 0.5 * 1.0, "c": 0.6 + 0.5 * 0.5}
        assert _scores(fused) == pytest.approx(expected)
        assert _ids(fused) == ["b", "c", "a"]

    def test_three_signals_hand_computed(self):
        scores = {
            "bm25": {"a": 4.0, "b": 2.0},
            "dense": {"a": 0.5, "c": 0.7},
            "multilingual": {"b": 0.4, "c": 0.2},
        }
        weights = {"bm25": 0.2, "dense": 1.0, "multilingual": 1.0}
        fused = weighted_score_fusion(scores, weights)
        expected = {
            "a": 0.2 * 1.0 + 0.5 + 0.2,  # multilingual floor 0.2
            "b": 0.2 * 0.5 + 0.5 + 0.4,  # dense floor 0.5
            "c": 0.2 * 0.0 + 0.7 + 0.2,
        }
        assert _scores(fused) == pytest.approx(expected)
        assert _ids(fused) == ["b", "a", "c"]

    def test_bm25_is_normalised_by_its_max(self):
        fused = weighted_score_fusion({"bm25": {"a": 8.0, "b": 2.0, "c": 6.0}}, {"bm25": 1.0})
        assert fused == [
            ("a", pytest.approx(1.0)),
            ("c", pytest.approx(0.75)),
            ("b", pytest.approx(0.25)),
        ]

    def test_normalisation_makes_bm25_scale_irrelevant(self):
        small = weighted_score_fusion(
            {"bm25": {"a": 1.0, "b": 0.5}, "dense": {"a": 0.3, "b": 0.6}}, {}
        )
        large = weighted_score_fusion(
            {"bm25": {"a": 100.0, "b": 50.0}, "dense": {"a": 0.3, "b": 0.6}}, {}
        )
        assert _scores(small) == pytest.approx(_scores(large))

    def test_dense_scores_are_used_as_they_are(self):
        fused = weighted_score_fusion({"dense": {"a": 0.3, "b": 0.1}}, {"dense": 2.0})
        assert _scores(fused) == pytest.approx({"a": 0.6, "b": 0.2})

    def test_normalise_parameter_selects_signals(self):
        scores = {"bm25": {"a": 4.0, "b": 2.0}, "dense": {"a": 0.5, "b": 0.25}}
        raw = weighted_score_fusion(scores, {}, normalise=())
        assert _scores(raw) == pytest.approx({"a": 4.5, "b": 2.25})
        both = weighted_score_fusion(scores, {}, normalise=("bm25", "dense"))
        assert _scores(both) == pytest.approx({"a": 2.0, "b": 1.0})

    def test_missing_doc_gets_min_score_of_dense_signal(self):
        scores = {"dense": {"a": 0.9, "b": 0.4}, "multilingual": {"c": 0.5, "a": 0.7}}
        fused = _scores(weighted_score_fusion(scores, {}))
        assert fused["b"] == pytest.approx(0.4 + 0.5)  # multilingual floor = its min, 0.5
        assert fused["c"] == pytest.approx(0.4 + 0.5)  # dense floor = 0.4
        assert fused["a"] == pytest.approx(0.9 + 0.7)

    def test_negative_cosine_floor(self):
        fused = _scores(weighted_score_fusion({"dense": {"a": 0.2, "b": -0.1}, "x": {"c": 1}}, {}))
        assert fused["c"] == pytest.approx(-0.1 + 1)

    def test_missing_doc_gets_zero_for_normalised_signal(self):
        scores = {"bm25": {"a": 3.0, "b": 1.5}, "dense": {"c": 0.5, "a": 0.1}}
        fused = _scores(weighted_score_fusion(scores, {"bm25": 1.0, "dense": 1.0}))
        assert fused["c"] == pytest.approx(0.0 + 0.5)
        assert fused["b"] == pytest.approx(0.5 + 0.1)

    def test_missing_weight_defaults_to_one(self):
        scores = {"bm25": {"a": 2.0}, "dense": {"a": 0.5}}
        assert weighted_score_fusion(scores, {}) == weighted_score_fusion(
            scores, {"bm25": 1.0, "dense": 1.0}
        )

    def test_zero_weight_signal_contributes_nothing(self):
        scores = {"bm25": {"a": 2.0, "b": 1.0}, "dense": {"a": 0.1, "b": 0.9}}
        fused = weighted_score_fusion(scores, {"bm25": 0.0, "dense": 1.0})
        assert _scores(fused) == pytest.approx({"a": 0.1, "b": 0.9})

    def test_all_zero_bm25_does_not_divide_by_zero(self):
        fused = weighted_score_fusion({"bm25": {"a": 0.0, "b": 0.0}}, {})
        assert _scores(fused) == {"a": 0.0, "b": 0.0}

    def test_empty_signals(self):
        assert weighted_score_fusion({}, {}) == []
        assert weighted_score_fusion({"bm25": {}, "dense": {}}, {"bm25": 1.0}) == []

    def test_empty_signal_adds_no_floor(self):
        # BM25 found nothing (no query term in the vocabulary): dense alone decides.
        fused = weighted_score_fusion({"bm25": {}, "dense": {"a": 0.3, "b": 0.2}}, {"bm25": 1})
        assert _scores(fused) == pytest.approx({"a": 0.3, "b": 0.2})

    def test_ties_broken_by_id_deterministically(self):
        one = weighted_score_fusion({"dense": {"b": 0.5, "a": 0.5, "c": 0.5}}, {})
        two = weighted_score_fusion({"dense": {"c": 0.5, "a": 0.5, "b": 0.5}}, {})
        assert one == two == [("a", 0.5), ("b", 0.5), ("c", 0.5)]

    def test_ties_across_signals_broken_by_id(self):
        scores = {"bm25": {"y": 2.0, "x": 1.0}, "dense": {"x": 0.75, "y": 0.25}}
        # y: 1.0 + 0.25 = 1.25; x: 0.5 + 0.75 = 1.25
        fused = weighted_score_fusion(scores, {})
        assert _ids(fused) == ["x", "y"]
        assert fused[0][1] == pytest.approx(fused[1][1])
