"""Reliability runs of issue 9: the bad-input batch, and SIGKILL crash trials.

    python -m bench.reliability badinput [--big]        # every bad-input kind, time + peak RSS
    python -m bench.reliability crash --trials 200      # kill ingestion at random points
    python -m bench.reliability sqlite --trials 200     # kill helpdesk/feedback writers

CI runs reduced versions from ``tests/test_bad_inputs.py`` and ``tests/test_crash_safety.py``.

Crash trials fork workers from this process after the embedders' weights are loaded (a fresh
interpreter per run would spend ~10 s loading models): a *killer* worker mutates a small
corpus and ingests it, dying by SIGKILL either at the N-th write (a seeded hook point: a Chroma
upsert/delete, a record-manager update/delete, a manifest write, the BM25 build, before or after
the call) or after a seeded random delay; a *checker* worker then re-runs the ingest and checks
that both Chroma collections, the record manager, BM25 (in memory and on disk) and the manifest
agree exactly and hold every current file, all of its current version, nothing else. Half of
the trials edit, add or delete files between the crash and the rerun, as people do.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WORDS = [
    "innovation",
    "region",
    "cluster",
    "priority",
    "research",
    "funding",
    "monitoring",
    "indicator",
    "stakeholder",
    "university",
    "enterprise",
    "digital",
    "energy",
    "marine",
    "health",
    "agrifood",
    "tourism",
    "mobility",
    "governance",
    "discovery",
    "specialisation",
    "strategy",
    "investment",
    "network",
    "partnership",
    "skills",
    "export",
]


# -- shared --------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _wait(pid: int, kill_after: float | None, timeout: float) -> tuple[int, bool]:
    """Wait for a forked worker; SIGKILL it after ``kill_after`` s. Returns (status, killed)."""
    start = time.monotonic()
    killed = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9)
        elapsed = time.monotonic() - start
        if (kill_after is not None and elapsed >= kill_after and not killed) or elapsed > timeout:
            os.kill(pid, signal.SIGKILL)
            killed = kill_after is not None and elapsed >= kill_after
        time.sleep(0.005)


def _progress(result: Any) -> None:
    """One line per trial on stderr, so a long run shows where it is."""
    verdict = "ok" if result.ok else f"FAILED {result.problems}"
    print(
        f"trial {result.trial}: {result.mode} {result.point}, killed={result.killed}, "
        f"{result.seconds:.1f} s, {verdict}",
        file=sys.stderr,
        flush=True,
    )


def _fork(work: Callable[[], int]) -> int:
    pid = os.fork()
    if pid == 0:  # worker: never return into the parent's stack
        code = 1
        try:
            code = work()
        except BaseException as exc:  # reported through the exit code and stderr
            print(f"worker error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    return pid


# -- ingest crash trials ---------------------------------------------------------------------------
@dataclass
class TrialResult:
    trial: int
    mode: str  # "hook" or "timer"
    point: str  # hook point or delay
    killed: bool
    ok: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class CrashSummary:
    trials: int
    killed: int
    passed: int
    hook_trials: int
    killed_by_hook: int  # deterministic for a seed (timer kills depend on machine speed)
    seconds: float
    points: dict[str, int]
    failures: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _doc_text(name: str, rev: int, rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(2, 5)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 120))]
        paragraphs.append(" ".join(words).capitalize() + ".")
    return f"# Note {name} revision {rev}\n\n" + "\n\n".join(paragraphs) + "\n"


def _mutate(corpus: Path, trial: int, rng: random.Random) -> None:
    """Seeded edits before a trial: rewrite, add and delete a few small Markdown notes."""
    docs = sorted(corpus.glob("*.md"))
    if len(docs) < 3 or rng.random() < 0.4:
        name = f"n{trial:04d}"
        (corpus / f"{name}.md").write_text(_doc_text(name, trial, rng), encoding="utf-8")
    for path in rng.sample(docs, k=min(len(docs), rng.randint(1, 2))):
        path.write_text(_doc_text(path.stem, trial, rng), encoding="utf-8")
    docs = sorted(corpus.glob("*.md"))
    if len(docs) > 6 or (len(docs) > 3 and rng.random() < 0.25):
        rng.choice(docs).unlink()


_HOOKED = False


def _install_kill_hooks(kill_at: int, after: bool) -> None:
    """SIGKILL this process at the ``kill_at``-th write, before or after the call."""
    import chromadb.api.models.Collection as chroma_collection
    from langchain_classic.indexes import SQLRecordManager

    from ingest.manifest import Manifest
    from vectorstore.bm25 import BM25Index

    count = [0]

    def wrap(owner: Any, name: str) -> None:
        real = getattr(owner, name)

        def hooked(*args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == kill_at and not after:
                os.kill(os.getpid(), signal.SIGKILL)
            out = real(*args, **kwargs)
            if count[0] == kill_at and after:
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(owner, name, hooked)

    for name in ("upsert", "add", "delete", "update"):
        wrap(chroma_collection.Collection, name)
    for name in ("update", "delete_keys"):
        wrap(SQLRecordManager, name)
    for name in ("upsert", "remove", "bump_generation"):
        wrap(Manifest, name)
    wrap(BM25Index, "build")


def _settings(data: Path, multilingual: bool) -> Any:
    from s3assist.settings import Settings

    return Settings(data_dir=data, multilingual_index=multilingual)


def _ingest_once(data: Path, corpus: Path, multilingual: bool) -> Any:
    from ingest.pipeline import Ingestor
    from vectorstore.embeddings import make_embedder

    ing = Ingestor(_settings(data, multilingual), make_embedder("minilm"))
    ing.ingest([corpus])
    return ing


def check_consistency(ing: Any, corpus: Path) -> list[str]:
    """Every way the store, indexes and manifest could disagree after a crash and a rerun."""
    from ingest.manifest import INDEXED, INDEXING
    from vectorstore.bm25 import BM25Index, bm25_dir

    problems: list[str] = []
    per_collection = ing.store.ids_per_collection()
    primary = per_collection[0]
    for i, ids in enumerate(per_collection[1:], start=1):
        if ids != primary:
            problems.append(f"collection {i} differs from the primary: {len(ids ^ primary)} ids")
    records = ing.records.all_keys()
    if records != primary:
        problems.append(
            f"record manager vs store: {len(records - primary)} records without chunks, "
            f"{len(primary - records)} orphan chunks"
        )
    if rows := ing.manifest.all(INDEXING):
        problems.append(f"rows left indexing: {[r.doc_id for r in rows]}")
    generation = ing.manifest.generation()
    on_disk = BM25Index(bm25_dir(ing.settings))
    if not on_disk.load() or on_disk.generation != generation or set(on_disk.ids) != primary:
        problems.append("BM25 on disk is stale or differs from the store")
    files = {p.name: p for p in corpus.glob("*.md")}
    indexed = {r.doc_id: r for r in ing.manifest.all(INDEXED)}
    if set(indexed) != set(files) or ing.manifest.all() != list(indexed.values()):
        problems.append(f"manifest {sorted(ing.manifest.all())!r:.200} vs files {sorted(files)}")
    for doc_id, row in indexed.items():
        path = files.get(doc_id)
        if path is None:
            continue
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ")
        got = ing.store.collection.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        indexes = sorted(m["chunk_index"] for m in got["metadatas"])
        if indexes != list(range(row.chunks)):
            problems.append(f"{doc_id}: chunk indexes {indexes} vs {row.chunks} chunks")
        if not all(title in t for t in got["documents"]):
            problems.append(f"{doc_id}: chunks of another version (want {title!r})")
        if set(ing.records.keys_for(doc_id)) != set(got["ids"]):
            problems.append(f"{doc_id}: record keys differ from its chunks")
        if row.file_hash != hashlib.sha256(path.read_bytes()).hexdigest():
            problems.append(f"{doc_id}: manifest hash is not the file's")
    return problems


def _warm_up(workdir: Path, multilingual: bool) -> None:
    """Load models and lazy tables once, before forking, so each worker starts in ~0.5 s.

    Torch runs single-threaded (no OpenMP pool exists to be lost across fork); Chroma is never
    opened here (its Rust runtime threads would not survive fork either)."""
    import torch

    from ingest.chunking import Chunker
    from ingest.cleaning import clean_pages
    from ingest.loaders import LoadLimits, load_file
    from ingest.metadata import infer_metadata
    from vectorstore.bm25 import tokenize
    from vectorstore.embeddings import make_embedder

    torch.set_num_threads(1)
    minilm = make_embedder("minilm")
    minilm.embed_documents(["warm up"])
    if multilingual:
        make_embedder("use").embed_documents(["warm up"])
    sample = workdir / "warm-up.md"
    sample.write_text(_doc_text("warm", 0, random.Random(0)), encoding="utf-8")
    loaded = load_file(sample, LoadLimits(10_000_000, 10, 10))
    infer_metadata(loaded, clean_pages(loaded.pages))
    settings = _settings(workdir / "unused", multilingual)
    Chunker(
        settings.chunk_size,
        settings.chunk_overlap,
        settings.tokenizer_encoding,
        minilm.tokenizer,
        minilm.max_tokens,
    ).chunk(clean_pages(loaded.pages), lambda section: "")
    tokenize(["warm up"])
    sample.unlink()


def run_crash_trials(
    trials: int, seed: int, workdir: Path, multilingual: bool = True, timeout: float = 300.0
) -> CrashSummary:
    """Seeded SIGKILL trials against one data dir that lives through all of them."""

    corpus, data = workdir / "corpus", workdir / "data"
    corpus.mkdir(parents=True, exist_ok=True)
    _warm_up(workdir, multilingual)
    rng = random.Random(seed)
    results: list[TrialResult] = []
    durations: list[float] = []
    start = time.perf_counter()
    for trial in range(trials):
        t0 = time.perf_counter()
        _mutate(corpus, trial, rng)
        mode = "hook" if trial % 2 == 0 or not durations else "timer"
        if mode == "hook":
            # an ingest of 1-2 changed files makes about 8-12 hooked writes (manifest, both
            # collections, record manager, generation, BM25): 1..8 lands inside almost every one
            kill_at, after = rng.randint(1, 8), rng.random() < 0.5
            point = f"write {kill_at} {'after' if after else 'before'}"

            def killer(kill_at: int = kill_at, after: bool = after) -> int:
                _install_kill_hooks(kill_at, after)
                _ingest_once(data, corpus, multilingual)
                return 0

            status, killed = _wait(_fork(killer), None, timeout)
        else:
            delay = rng.uniform(0.0, max(durations))
            point = f"after {delay:.2f} s"
            status, killed = _wait(
                _fork(lambda: (_ingest_once(data, corpus, multilingual), 0)[1]), delay, timeout
            )
        problems: list[str] = []
        if not killed and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            problems.append(f"killer worker failed on its own (status {status})")
        if rng.random() < 0.5:  # files also change between the crash and the rerun
            _mutate(corpus, trials + trial, rng)
        report = workdir / "check.json"
        report.unlink(missing_ok=True)

        def checker(report: Path = report) -> int:
            t = time.perf_counter()
            ing = _ingest_once(data, corpus, multilingual)
            found = check_consistency(ing, corpus)
            report.write_text(json.dumps({"problems": found, "s": time.perf_counter() - t}))
            return 0

        status, _ = _wait(_fork(checker), None, timeout)
        if report.is_file():
            got = json.loads(report.read_text())
            problems += got["problems"]
            durations.append(got["s"])
        else:
            problems.append(f"checker worker failed (status {status})")
        results.append(
            TrialResult(
                trial, mode, point, killed, not problems, problems, time.perf_counter() - t0
            )
        )
        _progress(results[-1])
    points = Counter(r.point.split()[-1] if r.mode == "hook" else "timer" for r in results)
    return CrashSummary(
        trials=trials,
        killed=sum(r.killed for r in results),
        passed=sum(r.ok for r in results),
        hook_trials=sum(r.mode == "hook" for r in results),
        killed_by_hook=sum(r.killed and r.mode == "hook" for r in results),
        seconds=round(time.perf_counter() - start, 1),
        points=dict(points),
        failures=[asdict(r) for r in results if not r.ok],
    )


# -- SQLite (helpdesk + feedback) crash trials -------------------------------------------------
def _sqlite_ops(rng: random.Random, ids: list[int], next_id: int, n: int) -> list[dict[str, Any]]:
    """A deterministic op sequence: the parent regenerates it to know what each ack meant."""
    ops: list[dict[str, Any]] = []
    ids = list(ids)
    for i in range(n):
        r = rng.random()
        payload = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 400)))
        if r < 0.4 or not ids:
            ops.append({"op": "add", "id": next_id, "q": f"question {next_id}", "a": payload})
            ids.append(next_id)
            next_id += 1
        elif r < 0.65:
            ops.append({"op": "update", "id": rng.choice(ids), "a": payload, "by": f"ed{i}"})
        elif r < 0.8:
            ops.append({"op": "approve", "id": rng.choice(ids), "by": f"admin{i}"})
        else:
            ops.append({"op": "feedback", "q": f"fb {payload[:60]}", "verdict": "correct"})
    return ops


def _apply(state: dict[str, Any], op: dict[str, Any]) -> None:
    rows, feedback = state["helpdesk"], state["feedback"]
    if op["op"] == "add":
        rows[op["id"]] = ("draft", op["q"], op["a"], "", "")
    elif op["op"] == "update":
        _, q, _, _, _ = rows[op["id"]]
        rows[op["id"]] = ("edited", q, op["a"], op["by"], "")
    elif op["op"] == "approve":
        _, q, a, ed, _ = rows[op["id"]]
        rows[op["id"]] = ("approved", q, a, ed, op["by"])
    else:
        feedback.append((op["verdict"], op["q"]))


def _db_state(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute(
            "SELECT id, status, question, answer, edited_by, approved_by FROM helpdesk"
        ).fetchall()
        feedback = conn.execute("SELECT verdict, question FROM feedback ORDER BY id").fetchall()
    finally:
        conn.close()
    return {
        "helpdesk": {r[0]: tuple(r[1:]) for r in rows},
        "feedback": [tuple(f) for f in feedback],
    }


def run_sqlite_trials(trials: int, seed: int, workdir: Path) -> CrashSummary:
    """Kill a helpdesk/feedback writer at a random moment; the file must hold every
    acknowledged write exactly, plus at most the one in flight, whole, and pass integrity_check."""
    from app.feedback import Feedback, FeedbackStore
    from app.helpdesk import HelpdeskStore
    from s3assist.settings import Settings

    settings = Settings(data_dir=workdir / "data", multilingual_index=False)
    HelpdeskStore(settings)
    FeedbackStore(settings.app_db)
    rng = random.Random(seed)
    state: dict[str, Any] = {"helpdesk": {}, "feedback": []}
    results: list[TrialResult] = []
    start = time.perf_counter()
    for trial in range(trials):
        t0 = time.perf_counter()
        ops = _sqlite_ops(rng, sorted(state["helpdesk"]), len(state["helpdesk"]) + 1, 400)
        acks = workdir / f"acks-{trial}"
        delay = rng.uniform(0.02, 0.6)

        def writer(ops: list[dict[str, Any]] = ops, acks: Path = acks) -> int:
            helpdesk, feedback = HelpdeskStore(settings), FeedbackStore(settings.app_db)
            fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            for n, op in enumerate(ops):
                if op["op"] == "add":
                    if helpdesk.add(op["q"], op["a"]) != op["id"]:
                        return 2
                elif op["op"] == "update":
                    helpdesk.update(op["id"], op["a"], editor=op["by"])
                elif op["op"] == "approve":
                    helpdesk.approve(op["id"], op["by"])
                else:
                    feedback.add(Feedback(op["verdict"], op["q"], "answer", []))
                os.write(fd, f"{n}\n".encode())
            return 0

        status, killed = _wait(_fork(writer), delay, 120)
        done = len(acks.read_text().split()) if acks.exists() else 0
        acks.unlink(missing_ok=True)
        before = {"helpdesk": dict(state["helpdesk"]), "feedback": list(state["feedback"])}
        for op in ops[:done]:
            _apply(before, op)
        after = {"helpdesk": dict(before["helpdesk"]), "feedback": list(before["feedback"])}
        if done < len(ops):
            _apply(after, ops[done])
        problems = []
        conn = sqlite3.connect(str(settings.app_db))
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        if integrity != "ok" or mode != "wal":
            problems.append(f"integrity {integrity}, journal {mode}")
        if not killed and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            problems.append(f"writer failed on its own (status {status})")
        found = _db_state(settings.app_db)
        if found == before:
            state = before
        elif found == after:
            state = after
        else:
            problems.append("database holds neither the acknowledged state nor it plus one op")
            state = found
        results.append(
            TrialResult(
                trial,
                "timer",
                f"after {delay:.2f} s ({done} ops)",
                killed,
                not problems,
                problems,
                time.perf_counter() - t0,
            )
        )
        _progress(results[-1])
    return CrashSummary(
        trials=trials,
        killed=sum(r.killed for r in results),
        passed=sum(r.ok for r in results),
        hook_trials=sum(r.mode == "hook" for r in results),
        killed_by_hook=sum(r.killed and r.mode == "hook" for r in results),
        seconds=round(time.perf_counter() - start, 1),
        points={"timer": trials},
        failures=[asdict(r) for r in results if not r.ok],
    )


# -- bad-input batch ----------------------------------------------------------------------------
def run_badinput(workdir: Path, big: bool, max_pages: int) -> dict[str, Any]:
    from ingest.pipeline import Ingestor
    from s3assist.settings import Settings
    from tests.badinput import KINDS, generate

    root = workdir / "bad"
    t0 = time.perf_counter()
    expected = generate(root, big)
    gen_s = time.perf_counter() - t0
    ing = Ingestor(Settings(data_dir=workdir / "data", max_pages=max_pages))
    ing.embedder.embed_documents(["warm up"])  # model load is not part of the batch
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    report = ing.ingest([root])
    batch_s = time.perf_counter() - t0
    return {
        "kinds": len(KINDS),
        "files": len(expected),
        "big": big,
        "generate_s": round(gen_s, 1),
        "batch_s": round(batch_s, 1),
        "peak_rss_mb_before_batch": round(rss_before),
        "peak_rss_mb": round(peak_rss_mb()),
        "added": len(report.added),
        "failed": {f.file: f"{f.kind}: {f.reason}" for f in report.failed},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Reliability runs (issue 9).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    crash = sub.add_parser("crash", help="SIGKILL ingestion at random points")
    crash.add_argument("--trials", type=int, default=200)
    crash.add_argument("--no-multilingual", action="store_true")
    sq = sub.add_parser("sqlite", help="SIGKILL helpdesk/feedback writers")
    sq.add_argument("--trials", type=int, default=200)
    bad = sub.add_parser("badinput", help="ingest the bad-input corpus")
    bad.add_argument("--big", action="store_true", help="GB-sized bombs, 50 MB line")
    bad.add_argument("--max-pages", type=int, default=2000)
    for p in (crash, sq, bad):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--workdir", type=Path, default=None)
        p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    import s3assist  # noqa: F401  (offline environment first)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="s3assist-reliability-"))
    try:
        if args.cmd == "crash":
            out = run_crash_trials(args.trials, args.seed, workdir, not args.no_multilingual)
            result = out.as_json()
        elif args.cmd == "sqlite":
            result = run_sqlite_trials(args.trials, args.seed, workdir).as_json()
        else:
            result = run_badinput(workdir, args.big, args.max_pages)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
