"""Ingest benchmark: our pipeline in several configurations against the naive LangChain one.

Every (configuration, repeat) runs in its own child process on a fresh data dir, so peak RSS is
per configuration and no model stays warm between runs; repeats are interleaved (naive, ours,
..., naive, ours, ...) so a noisy neighbour slows all configurations alike. Figures are medians;
the ratio is naive seconds / configuration seconds on the same corpus (chunk counts differ: the
naive splitter makes 1000-character chunks, ours ~200-token ones with a context line).

Re-ingest is measured in the children of the configurations marked ``reingest``: the unchanged
corpus again (same process), then with one PDF changed (its last page dropped), and the
unchanged corpus once more through a fresh ``s3assist ingest`` process (interpreter start and
imports included, as a user sees it).

Child entry: ``python -m bench.ingest child KIND CORPUS DATA_DIR [OVERRIDES_JSON]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.common import (
    ROOT,
    machine_markdown,
    markdown_table,
    median,
    peak_rss_mb,
    update_benchmarks_md,
    write_results,
)

CORPUS = Path(os.environ.get("S3ASSIST_BENCH_CORPUS", "/work/shared/corpus"))
FOLDERS = ("strategies", "guidance")
QUICK_FILES = (
    "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf",
    "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
    "guidance/S3CoP_Clusters_Interregional_Cooperation_slides.md",
)
CHANGED_PDF = "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"


@dataclass
class Config:
    """One way of running our ingest: settings overrides and what the row shows."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    reingest: bool = False
    quick: bool = True


MINILM_ONLY: dict[str, Any] = {"multilingual_index": False}
TORCH: dict[str, Any] = {"embedding_backend": "torch"}
CONFIGS: dict[str, Config] = {
    "ours": Config("ours, defaults (MiniLM ONNX int8 + USE)", {}, reingest=True),
    "ours-torch": Config("ours, MiniLM torch + USE (the old default)", TORCH),
    "ours-minilm": Config("ours, MiniLM only, ONNX int8", MINILM_ONLY),
    "ours-minilm-torch": Config("ours, MiniLM only, torch", {**MINILM_ONLY, **TORCH}),
    "minilm-bs128": Config(
        "ours, MiniLM only, torch, batch 128",
        {**MINILM_ONLY, **TORCH, "embedding_batch_size": 128},
        quick=False,
    ),
    "minilm-onnx": Config(
        "ours, MiniLM only, ONNX fp32", {**MINILM_ONLY, "embedding_backend": "onnx"}, quick=False
    ),
    "ours-prefetch": Config(
        "ours, defaults + parse prefetch thread", {"ingest_prefetch": True}, quick=False
    ),
    "ours-pypdf": Config(
        "ours, defaults with pypdf text (the old reader)", {"pdf_text_engine": "pypdf"}, quick=False
    ),
}


