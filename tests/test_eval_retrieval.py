"""Retrieval datasets, the evaluation runner and the naive LangChain baseline."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from eval.datasets import (
    DatasetError,
    GoldPage,
    check_gold_in_corpus,
    load_answer_dataset,
    load_queries,
    load_retrieval_dataset,
)
from eval.retrieval import (
    VariantUnavailable,
    assistant_retriever,
    run_retrieval_eval,
)
from s3assist.settings import Settings, get_settings
from tests.conftest import CORPUS, REPO, SMALL_PDFS

DATASETS = REPO / "eval" / "datasets"
RETRIEVAL_DEV = DATASETS / "retrieval_dev.jsonl"
LT = "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"
BENCH = "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"


def _record(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": "t1",
        "query": "Which ministries implement the RDI priority action plans?",
        "lang": "en",
        "kind": "question",
        "paraphrased": False,
        "gold": [{"file": LT, "page": 18}],
        "note": "",
    }
    rec.update(over)
    return rec


def _write(path: Path, records: Sequence[dict[str, Any] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the real dev set ------------------------------------------------------------------------
class TestRetrievalDevSet:
    @pytest.fixture(scope="class")
    def queries(self):  # type: ignore[no-untyped-def]
        return load_retrieval_dataset(RETRIEVAL_DEV, corpus_root=CORPUS)

    def test_size_and_mix(self, queries) -> None:  # type: ignore[no-untyped-def]
        assert len(queries) >= 60
        assert sum(q.lang != "en" for q in queries) >= 12
        assert sum(q.paraphrased for q in queries) * 3 >= len(queries)
        assert len({q.id for q in queries}) == len(queries)
        assert {q.kind for q in queries} <= {"question", "phrase"}

    def test_every_gold_page_exists(self, queries) -> None:  # type: ignore[no-untyped-def]
        # checked here independently of the loader: the file, and the page by pypdf's count
        page_counts: dict[str, int] = {}
        for q in queries:
            assert q.gold, q.id
            for g in q.gold:
                path = CORPUS / g.file
                assert path.is_file(), (q.id, g.file)
                if g.file not in page_counts:
                    page_counts[g.file] = len(PdfReader(path).pages) if path.suffix == ".pdf" else 1
                assert 1 <= g.page <= page_counts[g.file], (q.id, g.page_id)

    def test_matches_its_readme_counts(self, queries) -> None:  # type: ignore[no-untyped-def]
        assert len(queries) == 111
        assert Counter(q.kind for q in queries) == {"question": 74, "phrase": 37}
        assert sum(q.paraphrased for q in queries) == 40
        assert Counter(len(q.gold) for q in queries) == {1: 83, 2: 22, 3: 6}

    def test_answer_dev_set_loads(self) -> None:
        records = load_answer_dataset(DATASETS / "answers_dev.jsonl", corpus_root=CORPUS)
        assert len(records) == 101
        assert sum(not r.answerable for r in records) == 15
        assert all(r.gold for r in records if r.answerable)

    def test_answer_dev_set_as_retrieval_queries(self) -> None:
        queries = load_queries(DATASETS / "answers_dev.jsonl", corpus_root=CORPUS)
        assert len(queries) == 86  # the answerable records; the 15 unanswerable have no gold
        assert all(q.gold and q.kind == "question" and q.paraphrased is None for q in queries)
        assert sum(q.lang != "en" for q in queries) == 12
        assert load_queries(RETRIEVAL_DEV)[0].paraphrased is not None


# --- validation ------------------------------------------------------------------------------
class TestLoaderValidation:
    def test_reads_a_good_record(self, tmp_path: Path) -> None:
        (q,) = load_retrieval_dataset(_write(tmp_path / "d.jsonl", [_record()]))
        assert q.gold == (GoldPage(LT, 18),)
        assert q.gold_ids == [f"{LT}#18"]

    @pytest.mark.parametrize(
        ("record", "message"),
        [
            (_record(gold=[]), "'gold' is empty"),
            (_record(gold=[{"file": LT, "page": 0}]), "page must be >= 1"),
            (_record(gold=[{"file": LT, "page": "3"}]), "wrong type"),
            (_record(gold=[{"file": LT, "page": True}]), "field 'page' must be"),
            (_record(gold=[{"file": "/abs/x.pdf", "page": 1}]), "relative"),
            (_record(gold=[{"file": LT, "page": 2}, {"file": LT, "page": 2}]), "duplicate gold"),
            (_record(kind="sentence"), "kind must be one of"),
            (_record(paraphrased="yes"), "wrong type"),
            (_record(query="  "), "empty query"),
            ({k: v for k, v in _record().items() if k != "lang"}, "missing field 'lang'"),
            ({k: v for k, v in _record().items() if k != "gold"}, "'gold' must be a list"),
        ],
    )
    def test_rejects_bad_records(self, tmp_path: Path, record: dict[str, Any], message: str):
        with pytest.raises(DatasetError, match=message) as err:
            load_retrieval_dataset(_write(tmp_path / "d.jsonl", [record]))
        assert "line 1" in str(err.value)

    def test_rejects_bad_json_and_duplicate_ids_with_line_numbers(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "d.jsonl", [_record(), "{not json", _record()])
        with pytest.raises(DatasetError) as err:
            load_retrieval_dataset(path)
        assert any(p.startswith("line 2: not JSON") for p in err.value.problems)
        assert any("line 3: duplicate id 't1' (first on line 1)" in p for p in err.value.problems)

    def test_empty_file(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetError, match="no records"):
            load_retrieval_dataset(_write(tmp_path / "d.jsonl", [""]))

    def test_gold_checked_against_corpus(self, small_corpus: Path, tmp_path: Path) -> None:
        records = [
            _record(id="ok", gold=[{"file": LT, "page": 23}]),
            _record(id="far", gold=[{"file": LT, "page": 24}]),
            _record(id="gone", gold=[{"file": "strategies/missing.pdf", "page": 1}]),
            _record(
                id="txt",
                gold=[
                    {
                        "file": "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
                        "page": 2,
                    }
                ],
            ),
        ]
        path = _write(tmp_path / "d.jsonl", records)
        load_retrieval_dataset(path)  # fine without a corpus to check against
        with pytest.raises(DatasetError) as err:
            load_retrieval_dataset(path, corpus_root=small_corpus)
        problems = err.value.problems
        assert len(problems) == 3, problems
        assert any(p.startswith("far:") and "beyond the file's 23 page(s)" in p for p in problems)
        assert any(p.startswith("gone:") and "not found" in p for p in problems)
        assert any(p.startswith("txt:") and "1 page(s)" in p for p in problems)

    def test_check_gold_in_corpus_directly(self, small_corpus: Path) -> None:
        assert check_gold_in_corpus([("q", (GoldPage(BENCH, 8),))], small_corpus) == []
        assert check_gold_in_corpus([("q", (GoldPage(BENCH, 9),))], small_corpus)


# --- the runner, with stand-in retrievers ----------------------------------------------------
class _Canned:
    """A retriever answering from a dict: query -> (file, page) chunk list."""

    def __init__(self, answers: dict[str, list[tuple[str, int]]], as_hits: bool):
        self.answers = answers
        self.as_hits = as_hits

    def search(self, query: str, k: int) -> list[Any]:
        from vectorstore.store import Hit

        pairs = self.answers.get(query, [])[:k]
        if not self.as_hits:
            return pairs
        return [Hit(f"{f}:{p}", f, p, "text", 1.0, {}) for f, p in pairs]


def _small_dataset(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "d.jsonl",
        [
            _record(id="q1", query="one", gold=[{"file": LT, "page": 18}]),
            _record(
                id="q2",
                query="deux",
                lang="fr",
                paraphrased=True,
                gold=[{"file": BENCH, "page": 5}, {"file": BENCH, "page": 7}],
            ),
            _record(id="q3", query="three", kind="phrase", gold=[{"file": BENCH, "page": 2}]),
        ],
    )


class TestRunner:
    def test_scores_writes_and_skips(
        self, settings: Settings, small_corpus: Path, tmp_path: Path
    ) -> None:
        dense = _Canned(
            {
                "one": [(LT, 3), (LT, 3), (LT, 18)],  # gold second after collapsing
                "deux": [(BENCH, 7), (BENCH, 1)],  # one of two gold pages, first
                "three": [],  # nothing retrieved
            },
            as_hits=True,
        )
        bm25 = _Canned(
            {q: [(LT, 18), (BENCH, 5), (BENCH, 2)] for q in ("one", "deux", "three")}, False
        )

        def factory(s: Settings, variant: str) -> Any:
            if variant == "hybrid":
                raise NotImplementedError("not yet")
            if variant == "multilingual":
                raise ValueError("the multilingual index is off")
            return {"dense": dense, "bm25": bm25}[variant]

        out = tmp_path / "run"
        result = run_retrieval_eval(
            settings,
            _small_dataset(tmp_path),
            ["dense", "bm25", "hybrid", "multilingual"],
            out,
            small_corpus,
            quiet=True,
            retriever_factory=factory,
            ingest=False,
        )
        assert set(result.skipped) == {"hybrid", "multilingual"}
        assert "NotImplementedError: not yet" in result.skipped["hybrid"]

        summary = json.loads((out / "summary.json").read_text())
        assert summary["settings_hash"] == settings.settings_hash()
        assert summary["queries"] == 3
        d = summary["variants"]["dense"]["subsets"]
        assert d["all"]["n"] == 3
        assert d["all"]["metrics"]["hit@1"] == pytest.approx(1 / 3, abs=1e-4)  # q2 only
        assert d["all"]["metrics"]["mrr"] == pytest.approx((0.5 + 1.0 + 0.0) / 3, abs=1e-4)
        assert d["all"]["metrics"]["recall@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
        assert d["non_en"]["n"] == 1 and d["non_en"]["metrics"]["hit@1"] == 1.0
        assert d["paraphrased"]["n"] == 1 and d["literal"]["n"] == 2
        assert d["kind=phrase"]["n"] == 1 and d["kind=phrase"]["metrics"]["hit@10"] == 0.0
        assert d["all"]["latency_ms"]["p95"] >= d["all"]["latency_ms"]["p50"] >= 0.0
        b = summary["variants"]["bm25"]["subsets"]["all"]["metrics"]
        assert b["hit@10"] == 1.0
        assert b["mrr"] == pytest.approx((1 + 0.5 + 1 / 3) / 3, abs=1e-4)

        rows = [json.loads(x) for x in (out / "per_query.jsonl").read_text().splitlines()]
        assert len(rows) == 6  # 2 variants that ran x 3 queries
        q1 = next(r for r in rows if r["variant"] == "dense" and r["id"] == "q1")
        assert q1["pages"] == [f"{LT}#3", f"{LT}#18"]
        assert q1["gold"] == [f"{LT}#18"]
        assert q1["hit_rank"] == 2
        q3 = next(r for r in rows if r["variant"] == "dense" and r["id"] == "q3")
        assert q3["pages"] == [] and q3["hit_rank"] is None

        md = (out / "retrieval.md").read_text()
        assert md == result.markdown
        assert (
            "| variant | hit@1 | hit@5 | hit@10 | recall@10 | MRR | nDCG@10 | p50 ms | p95 ms |"
            in md
        )
        assert "## Non-English (n=1)" in md and "## Paraphrased (n=1)" in md
        assert settings.settings_hash() in md
        assert "- hybrid: NotImplementedError: not yet" in md

    def test_answer_set_as_dataset(
        self, settings: Settings, small_corpus: Path, tmp_path: Path
    ) -> None:
        def answer(id_: str, question: str, gold: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "id": id_,
                "question": question,
                "lang": "en",
                "answerable": bool(gold),
                "reference_answer": "an answer" if gold else "",
                "key_facts": ["fact"] if gold else [],
                "gold": gold,
                "topic": "other",
            }

        dataset = _write(
            tmp_path / "answers.jsonl",
            [
                answer("a1", "one", [{"file": LT, "page": 18}]),
                answer("a2", "not in the corpus", []),
            ],
        )
        canned = _Canned({"one": [(LT, 3), (LT, 18)]}, as_hits=False)
        out = tmp_path / "run"
        result = run_retrieval_eval(
            settings,
            dataset,
            ["bm25"],
            out,
            small_corpus,
            quiet=True,
            retriever_factory=lambda s, v: canned,
            ingest=False,
        )
        assert result.summary["queries"] == 1  # the unanswerable record is not scored
        subsets = result.summary["variants"]["bm25"]["subsets"]
        assert "paraphrased" not in subsets and "literal" not in subsets
        assert subsets["all"]["metrics"]["mrr"] == pytest.approx(0.5)
        assert "## Paraphrased" not in result.markdown

    def test_unknown_variant_refused_before_any_work(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        with pytest.raises(ValueError, match="unknown variant"):
            run_retrieval_eval(settings, RETRIEVAL_DEV, ["bm25", "bogus"], tmp_path, CORPUS)
        assert not settings.data_dir.exists()

    def test_missing_assistant_module_is_unavailable(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "assistant.retriever", None)
        with pytest.raises(VariantUnavailable, match="does not exist"):
            assistant_retriever(settings, "hybrid")


@pytest.mark.slow
def test_runner_and_cli_on_small_corpus(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Any
) -> None:
    """Real ingest + real MiniLM through ``s3assist eval retrieval`` ("store" = plain dense)."""
    from s3assist.cli import app

    dataset = _write(
        tmp_path / "d.jsonl",
        [
            _record(
                id="q1",
                query="Düsseldorf share of human resources in science and technology compared "
                "with the group average, minimum and maximum",
                gold=[{"file": BENCH, "page": 5}],
            ),
            _record(
                id="q2",
                query="Which ministries are responsible for implementing the RDI priority "
                "action plans?",
                gold=[{"file": LT, "page": 18}],
            ),
        ],
    )
    monkeypatch.setenv("S3ASSIST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        out = tmp_path / "run"
        res = CliRunner().invoke(
            app,
            [
                "eval",
                "retrieval",
                "--dataset",
                str(dataset),
                "--corpus",
                str(small_corpus),
                "--out",
                str(out),
                "--variants",
                "store",
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        assert summary["index"]["documents"]["added"] == 4
        metrics = summary["variants"]["store"]["subsets"]["all"]["metrics"]
        assert metrics["hit@10"] == 1.0, summary
        assert (out / "retrieval.md").is_file() and (out / "per_query.jsonl").is_file()

        res = CliRunner().invoke(
            app,
            [
                "eval",
                "retrieval",
                *("--dataset", str(dataset), "--corpus", str(small_corpus)),
                *("--out", str(out), "--variants", "store", "--quiet"),
            ],
        )
        assert res.exit_code == 0, res.output
        assert res.stdout.startswith("# Retrieval evaluation")
        again = json.loads((out / "summary.json").read_text())
        assert again["index"]["chunks_embedded"] == 0  # the index is reused, not rebuilt
    finally:
        get_settings.cache_clear()


# --- the naive baseline ----------------------------------------------------------------------
@pytest.mark.slow
def test_naive_baseline_on_two_files(tmp_path: Path) -> None:
    from eval.metrics import first_hit_rank, rank_pages
    from eval.naive import NaiveRetriever

    root = tmp_path / "corpus"
    for pdf in SMALL_PDFS:
        (root / pdf.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(pdf, root / pdf.parent.name / pdf.name)
    queries = {
        # hand-written from the page text
        "Kernel diagram showing the distribution of human resources in science and technology "
        "shares across the regions": f"{BENCH}#7",
        "minimum, maximum and average share of the group of regions in 2012 compared with "
        "Düsseldorf": f"{BENCH}#5",
        "Which ministries are responsible for implementing the measures of the RDI priority "
        "action plans?": f"{LT}#18",
    }
    cache = tmp_path / "cache"
    naive = NaiveRetriever(root, cache)
    assert naive.built and naive.chunks > 20 and naive.skipped == []
    ranks = {}
    for query, gold in queries.items():
        chunks = naive.search(query, k=20)
        assert 0 < len(chunks) <= 20
        for file, page in chunks:
            assert file in (LT, BENCH)
            assert 1 <= page <= (23 if file == LT else 8)  # 1-based physical pages
        ranks[gold] = first_hit_rank(rank_pages(chunks), [gold])
    hits_at_10 = sum(r is not None and r <= 10 for r in ranks.values())
    assert hits_at_10 >= 2, ranks

    again = NaiveRetriever(root, cache)  # the cached Chroma folder is reused
    assert not again.built and again.chunks == naive.chunks
    query = next(iter(queries))
    assert again.search(query, k=10) == naive.search(query, k=10)
