"""Classification metrics (hand-computed), the labelled datasets, and the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import classification as ec
from observatory.taxonomy import taxonomy
from tests.conftest import CORPUS

GOLD = [{"A", "B"}, {"C"}, set(), {"A"}]
PRED = [{"A"}, {"C", "D"}, set(), set()]


def test_micro_prf_by_hand() -> None:
    # tp: A, C = 2; fp: D = 1; fn: B, A = 2
    prf = ec.micro_prf(GOLD, PRED)
    assert prf.precision == pytest.approx(2 / 3)
    assert prf.recall == pytest.approx(2 / 4)
    assert prf.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_macro_prf_by_hand() -> None:
    # A: tp1 fn1 fp0 -> P1 R.5 F.667; B: fn1 -> 0,0,0; C: 1,1,1; D: fp1 -> 0,0,0
    prf = ec.macro_prf(GOLD, PRED)
    assert prf.precision == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert prf.recall == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert prf.f1 == pytest.approx((2 / 3 + 0 + 1 + 0) / 4)


def test_exact_match_counts_empty_equals_empty() -> None:
    assert ec.exact_match(GOLD, PRED) == pytest.approx(1 / 4)
    assert ec.exact_match([set()], [set()]) == 1.0
    assert ec.exact_match([], []) == 0.0


def test_edge_cases_empty_gold_and_empty_prediction() -> None:
    assert ec.micro_prf([set()], [set()]) == ec.PRF(0.0, 0.0, 0.0)
    assert ec.micro_prf([set()], [{"A"}]).precision == 0.0  # all false positives
    assert ec.micro_prf([{"A"}], [set()]).recall == 0.0
    assert ec.macro_prf([set()], [set()]) == ec.PRF(0.0, 0.0, 0.0)
    assert ec.recall_at_k(set(), ["A"], 1) is None
    assert ec.precision_at_k(set(), ["A"], 1) is None
    assert ec.mean([None, None]) == 0.0


def test_ranking_at_k_by_hand() -> None:
    ranked = ["28", "25", "42", "33"]
    assert ec.recall_at_k({"28", "33"}, ranked, 1) == 0.5
    assert ec.recall_at_k({"28", "33"}, ranked, 3) == 0.5
    assert ec.recall_at_k({"28", "33"}, ranked, 10) == 1.0
    assert ec.precision_at_k({"28", "33"}, ranked, 3) == pytest.approx(1 / 3)
    assert ec.precision_at_k({"28"}, ranked[:1], 5) == pytest.approx(1 / 5)  # divides by k
    metrics = ec.ranking_metrics([{"28"}, set()], [ranked, ranked])
    assert metrics["recall@1"] == 1.0  # the empty-gold item is left out of the mean


def test_field_metrics_row_keys() -> None:
    row = ec.field_metrics(GOLD, PRED)
    assert set(row) == {
        "precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1",
        "exact_match",
    }  # fmt: skip


class TestLabelledSet:
    @pytest.fixture(scope="class")
    def items(self):
        return ec.load_labelled()

    def test_size_and_codes(self, items) -> None:
        assert len(items) >= 30
        assert len({i.id for i in items}) == len(items)
        for item in items:
            for field in ec.GOLD_FIELDS:
                assert item.gold[field], (item.id, field)
                assert item.gold[field] <= set(taxonomy(field).codes()), (item.id, field)

    def test_pages_exist_and_state_the_priority(self, items) -> None:
        from pypdf import PdfReader

        readers: dict[str, PdfReader] = {}
        for item in items:
            path = CORPUS / item.meta["doc"]
            reader = readers.setdefault(item.meta["doc"], PdfReader(path))
            page = reader.pages[item.meta["page"] - 1].extract_text() or ""
            flat = " ".join(page.split()).casefold()
            first_word = item.meta["title"].split()[0].strip("()").casefold()
            assert first_word in flat, (item.id, first_word)

    def test_every_strategy_region_is_covered(self, items) -> None:
        docs = {i.meta["doc"] for i in items}
        assert len(docs) >= 5


def test_czech_set_loads_the_54_domains_with_nace() -> None:
    items = ec.load_czech(CORPUS / "data" / "cz_nris3_regional_domains_fulltext.json")
    assert len(items) == 54
    assert all(i.language == "cs" and i.gold["nace_divisions"] for i in items)
    assert any("34" in i.meta["not_in_nace_rev2"] for i in items)  # a NACE Rev. 1 code, dropped


def test_labelled_loader_rejects_inconsistent_sections(tmp_path: Path) -> None:
    row = json.loads(ec.LABELLED.read_text(encoding="utf-8").splitlines()[0])
    row["nace_sections"] = ["Z"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="nace_sections"):
        ec.load_labelled(bad)


@pytest.mark.slow
def test_runner_writes_a_run_folder(settings, tmp_path: Path) -> None:
    lines = ec.LABELLED.read_text(encoding="utf-8").splitlines()
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    result = ec.run_classification_eval(settings, out, small, czech=None)
    assert {p.name for p in out.iterdir()} == {
        "summary.json",
        "per_item.jsonl",
        "classification.md",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "classification"
    assert set(summary["systems"]) == {"en_cv", "en_in_sample"}
    for field in ec.GOLD_FIELDS:
        assert 0.0 <= summary["systems"]["en_cv"][field]["f1"] <= 1.0
    rows = [json.loads(x) for x in (out / "per_item.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(r["system"] == "en_cv" for r in rows)
    assert "| nace_divisions |" in result.markdown
