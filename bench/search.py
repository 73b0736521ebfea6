"""Search latency and memory at 10k / 100k / 1M chunks, embedded Chroma and a ``chroma run`` server.

Each (size, mode) runs in a fresh child process (``python -m bench.search --child ...``) so its
peak RSS is that configuration's own. The child opens the retriever the app uses
(``build_retriever(settings, variant)``), loads everything once (models, BM25, HNSW) and then
times ``retriever.search(query)`` per dev query (query embedding included, no LLM) for each
variant, plus the default variant under a metadata filter. BM25 ``build`` calls are counted:
the index must load once and never be rebuilt per query.

``python -m bench search`` (full) or ``--quick`` (one small store, a few queries, embedded only).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS_DIR,
    ROOT,
    current_rss_mb,
    machine_markdown,
    markdown_table,
    peak_rss_mb,
    percentile,
    update_benchmarks_md,
    write_results,
)

SIZES = (10_000, 100_000, 1_000_000)
SERVER_SIZES = (10_000, 100_000)
QUICK_SIZE = 2_000
VARIANTS = ("bm25", "dense", "hybrid", "hybrid_rescored")
FILTER = {"doc_type": "strategy"}
"""A broad filter (about half the chunks pass): exercises BM25 masks and Chroma ``where``."""
FILTERED = "hybrid_rescored+filter"
QUERIES = ROOT / "eval" / "datasets" / "retrieval_dev.jsonl"


def load_queries(limit: int | None = None) -> list[str]:
    rows = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    return [r["query"] for r in rows][:limit]


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "n": len(ms),
    }


def measure(
    data_dir: Path, queries: list[str], repeats: int, chroma_port: int | None = None
) -> dict[str, Any]:
    """Latency per variant against one store (run in a fresh process for honest RSS)."""
    import s3assist  # noqa: F401  (offline environment)
    from assistant.retriever import build_retriever
    from bench.scale import store_settings
    from vectorstore.bm25 import BM25Index

    builds = 0
    real_build = BM25Index.build

    def counting_build(self: BM25Index, *args: Any, **kwargs: Any) -> None:
        nonlocal builds
        builds += 1
        real_build(self, *args, **kwargs)

    BM25Index.build = counting_build  # type: ignore[method-assign]
    overrides: dict[str, Any] = {}
    if chroma_port:
        overrides |= {"chroma_host": "127.0.0.1", "chroma_port": chroma_port}
    settings = store_settings(data_dir, **overrides)
    rss_start = current_rss_mb()
    t0 = time.perf_counter()
    retrievers = {v: build_retriever(settings, v) for v in VARIANTS}
    default = retrievers["hybrid_rescored"]
    t1 = time.perf_counter()
    default._bm25_ready()
    bm25_load_s = time.perf_counter() - t1
    for r in retrievers.values():  # warm: models, HNSW segments, caches
        r.search(queries[0])
    default.search(queries[0], filters=FILTER)
    open_s = time.perf_counter() - t0
    rss_open = current_rss_mb()
    runs: list[tuple[str, Any, dict[str, Any] | None]] = [
        (v, retrievers[v], None) for v in VARIANTS
    ]
    runs.append((FILTERED, default, FILTER))
    latency = _timings(runs, queries, repeats)
    # The same runs with the query vectors precomputed: what the indexes themselves cost,
    # separated from the two query encoders (which do not grow with the store).
    store = default.store
    encoders = {"minilm": store.embedder, **store.extra_embedders}
    embed_ms: dict[str, dict[str, float]] = {}
    cached: dict[str, dict[str, list[float]]] = {}
    for name, enc in encoders.items():
        ms, cached[name] = [], {}
        for q in queries:
            s = time.perf_counter()
            cached[name][q] = enc.embed_query(q)
            ms.append((time.perf_counter() - s) * 1000)
        embed_ms[name] = _stats(ms)
    if settings.embedding_backend != "onnx-int8":  # the default encoder, timed for reference
        from vectorstore.embeddings import make_embedder

        int8 = make_embedder("minilm", backend="onnx-int8", cache_dir=settings.model_cache_dir)
        int8.embed_query(queries[0])
        ms = []
        for q in queries:
            s = time.perf_counter()
            int8.embed_query(q)
            ms.append((time.perf_counter() - s) * 1000)
        embed_ms["minilm@onnx-int8 (default; not used by this store)"] = _stats(ms)
    for name, enc in encoders.items():
        enc.embed_query = cached[name].__getitem__  # type: ignore[method-assign,assignment]
    index_latency = _timings(runs, queries, repeats)
    for enc in encoders.values():
        del enc.embed_query  # back to the class method
    return {
        "chunks": store.count(),
        "mode": "server" if chroma_port else "embedded",
        "latency_ms": latency,
        "index_latency_ms": index_latency,
        "query_embedding_ms": embed_ms,
        "open_s": round(open_s, 2),
        "bm25_load_s": round(bm25_load_s, 3),
        "bm25_builds": builds,
        "rss_start_mb": round(rss_start, 1),
        "rss_open_mb": round(rss_open, 1),
        "rss_end_mb": round(current_rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "loadavg": os.getloadavg(),
    }


def _timings(
    runs: list[tuple[str, Any, dict[str, Any] | None]], queries: list[str], repeats: int
) -> dict[str, dict[str, float]]:
    latency = {}
    for name, retriever, filters in runs:
        ms = []
        for _ in range(repeats):
            for q in queries:
                s = time.perf_counter()
                retriever.search(q, filters=filters)
                ms.append((time.perf_counter() - s) * 1000)
        latency[name] = _stats(ms)
    return latency


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_of(pid: int, key: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[int, int]]:
    """A ``chroma run`` server on 127.0.0.1 serving ``path``; yields (port, pid), then stops it."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.3)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_child(
    data_dir: Path, queries: int | None, repeats: int, port: int | None = None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.search",
        "--child",
        str(data_dir),
        "--repeats",
        str(repeats),
    ]
    if queries:
        cmd += ["--queries", str(queries)]
    if port:
        cmd += ["--chroma-port", str(port)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"search benchmark child failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def benchmark(
    sizes: tuple[int, ...],
    server_sizes: tuple[int, ...],
    queries: int | None,
    repeats: int,
    source_settings: Any = None,
    stores_root: Path | None = None,
    log: Any = print,
) -> list[dict[str, Any]]:
    from bench.scale import STORES_DIR, build_store, ensure_source, load_source, store_size_mb

    source = load_source(source_settings or ensure_source())
    rows = []
    for n in sizes:
        scaled = build_store(source, n, root=stores_root or STORES_DIR, log=log)
        data_dir = scaled.settings.data_dir
        res = run_child(data_dir, queries, repeats)
        res |= {"size": n, "store_mb": round(store_size_mb(scaled.settings), 1)}
        res["build_s"] = json.loads((data_dir / "scale.json").read_text())["build_s"]
        rows.append(res)
        log(_line(res))
        if n in server_sizes:
            with chroma_server(data_dir / "chroma") as (port, pid):
                res = run_child(data_dir, queries, repeats, port)
                res |= {"size": n, "server_peak_rss_mb": round(_rss_of(pid), 1)}
            rows.append(res)
            log(_line(res))
    return rows


