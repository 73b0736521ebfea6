"""Retrieval evaluation: every retriever variant against a hand-checked dataset, at page level.

``run_retrieval_eval`` (``s3assist eval retrieval``):

1. validates the dataset against the corpus (gold files exist, pages in range); an answer set
   (``answers_*.jsonl``) is accepted too: its answerable questions become the queries, with
   their gold pages (:func:`eval.datasets.load_queries`);
2. builds or refreshes *our* index: ``Ingestor(settings)`` over ``corpus/strategies`` and
   ``corpus/guidance`` with ids relative to the corpus root, into ``settings.data_dir``
   (incremental: unchanged files are skipped before parsing);
3. for each variant gets a retriever (``assistant.retriever.build_retriever(settings, name)``
   for ours, :class:`eval.naive.NaiveRetriever` for ``naive``, a plain ``ChunkStore`` dense
   search for ``store``), runs one warm-up query, then every query with ``search(query, k=20)``,
   timing each call with ``time.perf_counter``;
4. turns each ranking of chunks into distinct pages and scores it (``eval.metrics``), overall and
   per subset (English / non-English, paraphrased / literal, each ``kind``);
5. writes ``summary.json``, ``per_query.jsonl`` and ``retrieval.md`` into ``out_dir``.

A variant whose retriever cannot be built (``ValueError``/``NotImplementedError``, or
``assistant.retriever`` not written yet) is skipped and named in the report.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from eval.datasets import RetrievalQuery, load_queries
from eval.metrics import (
    CUTOFF,
    METRICS,
    first_hit_rank,
    mean_scores,
    per_query_scores,
    percentile,
    rank_pages,
)
from s3assist.settings import Settings

ASSISTANT_VARIANTS = ("bm25", "dense", "multilingual", "hybrid", "hybrid_rescored")
DEFAULT_VARIANTS = ("naive", *ASSISTANT_VARIANTS)
# "store": ChunkStore.search, the dense search `s3assist search` does today.
KNOWN_VARIANTS = (*DEFAULT_VARIANTS, "store")
RETRIEVE_K = 20
CORPUS_FOLDERS = ("strategies", "guidance")


class Searcher(Protocol):
    def search(self, query: str, k: int) -> Sequence[Any]:
        """Hits in rank order: objects with ``.file``/``.page``, or ``(file, page)`` pairs."""
        ...


RetrieverFactory = Callable[[Settings, str], Searcher]


class VariantUnavailable(Exception):
    """The variant's retriever does not exist (yet)."""


def assistant_retriever(settings: Settings, variant: str) -> Searcher:
    """Our retrievers: ``assistant.retriever.build_retriever(settings, variant)``."""
    try:
        from assistant.retriever import build_retriever
    except ModuleNotFoundError as exc:
        if exc.name == "assistant.retriever":
            raise VariantUnavailable("assistant.retriever does not exist yet") from exc
        raise
    except ImportError as exc:  # module there, build_retriever not (yet)
        raise VariantUnavailable(f"assistant.retriever: {exc}") from exc
    try:
        retriever: Searcher = build_retriever(settings, variant)
    except ModuleNotFoundError as exc:  # a stage of the assistant not written yet
        if exc.name and exc.name.startswith("assistant."):
            raise VariantUnavailable(f"{exc.name} does not exist yet") from exc
        raise
    return retriever


class StoreSearcher:
    """Plain dense search on the chunk store (``s3assist search``), without the assistant."""

    def __init__(self, settings: Settings):
        from vectorstore.embeddings import dense_embedder
        from vectorstore.store import ChunkStore

        embedder = dense_embedder(settings)
        self.store = ChunkStore(settings, embedder)

    def search(self, query: str, k: int) -> Sequence[Any]:
        return self.store.search(query, k)


def _pairs(results: Sequence[Any]) -> list[tuple[str, int]]:
    out = []
    for r in results:
        if isinstance(r, tuple):
            out.append((str(r[0]), int(r[1])))
        else:
            out.append((str(r.file), int(r.page)))
    return out


# --- subsets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subset:
    key: str
    title: str
    test: Callable[[RetrievalQuery], bool]


