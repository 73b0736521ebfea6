"""BM25 over chunks: hand-made chunks first, then kept in step with Chroma by the real Ingestor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.retriever import build_retriever
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE, SMALL_PDFS
from vectorstore.bm25 import BM25Index, bm25_dir, tokenize
from vectorstore.filters import FilterError

CHUNKS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "lt",
        "Lithuania's RIS3 implementation programme sets priorities for smart specialisation "
        "in the regions.",
        {
            "file": "strategies/LT.pdf",
            "doc_type": "strategy",
            "country": "LT",
            "language": "en",
            "year": 2016,
            "page": 1,
            "nace_sections": ["C", "J"],
        },
    ),
    (
        "edp",
        "The entrepreneurial discovery process (EDP) brings stakeholders of the regions "
        "together in focus groups.",
        {
            "file": "guidance/EDP.pdf",
            "doc_type": "guidance",
            "language": "en",
            "year": 2017,
            "page": 3,
            "ecosystems": ["tourism", "digital", "health"],
        },
    ),
    (
        "fi",
        "Regions specialised in forestry and the bioeconomy cooperate across borders.",
        {
            "file": "strategies/FI.pdf",
            "doc_type": "strategy",
            "country": "FI",
            "language": "en",
            "year": 2014,
            "page": 2,
            "nace_sections": ["A"],
        },
    ),
    (
        "bench",
        "Benchmarking compares human resources in science and technology (HRST) between regions.",
        {
            "file": "guidance/Bench.pdf",
            "doc_type": "guidance",
            "country": "DE",
            "language": "en",
            "year": 2017,
            "page": 5,
        },
    ),
    (
        "es",
        "Las regiones definen su estrategia de especialización inteligente.",
        {
            "file": "strategies/ES.pdf",
            "doc_type": "strategy",
            "country": "ES",
            "language": "es",
            "year": 2015,
            "page": 1,
        },
    ),
]
ALL_IDS = [c[0] for c in CHUNKS]


def _build(
    folder: Path, chunks: list[tuple[str, str, dict[str, Any]]] = CHUNKS, generation: int = 7
) -> BM25Index:
    index = BM25Index(folder)
    index.build(
        [c[0] for c in chunks], [c[1] for c in chunks], [dict(c[2]) for c in chunks], generation
    )
    return index


def _ids(results: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in results]


@pytest.fixture
def index(tmp_path: Path) -> BM25Index:
    return _build(tmp_path / "bm25" / "s3_chunks")


class TestTokenize:
    def test_lowercases_stems_and_drops_stopwords(self):
        assert tokenize(["The RIS3 and the EDP"]) == [["ris3", "edp"]]

    def test_british_spellings_share_a_stem(self):
        [[a, b]] = tokenize(["specialisation specialised"])
        assert a == b


class TestBM25Index:
    def test_build_sets_ids_and_generation(self, index):
        assert index.ids == ALL_IDS
        assert index.generation == 7

    def test_round_trip_through_disk(self, index, tmp_path):
        fresh = BM25Index(index.folder)
        assert fresh.load() is True
        assert fresh.ids == index.ids
        assert fresh.generation == 7
        assert set(fresh.columns) == set(index.columns)
        for field, column in index.columns.items():
            assert list(fresh.columns[field]) == list(column), field
        for query in ("RIS3", "regions", "specialised bioeconomy", "EDP focus"):
            assert fresh.search(query, 10) == index.search(query, 10)
        assert _ids(fresh.search("regions", 10, {"country": "FI"})) == ["fi"]
        assert _ids(fresh.search("regions", 10, {"nace_sections": "C"})) == ["lt"]

    def test_save_is_atomic_and_leaves_no_temp_folders(self, index):
        _build(index.folder, CHUNKS[:2], generation=8)
        siblings = sorted(p.name for p in index.folder.parent.iterdir())
        assert siblings == [index.folder.name]
        fresh = BM25Index(index.folder)
        assert fresh.load() and fresh.ids == ["lt", "edp"] and fresh.generation == 8
        saved = json.loads((index.folder / "chunks.json").read_text(encoding="utf-8"))
        assert saved["ids"] == ["lt", "edp"]

    def test_chunk_table_gives_text_and_metadata(self, index):
        got = index.chunks(["edp", "nope", "lt"])
        assert got is not None and set(got) == {"edp", "lt"}  # unknown ids are skipped
        assert got["lt"] == (CHUNKS[0][1], CHUNKS[0][2])  # lists and numbers round-trip
        fresh = BM25Index(index.folder)
        assert fresh.load() and fresh.chunks(["lt"]) == {"lt": got["lt"]}

    def test_chunk_table_follows_a_rebuild_of_an_open_index(self, index):
        assert index.chunks(["fi"])  # opened
        _build(index.folder, CHUNKS[:2], generation=8)
        assert index.load() and index.generation == 8
        assert index.chunks(["fi", "lt"]) == {"lt": (CHUNKS[0][1], CHUNKS[0][2])}

    def test_index_saved_without_chunk_table_says_so(self, index):
        (index.folder / "chunks.sqlite").unlink()
        old = BM25Index(index.folder)
        assert old.load() and old.chunks(["lt"]) is None  # callers fall back to Chroma

    def test_load_without_saved_index(self, tmp_path):
        index = BM25Index(tmp_path / "nothing")
        assert index.load() is False
        assert index.generation == -1
        assert index.search("RIS3", 10) == []

    @pytest.mark.parametrize(
        ("query", "expected"),
        [("RIS3", "lt"), ("ris3", "lt"), ("EDP", "edp"), ("edp", "edp"), ("HRST", "bench")],
    )
    def test_acronym_finds_the_right_chunk(self, index, query, expected):
        assert _ids(index.search(query, 10)) == [expected]

    def test_stemming_matches_across_word_forms(self, index):
        assert set(_ids(index.search("specialised", 10))) == {"lt", "fi"}
        assert set(_ids(index.search("specialisation", 10))) == {"lt", "fi"}

    def test_scores_positive_best_first_and_k_respected(self, index):
        results = index.search("regions specialisation RIS3", 10)
        scores = [s for _, s in results]
        assert results and all(s > 0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert _ids(results)[0] == "lt"  # three query terms
        assert len(index.search("regions", 2)) == 2
        assert len(index.search("regions", 100)) == 5  # k larger than the index

    def test_only_chunks_sharing_a_term_are_returned(self, index):
        assert set(_ids(index.search("forestry benchmarking", 10))) == {"fi", "bench"}

    def test_no_known_query_terms(self, index):
        assert index.search("xylophone quokka", 10) == []
        assert index.search("the of and", 10) == []  # stopwords only
        assert index.search("", 10) == []

    def test_empty_index(self, tmp_path):
        index = BM25Index(tmp_path / "bm25" / "empty")
        index.build([], [], [], generation=1)
        assert index.search("RIS3", 10) == []
        fresh = BM25Index(index.folder)
        assert fresh.load() is True
        assert fresh.ids == [] and fresh.generation == 1
        assert fresh.search("RIS3", 10) == []

    # -- filters -------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"country": "FI"}, {"fi"}),
            ({"country": "fi"}, {"fi"}),  # coerced like the Chroma filter
            ({"country": "FI,LT"}, {"fi", "lt"}),
            ({"country": ["DE", "ES"]}, {"bench", "es"}),
            ({"doc_type": "Guidance"}, {"edp", "bench"}),
            ({"language": "es"}, {"es"}),
            ({"year": 2017}, {"edp", "bench"}),
            ({"year": "2014,2016"}, {"fi", "lt"}),
            ({"page": "1"}, {"lt", "es"}),
            ({"file": "guidance/EDP.pdf"}, {"edp"}),
            ({"doc_type": "strategy", "year": 2016}, {"lt"}),
            ({"doc_type": "guidance", "country": "LT"}, set()),
            ({"country": None, "year": "", "doc_type": []}, set(ALL_IDS)),  # empty = no filter
        ],
    )
    def test_metadata_filters(self, index, filters, expected):
        assert set(_ids(index.search("regions", 10, filters))) == expected

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"nace_sections": "C"}, {"lt"}),
            ({"nace_sections": "c"}, {"lt"}),  # upper-cased like the Chroma filter
            ({"nace_sections": ["A", "K"]}, {"fi"}),
            ({"nace_sections": "A,J"}, {"fi", "lt"}),
            ({"ecosystems": "tourism"}, {"edp"}),
            ({"ecosystems": "space"}, set()),
            ({"nace_sections": "C", "country": "FI"}, set()),
        ],
    )
    def test_list_field_filters(self, index, filters, expected):
        assert set(_ids(index.search("regions", 10, filters))) == expected

    def test_filter_is_a_mask_not_a_post_filter(self, index):
        # k=1 with a filter still finds the one matching chunk, wherever it ranks unfiltered.
        unfiltered = _ids(index.search("regions", 10))
        assert unfiltered[0] != "es"
        assert _ids(index.search("regions", 1, {"country": "ES"})) == ["es"]

    def test_unknown_field_matches_nothing(self, index):
        assert index.search("regions", 10, {"colour": "red"}) == []
        # a known field no chunk has (so no column was stored) matches nothing either
        assert "nabs_chapters" not in index.columns
        assert index.search("regions", 10, {"nabs_chapters": "13"}) == []

    def test_bad_number_raises(self, index):
        with pytest.raises(FilterError):
            index.search("regions", 10, {"year": "last year"})

    def test_mask_values(self, index):
        assert index.mask({}) is None
        assert index.mask({"country": ""}) is None
        mask = index.mask({"country": "LT,DE"})
        assert mask is not None and mask.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]

    def test_list_filter_with_equal_length_lists(self, tmp_path):
        chunks = [
            ("a", "regions with textiles", {"nace_sections": ["C", "J"]}),
            ("b", "regions with farming", {"nace_sections": ["A", "B"]}),
        ]
        index = _build(tmp_path / "bm25" / "eq", chunks)
        assert _ids(index.search("regions", 10, {"nace_sections": "C"})) == ["a"]

    def test_list_filter_with_all_empty_lists(self, tmp_path):
        chunks: list[tuple[str, str, dict[str, Any]]] = [
            ("a", "regions with textiles", {"s3_topics": []}),
            ("b", "regions with farming", {"s3_topics": []}),
        ]
        index = _build(tmp_path / "bm25" / "empty-lists", chunks)
        assert index.search("regions", 10, {"s3_topics": "digital"}) == []


# -- kept in step with Chroma by the real ingest pipeline -----------------------------------

MD_NAME = "S3CoP_Clusters_Interregional_Cooperation_slides.md"
MD_ID = f"guidance/{MD_NAME}"
BENCH_ID = "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"
OLD_MD_TERM = "Borbon"  # the speaker's name on the original slides, nowhere else
NEW_MD_TERM = "robotics"  # only in the replacement text
BENCH_TERMS = ("Düsseldorf", "kernel", "HRST")  # only in the benchmarking case study
TERMS = (OLD_MD_TERM, NEW_MD_TERM, *BENCH_TERMS, "specialisation")


def copy_small_corpus(root: Path) -> Path:
    """The conftest ``small_corpus``, for module-scoped fixtures."""
    (root / "strategies").mkdir(parents=True)
    (root / "guidance").mkdir()
    for pdf in SMALL_PDFS:
        shutil.copy(pdf, root / pdf.parent.name / pdf.name)
    for name in ("OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt", MD_NAME):
        shutil.copy(GUIDANCE / name, root / "guidance" / name)
    for p in root.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return root


def _snapshot(ing: Ingestor, settings: Settings, retriever: Any) -> dict[str, Any]:
    on_disk = BM25Index(bm25_dir(settings))
    assert on_disk.load()
    got = ing.store.collection.get(include=["metadatas"])
    files = {i: m["file"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}
    return {
        "generation": ing.manifest.generation(),
        "bm25_ids": list(ing.bm25.ids),
        "bm25_generation": ing.bm25.generation,
        "chroma_ids": ing.store.all_ids(),
        "disk_ids": list(on_disk.ids),
        "disk_generation": on_disk.generation,
        "search": {t: _ids(ing.bm25.search(t, 500)) for t in TERMS},
        "disk_search": {t: _ids(on_disk.search(t, 500)) for t in TERMS},
        "files": files,
        "retriever": {t: [h.file for h in retriever.search(t, k=50)] for t in TERMS},
    }


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory, embedder):
    """Ingest, change the .md and re-ingest, delete a document: a snapshot after each step."""
    base = tmp_path_factory.mktemp("bm25-lifecycle")
    corpus = copy_small_corpus(base / "corpus")
    # BM25 does not need the multilingual vectors; leaving them out halves the ingest time.
    settings = Settings(data_dir=base / "data", multilingual_index=False)
    ing = Ingestor(settings, embedder)
    ing.ingest([corpus])
    retriever = build_retriever(settings, "bm25")  # its own BM25Index: reloads on generation
    snaps = {"ingested": _snapshot(ing, settings, retriever)}
    (corpus / "guidance" / MD_NAME).write_text(
        "# Cooperation update\n\nThe Baltic cluster alliance on marine robotics meets twice a "
        "year to plan joint calls with Galician partners.\n",
        encoding="utf-8",
    )
    report = ing.ingest([corpus])
    assert report.updated == [MD_ID]
    snaps["updated"] = _snapshot(ing, settings, retriever)
    assert ing.delete("OnlineS3_2.4_Benchmarking_Case_Study.pdf") == [BENCH_ID]
    snaps["deleted"] = _snapshot(ing, settings, retriever)
    yield ing, settings, snaps
    ing.close()


STEPS = ("ingested", "updated", "deleted")


class TestBM25FollowsIngest:
    @pytest.mark.parametrize("step", STEPS)
    def test_bm25_ids_equal_chroma_ids(self, lifecycle, step):
        snap = lifecycle[2][step]
        assert snap["chroma_ids"]
        assert len(snap["bm25_ids"]) == len(set(snap["bm25_ids"]))
        assert set(snap["bm25_ids"]) == snap["chroma_ids"]
        assert snap["bm25_generation"] == snap["generation"]

    @pytest.mark.parametrize("step", STEPS)
    def test_saved_index_agrees(self, lifecycle, step):
        snap = lifecycle[2][step]
        assert set(snap["disk_ids"]) == snap["chroma_ids"]
        assert snap["disk_generation"] == snap["generation"]
        assert snap["disk_search"] == snap["search"]

    def test_generation_moves_on_with_each_change(self, lifecycle):
        snaps = lifecycle[2]
        gens = [snaps[s]["generation"] for s in STEPS]
        assert gens == sorted(set(gens))

    def test_terms_found_where_they_belong_after_ingest(self, lifecycle):
        snap = lifecycle[2]["ingested"]
        files = snap["files"]
        assert snap["search"][OLD_MD_TERM]
        assert {files[i] for i in snap["search"][OLD_MD_TERM]} == {MD_ID}
        assert snap["search"][NEW_MD_TERM] == []
        for term in BENCH_TERMS:
            assert snap["search"][term], term
            assert {files[i] for i in snap["search"][term]} == {BENCH_ID}, term

    def test_changed_file_old_text_gone_new_text_found(self, lifecycle):
        snap = lifecycle[2]["updated"]
        files = snap["files"]
        assert snap["search"][OLD_MD_TERM] == []
        assert snap["search"][NEW_MD_TERM]
        assert {files[i] for i in snap["search"][NEW_MD_TERM]} == {MD_ID}
        before = lifecycle[2]["ingested"]
        md_before = {i for i, f in before["files"].items() if f == MD_ID}
        assert not md_before & set(snap["bm25_ids"])  # every old .md chunk left BM25

    def test_deleted_document_not_found(self, lifecycle):
        snap = lifecycle[2]["deleted"]
        assert BENCH_ID not in snap["files"].values()
        for term in BENCH_TERMS:
            assert snap["search"][term] == [], term
            assert snap["disk_search"][term] == [], term
        assert snap["search"][NEW_MD_TERM]  # the rest is still searchable
        assert snap["search"]["specialisation"]

    def test_retriever_reloads_bm25_when_generation_moves_on(self, lifecycle):
        snaps = lifecycle[2]
        assert set(snaps["ingested"]["retriever"][OLD_MD_TERM]) == {MD_ID}
        assert snaps["updated"]["retriever"][OLD_MD_TERM] == []
        assert set(snaps["updated"]["retriever"][NEW_MD_TERM]) == {MD_ID}
        assert set(snaps["ingested"]["retriever"]["kernel"]) == {BENCH_ID}
        assert snaps["deleted"]["retriever"]["kernel"] == []

    def test_retriever_candidates_match_chroma(self, lifecycle):
        """The chunk table the retriever reads candidates from says what Chroma says."""
        ing, settings, _ = lifecycle
        retriever = build_retriever(settings, "hybrid")
        hits = retriever.search("smart specialisation regions", 10)
        ids = [h.id for h in hits]
        assert ids
        chroma = {h.id: (h.text, h.metadata) for h in ing.store.hits_for(ids, [0.0] * len(ids))}
        assert {h.id: (h.text, h.metadata) for h in hits} == chroma

    def test_ensure_rebuilds_after_generation_bump_without_rebuild(self, lifecycle):
        ing, settings, _ = lifecycle
        chroma_ids = ing.store.all_ids()
        fresh = BM25Index(bm25_dir(settings))
        current = ing.manifest.generation()
        assert fresh.ensure(ing.store, current) is False  # saved index is up to date
        assert fresh.generation == current
        # A crash between bumping the generation and rebuilding BM25 leaves it stale.
        bumped = ing.manifest.bump_generation()
        assert bumped == current + 1
        assert fresh.ensure(ing.store, bumped) is True
        assert fresh.generation == bumped
        assert set(fresh.ids) == chroma_ids
        assert fresh.ensure(ing.store, bumped) is False  # now nothing to do
        reloaded = BM25Index(bm25_dir(settings))
        assert reloaded.load() and reloaded.generation == bumped
        assert set(reloaded.ids) == chroma_ids
        # The ingestor's own in-memory index also notices and catches up.
        assert ing.bm25.ensure(ing.store, ing.manifest.generation()) is False  # reloaded
        assert ing.bm25.generation == bumped

    def test_ensure_on_stale_saved_index_rebuilds_from_chroma(self, lifecycle):
        ing, settings, _ = lifecycle
        folder = bm25_dir(settings)
        stale = BM25Index(folder)
        assert stale.load()
        chroma_ids = ing.store.all_ids()
        # Overwrite the saved index with a wrong one at an old generation ...
        _build(folder, CHUNKS, generation=stale.generation - 1)
        # ... and ensure() at the manifest's generation replaces it with the store's chunks.
        fresh = BM25Index(folder)
        assert fresh.ensure(ing.store, ing.manifest.generation()) is True
        assert set(fresh.ids) == chroma_ids
        assert fresh.search("bioeconomy forestry", 10) == []  # only in the stale chunks
