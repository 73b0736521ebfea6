"""The ``s3assist`` command line. ``--json`` output schemas are stable: other tools read them.

Exit codes: 0 success; 1 error (nothing done); 3 partial success (some files failed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eval.cli import eval_app
from ingest.errors import EmbedderMismatchError
from observatory.cli import observatory_app, partners
from s3assist.backup import backup_command, restore_command
from s3assist.settings import get_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="S3 Assistant: ingest, search and ask Smart Specialisation Strategy documents.",
)
app.add_typer(eval_app, name="eval")
app.add_typer(observatory_app, name="observatory")
app.command("partners")(partners)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
console = Console(stderr=True)
EXIT_PARTIAL = 3

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=None) + "\n")


def _fail(message: str, as_json: bool, code: int = 1) -> None:
    if as_json:
        _emit({"error": message})
    else:
        console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


class _RichProgress:
    """Per-file and per-chunk-batch progress bars for the ingest pipeline."""

    def __init__(self, progress: Progress):
        self.p = progress
        self.files_task = progress.add_task("files", total=0)
        self.chunk_task = progress.add_task("chunks", total=0, visible=False)

    def files(self, total: int) -> None:
        self.p.update(self.files_task, total=total)

    def file_done(self, name: str, status: str) -> None:
        self.p.update(self.files_task, advance=1, description=f"{status}: {name[:40]}")
        self.p.update(self.chunk_task, visible=False)

    def chunks(self, name: str, total: int) -> None:
        self.p.reset(self.chunk_task, total=total, visible=True, description=f"embed {name[:34]}")

    def chunks_done(self, n: int) -> None:
        self.p.update(self.chunk_task, advance=n)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    as_json: JsonOpt = False,
    manifest: Annotated[
        Path | None, typer.Option(help="CSV with a 'file' column and metadata overrides.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="Folder that document ids are relative to.")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Drop the index and re-embed (after changing the embedder).")
    ] = False,
) -> None:
    """Ingest documents: unchanged files skipped, changed ones replaced, removed ones deleted."""
    from ingest.pipeline import Ingestor
    from ingest.pipeline import Progress as NoProgress

    settings = get_settings()
    if rebuild:
        from ingest.pipeline import reset_index

        reset_index(settings)
    try:
        if as_json:
            ingestor = Ingestor(settings, progress=NoProgress())
            report = ingestor.ingest(paths, manifest_csv=manifest, root=root)
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=True) as bar:
                ingestor = Ingestor(settings, progress=_RichProgress(bar))  # type: ignore[arg-type]
                report = ingestor.ingest(paths, manifest_csv=manifest, root=root)
        ingestor.close()
    except (EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        _emit(report.as_json())
    else:
        docs = report.as_json()["documents"]
        console.print(
            f"added {docs['added']}, updated {docs['updated']}, unchanged {docs['unchanged']}, "
            f"deleted {docs['deleted']} documents; {report.chunks_embedded} chunks embedded; "
            f"{report.pages} pages, {report.chunks} chunks in {report.seconds:.1f}s"
        )
        for failure in report.failed:
            console.print(f"[yellow]skipped[/yellow] {failure.file}: {failure.reason}")
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any words.")],
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 0,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", help="Filter field=value (repeatable; a,b = either)."),
    ] = None,
    keyword: Annotated[
        str | None, typer.Option(help="Only passages containing this text (case-insensitive).")
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Retriever: bm25, dense, multilingual, hybrid, hybrid_rescored."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the documents by meaning (hybrid BM25 + dense + multilingual), with S3 filters."""
    from assistant.retriever import KEYWORD, build_retriever
    from vectorstore.filters import FilterError, build_where, parse_where_args

    settings = get_settings()
    try:
        filters: dict[str, Any] = dict(parse_where_args(where or []))
        build_where(filters)  # validate field names and values before loading models
        if keyword:
            filters[KEYWORD] = keyword
        retriever = build_retriever(settings, variant)
        hits = retriever.search(query, k or settings.search_k, filters)
    except (FilterError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        _emit({"hits": [h.as_json() for h in hits]})
        return
    if not hits:
        console.print("no results (is anything ingested? try `s3assist status`)")
        return
    table = Table(show_lines=True)
    for col in ("#", "score", "document", "page", "passage"):
        table.add_column(col)
    for i, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:300]
        table.add_row(str(i), f"{h.score:.3f}", h.file, str(h.page), snippet)
    Console().print(table)


