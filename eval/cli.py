"""``s3assist eval ...``: measurement commands (a typer sub-app mounted by ``s3assist.cli``).

Heavy imports happen inside the commands, so ``s3assist --help`` stays fast.
Exit codes: 0 success; 1 error (nothing measured); 3 partial (some variants skipped).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

DATASETS = Path(__file__).resolve().parent / "datasets"
EXIT_PARTIAL = 3

eval_app = typer.Typer(
    no_args_is_help=True,
    help="Measure retrieval and answers against the hand-checked datasets.",
)
console = Console(stderr=True)


CorpusOpt = Annotated[Path, typer.Option(help="Corpus root the gold files are relative to.")]
OutOpt = Annotated[Path | None, typer.Option(help="Output folder (default eval/runs/<timestamp>).")]


@eval_app.command("retrieval")
def retrieval(
    dataset: Annotated[
        Path,
        typer.Option(
            help="Retrieval dataset (JSONL with page-level gold), or an answer set "
            "(answers_*.jsonl: its answerable questions are the queries)."
        ),
    ] = DATASETS / "retrieval_dev.jsonl",
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    variants: Annotated[
        str,
        typer.Option(
            help="Comma-separated: naive, bm25, dense, multilingual, hybrid, hybrid_rescored, "
            "store (plain chunk-store dense search)."
        ),
    ] = "naive,bm25,dense,multilingual,hybrid,hybrid_rescored",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Score retriever variants at page level (hit@k, recall@10, MRR, nDCG@10, latency)."""
    from eval.datasets import DatasetError
    from eval.retrieval import run_retrieval_eval
    from ingest.errors import EmbedderMismatchError
    from s3assist.settings import get_settings

    names = [v.strip() for v in variants.split(",") if v.strip()]
    out_dir = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if not corpus.is_dir():
        _fail(f"corpus folder not found: {corpus}", as_json)
    if not dataset.is_file():
        _fail(f"dataset not found: {dataset}", as_json)
    try:
        result = run_retrieval_eval(
            get_settings(), dataset, names, out_dir, corpus, quiet=quiet or as_json
        )
    except (DatasetError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        sys.stdout.write(json.dumps(result.summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.markdown)
        console.print(f"written to {result.out_dir}/ (summary.json, per_query.jsonl, retrieval.md)")
    if result.skipped:
        raise typer.Exit(EXIT_PARTIAL)


@eval_app.command("answers")
def answers(
    dataset: Annotated[
        Path,
        typer.Option(help="Answer set (JSONL: questions, reference answers, key facts, gold)."),
    ] = DATASETS / "answers_dev.jsonl",
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    backends: Annotated[
        str,
        typer.Option(
            help="Comma-separated: extractive, local, openai, naive (top-4 naive chunks "
            "through the local model with a plain prompt)."
        ),
    ] = "extractive,local,naive",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N questions (after --ids).")
    ] = None,
    ids: Annotated[
        str | None, typer.Option(help="Comma-separated question ids to run (e.g. a001,a087).")
    ] = None,
    rescore: Annotated[
        Path | None,
        typer.Option(
            help="Re-score a finished run folder (key facts, similarity) from its stored "
            "answers instead of running backends."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Score answer backends: key facts, similarity, citations (gold pages, ALCE recall and
    precision), refusals, latency and tokens."""
    from eval.answers import rescore_run, run_answer_eval
    from eval.datasets import DatasetError
    from ingest.errors import EmbedderMismatchError
    from s3assist.settings import get_settings

    if rescore is not None:
        if not (rescore / "per_question.jsonl").is_file():
            _fail(f"no per_question.jsonl in {rescore}", as_json)
        try:
            result = rescore_run(get_settings(), rescore, dataset)
        except (DatasetError, ValueError, OSError) as exc:
            _fail(str(exc), as_json)
            return
        _print_answers(result, as_json)
        return
    names = [b.strip() for b in backends.split(",") if b.strip()]
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    out_dir = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if not corpus.is_dir():
        _fail(f"corpus folder not found: {corpus}", as_json)
    if not dataset.is_file():
        _fail(f"dataset not found: {dataset}", as_json)
    try:
        result = run_answer_eval(
            get_settings(),
            dataset,
            names,
            out_dir,
            corpus,
            limit,
            ids=wanted,
            quiet=quiet or as_json,
        )
    except (DatasetError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    _print_answers(result, as_json)
    if result.skipped:
        raise typer.Exit(EXIT_PARTIAL)


def _print_answers(result: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.markdown)
        console.print(
            f"written to {result.out_dir}/ (summary.json, per_question.jsonl, answers.md)"
        )


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    else:
        console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)