def _line(r: dict[str, Any]) -> str:
    lat = ", ".join(f"{v} p95 {s['p95']:.1f} ms" for v, s in r["latency_ms"].items())
    return f"  {r['size']:,} {r['mode']}: {lat}; peak RSS {r['peak_rss_mb']:.0f} MiB"


def to_markdown(rows: list[dict[str, Any]], command: str) -> str:
    table = []
    for r in rows:
        for variant, s in r["latency_ms"].items():
            i = r.get("index_latency_ms", {}).get(variant, {})
            table.append(
                [
                    f"{r['size']:,}",
                    r["mode"],
                    variant,
                    s["p50"],
                    s["p95"],
                    s["p99"],
                    i.get("p50", "-"),
                    i.get("p95", "-"),
                    i.get("p99", "-"),
                    s["n"],
                ]
            )
    enc = [
        [f"{r['size']:,}", r["mode"], name, e["p50"], e["p95"]]
        for r in rows
        for name, e in r.get("query_embedding_ms", {}).items()
    ]
    mem = [
        [
            f"{r['size']:,}",
            r["mode"],
            r["rss_open_mb"],
            r["peak_rss_mb"],
            r.get("server_peak_rss_mb", "-"),
            r.get("store_mb", "-"),
            r["open_s"],
            r["bm25_load_s"],
            r["bm25_builds"],
        ]
        for r in rows
    ]
    load = ", ".join(f"{r['loadavg'][0]:.1f}" for r in rows)
    return "\n\n".join(
        [
            "## Search latency at scale",
            f"`{command}` on {machine_markdown()}. Synthetic stores grown deterministically from "
            "the real chunks (`bench/scale.py`); queries: `eval/datasets/retrieval_dev.jsonl`; "
            "latency of `retriever.search` incl. query embedding (MiniLM + USE), no LLM. "
            f"`{FILTERED}` adds the filter `{FILTER}`. 1-min load average per run: {load}.",
            "*index* columns: the same searches with the query vectors precomputed, i.e. what "
            "the stores (Chroma, BM25, fusion, rescoring) cost without the two query encoders.",
            markdown_table(
                [
                    "chunks",
                    "Chroma",
                    "variant",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "index p50",
                    "index p95",
                    "index p99",
                    "n",
                ],
                table,
            ),
            "Query encoders alone (ms per query, same runs):",
            markdown_table(["chunks", "Chroma", "encoder", "p50 ms", "p95 ms"], enc),
            "Memory (MiB) and start-up: RSS after opening and warming the retrievers, peak RSS "
            "of the search process, peak RSS of the `chroma run` server, store size on disk, "
            "seconds to open and warm, seconds to load BM25, BM25 rebuilds during the run "
            "(must be 0).",
            markdown_table(
                [
                    "chunks",
                    "Chroma",
                    "RSS open",
                    "peak RSS",
                    "server RSS",
                    "disk",
                    "open s",
                    "BM25 load s",
                    "BM25 rebuilds",
                ],
                mem,
            ),
        ]
    )