def _print_answer(answer: Any, streamed: bool) -> None:
    out = Console()
    if streamed:
        out.print()
        out.print("[dim]checked answer:[/dim]")
    out.print(answer.answer)
    if answer.refused and answer.related:
        out.print("[dim]related material (does not answer the question):[/dim]")
        for src in answer.related:
            out.print(f"  - {src.file} p.{src.page}: {' '.join(src.text.split())[:160]}")
    for c in answer.citations():
        out.print(f"  [{c['n']}] {c['file']} p.{c['page']}: {' '.join(c['text'].split())[:160]}")
    for notice in answer.notices:
        console.print(f"[yellow]note:[/yellow] {notice}")


def _answer_stream(
    assistant: Any,
    question: str,
    history: list[tuple[str, str]],
    backend: str | None,
    filters: dict[str, Any],
    as_json: bool,
) -> Any:
    from assistant.answer import Answer

    streamed = False
    answer = None
    for item in assistant.stream(question, history, backend, filters):
        if isinstance(item, Answer):
            answer = item
        elif not as_json:
            streamed = True
            sys.stdout.write(item)
            sys.stdout.flush()
    if as_json:
        _emit(answer.as_json())  # type: ignore[union-attr]
    else:
        _print_answer(answer, streamed)
    return answer


BackendOpt = Annotated[
    str | None,
    typer.Option(help="Answer backend: extractive, local or openai (default: settings)."),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option("--where", "-w", help="Filter field=value (repeatable; a,b = either)."),
]


def _make_assistant(where: list[str] | None, as_json: bool) -> tuple[Any, dict[str, Any]]:
    from assistant.pipeline import Assistant
    from vectorstore.filters import FilterError, build_where, parse_where_args

    settings = get_settings()
    try:
        filters: dict[str, Any] = dict(parse_where_args(where or []))
        build_where(filters)
        return Assistant(settings), filters
    except (FilterError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        raise


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about S3 strategies or guidance.")],
    backend: BackendOpt = None,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer from the documents with numbered citations, or say they do not cover it."""
    assistant, filters = _make_assistant(where, as_json)
    _answer_stream(assistant, question, [], backend, filters, as_json)


@app.command()
def chat(
    backend: BackendOpt = None,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Interactive questions with follow-ups (one question per line; empty line or EOF ends)."""
    assistant, filters = _make_assistant(where, as_json)
    history: list[tuple[str, str]] = []
    while True:
        if not as_json:
            console.print("[bold]?[/bold] ", end="")
        line = sys.stdin.readline()
        if not line or not line.strip():
            return
        answer = _answer_stream(assistant, line.strip(), history, backend, filters, as_json)
        history.append((answer.standalone_question, answer.answer))


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Documents, chunks, embedding model and data directory."""
    from ingest.manifest import FAILED, INDEXED, Manifest
    from vectorstore.store import open_collection_info

    settings = get_settings()
    info = open_collection_info(settings)
    manifest = Manifest(settings.records_db)
    rows = manifest.all()
    manifest.close()
    meta = info["metadata"]
    data = {
        "documents": sum(r.status == INDEXED for r in rows),
        "chunks": info["chunks"],
        "failed_documents": [
            {"file": r.doc_id, "reason": r.error} for r in rows if r.status == FAILED
        ],
        "pages": sum(r.pages for r in rows if r.status == INDEXED),
        "embedding_model": meta.get("embedder") or settings.embedding_model,
        "embedding_dimension": meta.get("dimension"),
        "data_dir": str(settings.data_dir.resolve()),
        "collection": settings.collection,
        "chroma": (
            f"http://{settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else "embedded"
        ),
    }
    if as_json:
        _emit(data)
        return
    for key, value in data.items():
        if key == "failed_documents":
            for f in value:
                console.print(f"[yellow]failed[/yellow] {f['file']}: {f['reason']}")
        else:
            console.print(f"{key}: {value}")


@app.command()
def delete(
    doc: Annotated[str, typer.Argument(help="Document id (relative path), path or file name.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a document and all its chunks."""
    from ingest.pipeline import Ingestor

    settings = get_settings()
    try:
        ingestor = Ingestor(settings)
        deleted = ingestor.delete(doc)
        ingestor.close()
    except EmbedderMismatchError as exc:
        _fail(str(exc), as_json)
        return
    if not deleted:
        _fail(f"no ingested document matches {doc!r}", as_json)
    if as_json:
        _emit({"deleted": deleted})
    else:
        console.print(f"deleted {', '.join(deleted)}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: settings, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings, 7860).")] = None,
) -> None:
    """Start the web app (/ui) and the HTTP API (/v1/chat/completions, /search, /documents)."""
    from app.server import serve as run_server

    settings = get_settings()
    console.print(
        f"S3 Assistant on http://{host or settings.host}:{port or settings.port}/ui "
        "(API docs at /docs)"
    )
    run_server(settings, host, port)


if __name__ == "__main__":
    app()