def subsets_for(queries: Sequence[RetrievalQuery]) -> list[Subset]:
    subsets = [
        Subset("all", "All queries", lambda q: True),
        Subset("en", "English", lambda q: q.lang == "en"),
        Subset("non_en", "Non-English", lambda q: q.lang != "en"),
    ]
    if any(q.paraphrased is not None for q in queries):  # answer sets do not mark paraphrase
        subsets += [
            Subset("paraphrased", "Paraphrased", lambda q: q.paraphrased is True),
            Subset("literal", "Not paraphrased", lambda q: q.paraphrased is False),
        ]
    for kind in sorted({q.kind for q in queries}):
        subsets.append(Subset(f"kind={kind}", f"kind = {kind}", _kind_is(kind)))
    return subsets


def _kind_is(kind: str) -> Callable[[RetrievalQuery], bool]:
    return lambda q: q.kind == kind


# --- progress --------------------------------------------------------------------------------
class ProgressBar:
    """A rich progress bar on stderr (silent when quiet), also fed by the ingest hooks."""

    def __init__(self, quiet: bool):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.quiet = quiet
        self.console = Console(stderr=True, quiet=quiet)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=quiet,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def task(self, description: str, total: int) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)
        self._task = self.progress.add_task(description, total=total)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._task is not None:
            self.progress.update(self._task, advance=n, description=description)

    def log(self, message: str) -> None:
        self.console.print(message)

    # ingest.pipeline.Progress hooks
    def files(self, total: int) -> None:
        self.task("index: files", total)

    def file_done(self, name: str, status: str) -> None:
        self.advance(1, f"index: {status} {name[:40]}")

    def chunks(self, name: str, total: int) -> None: ...

    def chunks_done(self, n: int) -> None: ...


@contextmanager
def progress_bar(quiet: bool) -> Iterator[ProgressBar]:
    with ProgressBar(quiet) as bar:
        yield bar


# --- the run ---------------------------------------------------------------------------------
@dataclass
class VariantRun:
    name: str
    build_s: float
    ranked: dict[str, list[str]]
    latency_ms: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RetrievalEvalResult:
    summary: dict[str, Any]
    markdown: str
    out_dir: Path
    skipped: dict[str, str]


def build_index(settings: Settings, corpus_root: Path, progress: Any = None) -> dict[str, Any]:
    """Ingest ``corpus_root/{strategies,guidance}`` (ids relative to the root); the report JSON."""
    from ingest.pipeline import Ingestor

    folders = [corpus_root / f for f in CORPUS_FOLDERS if (corpus_root / f).is_dir()]
    if not folders:
        raise ValueError(f"no {' or '.join(CORPUS_FOLDERS)} folder under {corpus_root}")
    ingestor = Ingestor(settings, progress=progress)
    try:
        report = ingestor.ingest(folders, root=corpus_root)
    finally:
        ingestor.close()
    return report.as_json()


def _time_variant(
    name: str,
    searcher: Searcher,
    queries: Sequence[RetrievalQuery],
    k: int,
    bar: ProgressBar,
    build_s: float,
) -> VariantRun:
    bar.task(f"{name}", len(queries))
    ranked: dict[str, list[str]] = {}
    latency: dict[str, float] = {}
    for q in queries:
        t0 = time.perf_counter()
        results = searcher.search(q.query, k)
        latency[q.id] = (time.perf_counter() - t0) * 1000.0
        ranked[q.id] = rank_pages(_pairs(results))
        bar.advance()
    return VariantRun(name, build_s, ranked, latency)


def _make_searcher(
    name: str,
    settings: Settings,
    corpus_root: Path,
    factory: RetrieverFactory,
    extras: dict[str, Any],
) -> Searcher:
    if name == "naive":
        from eval.naive import NaiveRetriever

        naive = NaiveRetriever(corpus_root, settings.cache_dir / "naive", CORPUS_FOLDERS)
        extras["naive_index"] = {
            "chunks": naive.chunks,
            "built_now": naive.built,
            "skipped_files": naive.skipped,
            "cache": str(naive.cache_dir),
        }
        return naive
    if name == "store":
        return StoreSearcher(settings)
    return factory(settings, name)