# -- children ----------------------------------------------------------------------------
def _child(kind: str, corpus: Path, data_dir: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    import s3assist  # noqa: F401  (offline environment first)

    if kind == "naive":
        from bench.naive import corpus_files, naive_ingest

        naive = naive_ingest(corpus_files(corpus, FOLDERS), data_dir / "chroma")
        return {**naive, "peak_rss_mb": peak_rss_mb()}
    if kind == "export":  # make the ONNX graphs before anything is timed
        from vectorstore.embeddings import export_onnx, minilm_dir

        export_onnx(minilm_dir(), data_dir / "onnx", quantized=True)
        return {}
    from ingest.pipeline import Ingestor
    from s3assist.settings import Settings

    reingest = bool(overrides.pop("_reingest", False))
    settings = Settings(data_dir=data_dir, **overrides)
    ingestor = Ingestor(settings)
    paths = [corpus / f for f in FOLDERS]
    first = ingestor.ingest(paths, root=corpus).as_json()
    out: dict[str, Any] = {**first, "peak_rss_mb": peak_rss_mb()}
    if reingest:
        out["unchanged"] = ingestor.ingest(paths, root=corpus).as_json()
        _drop_last_page(corpus / CHANGED_PDF)
        out["one_changed"] = ingestor.ingest(paths, root=corpus).as_json()
    ingestor.close()
    return out


def _drop_last_page(pdf: Path) -> None:
    """A realistic edit: the same document with its last page removed."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(pdf)
    writer = PdfWriter()
    for page in reader.pages[:-1]:
        writer.add_page(page)
    tmp = pdf.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        writer.write(fh)
    tmp.replace(pdf)


def _run_child(kind: str, corpus: Path, data_dir: Path, overrides: dict[str, Any]) -> dict:
    cmd = [sys.executable, "-m", "bench.ingest", "child", kind, str(corpus), str(data_dir)]
    proc = subprocess.run(
        [*cmd, json.dumps(overrides)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _cli_unchanged(corpus: Path, data_dir: Path, overrides: dict[str, Any]) -> float:
    """Wall seconds of a fresh ``s3assist ingest`` over the unchanged corpus."""
    env = {**os.environ, "S3ASSIST_DATA_DIR": str(data_dir)}
    env.update({f"S3ASSIST_{k.upper()}": str(v) for k, v in overrides.items()})
    exe = Path(sys.executable).with_name("s3assist")
    cmd = [str(exe), "ingest", "--json", "--root", str(corpus)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, *(str(corpus / f) for f in FOLDERS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    try:  # exit status 1 only says that some file failed (the image-only PDF): expected
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"s3assist ingest failed:\n{proc.stderr[-3000:]}") from None
    if report["chunks_embedded"]:
        raise RuntimeError(f"re-ingest of the unchanged corpus embedded: {report}")
    return seconds


# -- the benchmark -----------------------------------------------------------------------
def _make_corpus(dest: Path, quick: bool) -> Path:
    for folder in FOLDERS:
        (dest / folder).mkdir(parents=True, exist_ok=True)
    if quick:
        for rel in QUICK_FILES:
            shutil.copy(CORPUS / rel, dest / rel)
    else:
        for folder in FOLDERS:
            shutil.copytree(CORPUS / folder, dest / folder, dirs_exist_ok=True)
    return dest


def run(
    quick: bool = False,
    repeats: int | None = None,
    configs: list[str] | None = None,
    markdown: bool = True,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark; write bench/results/ingest[-quick].json and (full runs) BENCHMARKS.md."""
    repeats = repeats or (1 if quick else 3)
    names = configs or [n for n, c in CONFIGS.items() if c.quick or not quick]
    runs: dict[str, list[dict[str, Any]]] = {"naive": [], **{n: [] for n in names}}
    with tempfile.TemporaryDirectory(prefix="s3bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        source = _make_corpus(tmp / "corpus", quick)
        # One ONNX export for every run (timed apart): a user exports once per machine.
        model_cache = tmp / "models"
        t0 = time.perf_counter()
        _run_child("export", source, model_cache, {})
        export: dict[str, Any] = {"seconds": time.perf_counter() - t0}
        write_results(_raw_name(quick), {"runs": runs, "repeats": repeats, "onnx_export": export})
        for rep in range(repeats):
            for name in runs:
                cfg = CONFIGS.get(name, Config("naive"))
                corpus = tmp / f"corpus-{name}-{rep}"
                shutil.copytree(source, corpus)
                data = tmp / f"data-{name}-{rep}"
                data.mkdir(parents=True)
                overrides = dict(cfg.overrides)
                if name != "naive":
                    overrides["model_cache_dir"] = str(model_cache)
                if cfg.reingest and (rep == 0 or not quick):
                    overrides["_reingest"] = True
                print(f"  [{rep + 1}/{repeats}] {name} ...", flush=True)
                result = _run_child(name if name == "naive" else "ours", corpus, data, overrides)
                runs[name].append(result)
                if cfg.reingest:
                    result["cli_unchanged_s"] = _cli_unchanged(
                        corpus, data, {**cfg.overrides, "model_cache_dir": model_cache}
                    )
                # partial figures survive a stop: ``python -m bench.ingest --from-raw``
                write_results(
                    _raw_name(quick), {"runs": runs, "repeats": repeats, "onnx_export": export}
                )
                print(f"      {result['seconds']:.1f} s, {result['chunks']} chunks", flush=True)
                if keep is not None and rep == 0:  # e.g. to evaluate retrieval on this index
                    shutil.copytree(data, keep / name, symlinks=False, dirs_exist_ok=True)
                shutil.rmtree(data, ignore_errors=True)
                shutil.rmtree(corpus, ignore_errors=True)
    return finish(runs, quick, repeats, export, markdown)


def _raw_name(quick: bool) -> str:
    return "ingest-quick-raw" if quick else "ingest-raw"


def finish(
    runs: dict[str, list[dict[str, Any]]],
    quick: bool,
    repeats: int,
    export: dict[str, Any],
    markdown: bool = True,
) -> dict[str, Any]:
    """Medians, ratios, JSON and the BENCHMARKS.md section from the per-run figures."""
    runs = {name: rows for name, rows in runs.items() if rows}
    names = [n for n in runs if n != "naive"]
    summary = {name: _summarise(rows) for name, rows in runs.items()}
    base = summary["naive"]["seconds"]
    for row in summary.values():
        row["speedup_vs_naive"] = base / row["seconds"] if row["seconds"] else 0.0
    results: dict[str, Any] = {
        "quick": quick,
        "repeats": repeats,
        "corpus": [str(CORPUS / f) for f in (QUICK_FILES if quick else FOLDERS)],
        "onnx_export": export,
        "configs": {n: CONFIGS[n].overrides for n in names},
        "summary": summary,
        "runs": runs,
    }
    write_results("ingest-quick" if quick else "ingest", results)
    if markdown and not quick:
        update_benchmarks_md("ingest", render_markdown(results))
    return results


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str, sub: str | None = None) -> float:
        vals = [(r[sub] if sub else r).get(key) for r in rows if not sub or sub in r]
        return median([float(v) for v in vals if v is not None])

    seconds = med("seconds")
    pages, chunks = med("pages"), med("chunks")
    out: dict[str, Any] = {
        "seconds": seconds,
        "pages": pages,
        "chunks": chunks,
        "pages_per_s": pages / seconds if seconds else 0.0,
        "chunks_per_s": chunks / seconds if seconds else 0.0,
        "times": {k: median([r["times"][k] for r in rows]) for k in rows[0]["times"]},
        "peak_rss_mb": med("peak_rss_mb"),
    }
    if any("unchanged" in r for r in rows):
        unchanged = [r["unchanged"]["seconds"] for r in rows if "unchanged" in r]
        changed = [r["one_changed"] for r in rows if "one_changed" in r]
        out["reingest"] = {
            "unchanged_s": median(unchanged),
            "unchanged_cli_s": median([r["cli_unchanged_s"] for r in rows]),
            "one_changed_s": median([c["seconds"] for c in changed]),
            "one_changed_chunks_embedded": median([c["chunks_embedded"] for c in changed]),
        }
        out["reingest"]["unchanged_speedup"] = seconds / max(median(unchanged), 1e-9)
        out["reingest"]["one_changed_speedup"] = seconds / max(
            out["reingest"]["one_changed_s"], 1e-9
        )
    return out


def render_markdown(data: dict[str, Any]) -> str:
    s = data["summary"]
    head = ["configuration", "s", "pages/s", "chunks", "chunks/s", "parse s", "chunk s"]
    head += ["embed s", "store s", "peak RSS MiB", "× naive"]
    rows = []
    for name, row in s.items():
        label = "naive LangChain baseline" if name == "naive" else CONFIGS[name].label
        t = row["times"]
        rows.append(
            [
                label,
                row["seconds"],
                row["pages_per_s"],
                int(row["chunks"]),
                row["chunks_per_s"],
                t["parse_s"],
                t["chunk_s"],
                t["embed_s"],
                t["store_s"],
                row["peak_rss_mb"],
                f"{row['speedup_vs_naive']:.2f}",
            ]
        )
    re_rows = []
    for name, row in s.items():
        if r := row.get("reingest"):
            re_rows.append(
                [
                    CONFIGS[name].label,
                    row["seconds"],
                    r["unchanged_s"],
                    f"{r['unchanged_speedup']:.0f}×",
                    r["unchanged_cli_s"],
                    r["one_changed_s"],
                    f"{r['one_changed_speedup']:.1f}×",
                    int(r["one_changed_chunks_embedded"]),
                ]
            )
    export = data.get("onnx_export", {}).get("seconds")
    parts = [
        "## Ingest",
        "",
        f"Machine: {machine_markdown()}.",
        "",
        f"Command: `python -m bench ingest` — corpus `{CORPUS}/{{strategies,guidance}}` copied to "
        f"a temp dir, each run a fresh process and data dir, median of {data['repeats']} "
        "interleaved repeats. Times include loading the models; the stage split is the "
        "pipeline's own `times` (the naive one: loader / splitter / embeddings / the rest of "
        "`Chroma.from_documents`, model load included there). `× naive` = naive seconds / "
        "these seconds. Our default pipeline embeds every chunk twice (MiniLM + multilingual "
        "USE, for cross-language search); the MiniLM-only rows are the like-for-like "
        "comparison with the naive pipeline, which embeds once.",
        "",
        markdown_table(head, rows),
    ]
    if export:
        parts += ["", f"One-off ONNX export + int8 quantisation (cached): {export:.1f} s."]
    if re_rows:
        parts += [
            "",
            "### Re-ingest",
            "",
            "Same data dir after the first ingest. `one PDF changed`: "
            f"`{CHANGED_PDF}` with its last page removed.",
            "",
            markdown_table(
                [
                    "configuration",
                    "first ingest s",
                    "unchanged s",
                    "speedup",
                    "unchanged, fresh CLI process s",
                    "one PDF changed s",
                    "speedup",
                    "chunks re-embedded",
                ],
                re_rows,
            ),
        ]
    return "\n".join(parts)


def main(argv: list[str]) -> None:
    if argv and argv[0] == "child":
        kind, corpus, data_dir = argv[1], Path(argv[2]), Path(argv[3])
        overrides = json.loads(argv[4]) if len(argv) > 4 else {}
        print(json.dumps(_child(kind, corpus, data_dir, overrides), default=str))
        return
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--configs", help="comma-separated names of CONFIGS")
    parser.add_argument("--keep", type=Path, help="copy each configuration's first data dir here")
    parser.add_argument(
        "--from-raw", action="store_true", help="summarise bench/results/ingest-raw.json only"
    )
    parser.add_argument(
        "--embedders", action="store_true", help="only time the embedding options on one PDF"
    )
    args = parser.parse_args(argv)
    if args.embedders:
        embedder_ladder(32 if args.quick else 256, 1 if args.quick else 3, quick=args.quick)
        return
    if args.from_raw:
        raw = json.loads((common.RESULTS_DIR / f"{_raw_name(args.quick)}.json").read_text())
        finish(raw["runs"], args.quick, raw.get("repeats", 1), raw.get("onnx_export", {}))
        return
    configs = args.configs.split(",") if args.configs else None
    run(quick=args.quick, repeats=args.repeats, configs=configs, keep=args.keep)


# -- the embedding step alone ------------------------------------------------------------
LADDER_PDF = "strategies/NL_Northern_Netherlands_RIS3.pdf"


def embedder_ladder(n_texts: int = 256, repeats: int = 3, quick: bool = False) -> dict[str, Any]:
    """Chunks/s of each embedding option on the same real chunks, in one process, interleaved:
    the per-step gains of the embed stage without parse/store noise. Writes
    bench/results/ingest-embedders.json and the ``ingest-embedders`` BENCHMARKS.md section."""
    import s3assist  # noqa: F401
    from ingest.pipeline import Ingestor
    from s3assist.settings import Settings
    from vectorstore.embeddings import make_embedder

    with tempfile.TemporaryDirectory(prefix="s3bench-ladder-") as tmp:
        settings = Settings(data_dir=Path(tmp), multilingual_index=False)
        docs, _, _ = Ingestor(settings)._prepare(CORPUS / LADDER_PDF, LADDER_PDF, {})
        texts = [d.page_content for d in docs][:n_texts]
        cache = Path(tmp) / "cache"
        torch32: Any = make_embedder("minilm", 32)
        steps: dict[str, Any] = {
            "sentence-transformers encode (as HuggingFaceEmbeddings), batch 32": lambda: (
                torch32.model.encode(texts, batch_size=32, normalize_embeddings=True)
            ),
            "torch, token-sorted batches of 32 (default)": lambda: torch32.embed_documents(texts),
            "torch, token-sorted, batch 128": lambda: make_embedder("minilm", 128).embed_documents(
                texts
            ),
            "ONNX fp32, token-sorted, batch 32": lambda: make_embedder(
                "minilm", 32, backend="onnx", cache_dir=cache
            ).embed_documents(texts),
            "ONNX int8, token-sorted, batch 32": lambda: make_embedder(
                "minilm", 32, backend="onnx-int8", cache_dir=cache
            ).embed_documents(texts),
            "multilingual USE (second embedding of our default)": lambda: make_embedder(
                "use"
            ).embed_documents(texts),
        }
        for step in steps.values():  # load models, export ONNX: not timed
            step()
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(repeats):
            for name, step in steps.items():
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
    rows = {name: len(texts) / median(t) for name, t in times.items()}
    results = {"texts": len(texts), "repeats": repeats, "seconds": times, "chunks_per_s": rows}
    write_results("ingest-embedders-quick" if quick else "ingest-embedders", results)
    if quick:
        return results
    base = rows[next(iter(rows))]
    table = markdown_table(
        ["embedding step", "chunks/s", "× sentence-transformers encode"],
        [[name, cps, f"{cps / base:.2f}"] for name, cps in rows.items()],
    )
    update_benchmarks_md(
        "ingest-embedders",
        "### The embedding step alone\n\n"
        f"`python -m bench.ingest --embedders`: the first {len(texts)} chunks of `{LADDER_PDF}` "
        f"embedded by each option in one process, median of {repeats} interleaved repeats "
        "(models loaded and the ONNX graph exported before timing).\n\n" + table,
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