def run(
    quick: bool = False,
    sizes: tuple[int, ...] | None = None,
    server_sizes: tuple[int, ...] | None = None,
    n_queries: int | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The search benchmark (``--quick``: one small store, 5 queries, embedded only).

    A full run measuring only some ``sizes`` keeps the earlier rows of the other sizes (from
    ``bench/results/search.json``), so the 1M store can be measured on its own."""
    server: tuple[int, ...]
    queries: int | None
    if quick:
        sizes, server, queries, repeats = (QUICK_SIZE,), (), 5, 1
    else:
        sizes = sizes or SIZES
        server = SERVER_SIZES if server_sizes is None else server_sizes
        queries, repeats = n_queries, 1
    rows = benchmark(sizes, server, queries, repeats, **kwargs)
    name = "search_quick" if quick else "search"
    results_dir = kwargs.get("stores_root")
    if not quick:
        earlier = (results_dir or RESULTS_DIR) / "search.json"
        if earlier.is_file():
            kept = [r for r in json.loads(earlier.read_text())["rows"] if r["size"] not in sizes]
            rows = sorted(kept + rows, key=lambda r: (r["size"], r["mode"]))
    data = {"sizes": sorted({r["size"] for r in rows}), "repeats": repeats, "rows": rows}
    write_results(name, data, results_dir=results_dir)
    command = f"python -m bench search{' --quick' if quick else ''}"
    if not quick:
        update_benchmarks_md("search", to_markdown(rows, command))
    return data


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=Path, required=True, help="store data dir to measure")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--chroma-port", type=int, default=None)
    args = parser.parse_args()
    result = measure(args.child, load_queries(args.queries), args.repeats, args.chroma_port)
    print(json.dumps(result))


if __name__ == "__main__":
    _main()