def checked_names(names: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    """``names`` without repeats, refusing an empty list or a name not in ``known``."""
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(known)}"
        )
    return names


def run_retrieval_eval(
    settings: Settings,
    dataset_path: Path,
    variants: Sequence[str],
    out_dir: Path,
    corpus_root: Path,
    *,
    quiet: bool = False,
    k: int = RETRIEVE_K,
    retriever_factory: RetrieverFactory | None = None,
    ingest: bool = True,
) -> RetrievalEvalResult:
    """Score ``variants`` on the dataset; write summary.json, per_query.jsonl, retrieval.md."""
    variants = checked_names(variants, KNOWN_VARIANTS, "variant")
    corpus_root = Path(corpus_root).resolve()
    dataset_path = Path(dataset_path)
    queries = load_queries(dataset_path, corpus_root=corpus_root)
    factory = retriever_factory or assistant_retriever
    gold = {q.id: q.gold_ids for q in queries}
    started = datetime.now(UTC)
    extras: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    runs: list[VariantRun] = []
    index_report: dict[str, Any] | None = None

    with progress_bar(quiet) as bar:
        if ingest and any(v != "naive" for v in variants):
            t0 = time.perf_counter()
            index_report = build_index(settings, corpus_root, progress=bar)
            bar.log(
                f"index: {index_report['chunks']} chunks, "
                f"{index_report['chunks_embedded']} embedded now, "
                f"{time.perf_counter() - t0:.1f}s"
            )
        for name in variants:
            bar.log(f"variant {name}: building")
            t0 = time.perf_counter()
            try:
                searcher = _make_searcher(name, settings, corpus_root, factory, extras)
                build_s = time.perf_counter() - t0
                # warm-up (lazy model loads are not query latency); a stub fails here
                searcher.search(queries[0].query, k)
            except (ValueError, NotImplementedError, VariantUnavailable) as exc:
                skipped[name] = f"{type(exc).__name__}: {exc}"
                bar.log(f"[yellow]skipped[/yellow] {name}: {skipped[name]}")
                continue
            run = _time_variant(name, searcher, queries, k, bar, build_s)
            run.per_query = per_query_scores(gold, run.ranked)
            runs.append(run)

    subsets = subsets_for(queries)
    summary = _summary(
        settings, dataset_path, corpus_root, queries, subsets, runs, skipped, k, started
    )
    summary["index"] = index_report
    summary.update(extras)
    markdown = render_markdown(summary)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    _write_per_query(out_dir / "per_query.jsonl", queries, runs)
    (out_dir / "retrieval.md").write_text(markdown, encoding="utf-8")
    return RetrievalEvalResult(summary, markdown, out_dir, skipped)


def _summary(
    settings: Settings,
    dataset_path: Path,
    corpus_root: Path,
    queries: Sequence[RetrievalQuery],
    subsets: list[Subset],
    runs: list[VariantRun],
    skipped: dict[str, str],
    k: int,
    started: datetime,
) -> dict[str, Any]:
    members = {s.key: [q.id for q in queries if s.test(q)] for s in subsets}
    variants: dict[str, Any] = {}
    for run in runs:
        by_subset: dict[str, Any] = {}
        for s in subsets:
            ids = members[s.key]
            lat = [run.latency_ms[i] for i in ids]
            by_subset[s.key] = {
                "n": len(ids),
                "metrics": {k_: round(v, 4) for k_, v in mean_scores(run.per_query, ids).items()},
                "latency_ms": {
                    "p50": round(percentile(lat, 50), 2),
                    "p95": round(percentile(lat, 95), 2),
                },
            }
        variants[run.name] = {"build_s": round(run.build_s, 2), "subsets": by_subset}
    return {
        "date": started.isoformat(timespec="seconds"),
        "settings_hash": settings.settings_hash(),
        "corpus": str(corpus_root),
        "dataset": str(dataset_path),
        "dataset_sha256": hashlib.sha256(dataset_path.read_bytes()).hexdigest()[:16],
        "queries": len(queries),
        "retrieve_k": k,
        "cutoff": CUTOFF,
        "metrics": [m.key for m in METRICS],
        "subsets": {s.key: s.title for s in subsets},
        "variants": variants,
        "skipped": skipped,
    }


def _write_per_query(path: Path, queries: Sequence[RetrievalQuery], runs: list[VariantRun]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for run in runs:
            for q in queries:
                ranked = run.ranked[q.id]
                row = {
                    "id": q.id,
                    "variant": run.name,
                    "lang": q.lang,
                    "kind": q.kind,
                    "paraphrased": q.paraphrased,
                    "query": q.query,
                    "pages": ranked[:CUTOFF],
                    "gold": q.gold_ids,
                    "hit_rank": first_hit_rank(ranked, q.gold_ids),
                    "scores": {k: round(v, 4) for k, v in run.per_query[q.id].items()},
                    "latency_ms": round(run.latency_ms[q.id], 2),
                }
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- report ----------------------------------------------------------------------------------
TABLE_SUBSETS = ("all", "non_en", "paraphrased")


def _table(summary: dict[str, Any], subset: str) -> list[str]:
    header = ["variant", *(m.label for m in METRICS), "p50 ms", "p95 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 8) + "|"]
    for name, data in summary["variants"].items():
        s = data["subsets"][subset]
        cells = [f"{s['metrics'][m.key]:.3f}" for m in METRICS]
        cells += [f"{s['latency_ms']['p50']:.1f}", f"{s['latency_ms']['p95']:.1f}"]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return lines


def render_markdown(summary: dict[str, Any]) -> str:
    """``retrieval.md``: one table per headline subset, a compact one for the other subsets."""
    variants = summary["variants"]
    any_variant = next(iter(variants.values()), None)

    def n_of(subset: str) -> str:
        return str(any_variant["subsets"][subset]["n"]) if any_variant else "?"

    out = [
        "# Retrieval evaluation",
        "",
        f"- date: {summary['date']}",
        f"- settings hash: `{summary['settings_hash']}`",
        f"- corpus: `{summary['corpus']}`",
        f"- dataset: `{summary['dataset']}` (sha256 {summary['dataset_sha256']}, "
        f"{summary['queries']} queries)",
        f"- each variant returns its top {summary['retrieve_k']} chunks; chunks become distinct "
        f"pages (`file#page`, first chunk keeps the rank); metrics at page level, cut-off "
        f"{summary['cutoff']}, means over queries; latency = one `search` call after one warm-up "
        "query",
    ]
    index = summary.get("index")
    if index:
        failed = ", ".join(f"{f['file']} ({f['reason']})" for f in index["failed"]) or "none"
        out.append(
            f"- our index: {index['chunks']} chunks of {index['pages']} pages; not indexed: "
            f"{failed}"
        )
    naive = summary.get("naive_index")
    if naive:
        out.append(
            f"- naive index: {naive['chunks']} chunks; skipped: "
            f"{', '.join(naive['skipped_files']) or 'none'}"
        )
    for subset in (s for s in TABLE_SUBSETS if s in summary["subsets"]):
        out += ["", f"## {summary['subsets'][subset]} (n={n_of(subset)})", ""]
        out += _table(summary, subset) if variants else ["(no variant ran)"]
    others = [s for s in summary["subsets"] if s not in TABLE_SUBSETS]
    if variants and others:
        out += ["", "## Other subsets: hit@10 / MRR", ""]
        heads = [f"{summary['subsets'][s]} (n={n_of(s)})" for s in others]
        out.append("| variant | " + " | ".join(heads) + " |")
        out.append("|---|" + "---:|" * len(others))
        for name, data in variants.items():
            cells = [
                f"{data['subsets'][s]['metrics']['hit@10']:.3f} / "
                f"{data['subsets'][s]['metrics']['mrr']:.3f}"
                for s in others
            ]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    if summary["skipped"]:
        out += ["", "## Skipped variants", ""]
        out += [f"- {name}: {reason}" for name, reason in summary["skipped"].items()]
    return "\n".join(out) + "\n"
