"""``s3assist observatory ...`` and ``s3assist partners``: the observatory from the shell.

``--json`` output is stable (other tools read it); everything goes through
:class:`observatory.service.ObservatoryService`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from s3assist.settings import get_settings

observatory_app = typer.Typer(
    no_args_is_help=True,
    help="S3 Observatory: priorities, taxonomy labels, human review, export.",
)
review_app = typer.Typer(no_args_is_help=True, help="Human corrections (they beat the model).")
observatory_app.add_typer(review_app, name="review")
console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
WhoOpt = Annotated[str, typer.Option("--who", help="Who makes the correction.")]
WhyOpt = Annotated[str, typer.Option("--why", help="Why (kept with the correction).")]


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _service() -> Any:
    from observatory.service import ObservatoryService

    return ObservatoryService(get_settings())


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        _emit({"error": message})
    else:
        console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@observatory_app.command()
def extract(
    docs: Annotated[list[str] | None, typer.Argument(help="Doc ids or file names.")] = None,
    min_score: Annotated[float | None, typer.Option(help="Domain score cut-off.")] = None,
    gold: Annotated[
        Path | None, typer.Option(help="Gold JSONL (doc, page, title): print recall too.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract priorities from ingested strategies (all strategies when no DOC is given)."""
    svc = _service()
    report = svc.extract(docs or [], min_score)
    out: dict[str, Any] = report.as_json()
    if gold is not None:
        out["recall"] = [r.as_json() for r in svc.extraction_recall(gold)]
    if as_json:
        _emit(out)
    else:
        for doc, n in report.documents.items():
            console.print(f"{doc}: {n} priorities")
        for f in report.failed:
            console.print(f"[red]failed[/red] {f['doc']}: {f['reason']}")
        for r in out.get("recall", []):
            console.print(f"recall {r['doc']}: {r['found']}/{r['gold']} ({r['recall']:.2f})")
    if report.failed:
        raise typer.Exit(3 if report.documents else 1)


@observatory_app.command("import")
def import_(file: Path, as_json: JsonOpt = False) -> None:
    """Import priorities from CSV/JSON (incl. the Czech NRIS3 regional domains file)."""
    from observatory.importers import ImportError_

    if not file.is_file():
        _fail(f"no such file: {file}", as_json)
    try:
        report = _service().import_file(file)
    except (ImportError_, ValueError, json.JSONDecodeError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        _emit(report.as_json())
    else:
        console.print(
            f"{report.priorities} priorities ({report.new} new) in {report.regions} regions, "
            f"{report.with_labels} with labels"
        )


@observatory_app.command()
def classify(
    text: Annotated[str | None, typer.Argument(help="A priority text; none = all stored.")] = None,
    language: Annotated[str | None, typer.Option(help="Language code of TEXT.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Classify one text (prints the labels), or re-classify every stored priority
    (reviewed labels are kept) and apply the labels to the chunks."""
    svc = _service()
    if text is not None:
        result = svc.classify_text(text, language)
        if as_json:
            _emit(result.as_json())
            return
        for name, labels in result.labels.items():
            for lab in labels:
                console.print(f"{name}: {lab.code} {lab.label} ({lab.confidence:.2f})")
        console.print("keywords: " + ", ".join(result.keywords))
        return
    n = svc.classify_all()
    if as_json:
        _emit({"classified": n})
    else:
        console.print(f"classified {n} priorities; labels applied to their documents' chunks")


@observatory_app.command()
def apply(as_json: JsonOpt = False) -> None:
    """Write each document's priority labels onto its chunks (search filters)."""
    out = _service().apply()
    if as_json:
        _emit({"documents": out})
    else:
        for doc, labels in out.items():
            console.print(f"{doc}: " + "; ".join(f"{k}={','.join(v)}" for k, v in labels.items()))


@observatory_app.command("list")
def list_(
    where: Annotated[
        list[str] | None, typer.Option("--where", help="field=value (country, nuts_code, ...).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List priorities with their effective labels."""
    filters: dict[str, list[str]] = {}
    for arg in where or []:
        key, _, value = arg.partition("=")
        filters.setdefault(key.strip(), []).extend(v for v in value.split(",") if v)
    try:
        ps = _service().priorities(filters)
    except ValueError as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        _emit({"priorities": [p.as_json() for p in ps]})
        return
    table = Table("id", "place", "doc:page", "title", "ecosystems", "NACE")
    for p in ps:
        table.add_row(
            p.priority_id,
            p.nuts_code or p.country or "",
            f"{p.doc_id or ''}:{p.page or ''}",
            p.title[:60],
            ", ".join(lab.code for lab in p.labels.get("ecosystems", [])),
            ", ".join(lab.code for lab in p.labels.get("nace_divisions", []))[:30],
        )
    Console().print(table)


@observatory_app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """All priorities with effective labels (reviews applied)."""
    try:
        text = _service().export(fmt)
    except ValueError as exc:
        _fail(str(exc), False)
        return
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _review_result(items: list[Any], as_json: bool) -> None:
    if as_json:
        _emit({"corrections": [c.as_json() for c in items]})
    else:
        for c in items:
            console.print(f"{c.action} {c.priority_id} {c.field} {c.code} {c.value}".strip())


@review_app.command("add")
def review_add(
    priority_id: str, field: str, code: str, who: WhoOpt, why: WhyOpt = "", as_json: JsonOpt = False
) -> None:
    """Add a label (FIELD = nace_sections|nace_divisions|nabs_chapters|ecosystems|s3_topics)."""
    try:
        _review_result([_service().add_label(priority_id, field, code, who, why)], as_json)
    except (LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""), as_json)


@review_app.command("remove")
def review_remove(
    priority_id: str, field: str, code: str, who: WhoOpt, why: WhyOpt = "", as_json: JsonOpt = False
) -> None:
    """Remove a label, whoever set it."""
    try:
        _review_result([_service().remove_label(priority_id, field, code, who, why)], as_json)
    except (LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""), as_json)


@review_app.command("edit")
def review_edit(
    priority_id: str,
    who: WhoOpt,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    why: WhyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Correct a priority's title and/or description."""
    try:
        _review_result(_service().edit(priority_id, who, why, title, description), as_json)
    except (LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""), as_json)


@review_app.command("list")
def review_list(priority_id: Annotated[str | None, typer.Argument()] = None,
                as_json: JsonOpt = False) -> None:  # fmt: skip
    """The review log (who, when, why)."""
    _review_result(_service().corrections(priority_id), as_json)


@review_app.command("export")
def review_export(output: Annotated[Path | None, typer.Option("--output", "-o")] = None) -> None:
    """The review log as CSV."""
    text = _service().export_review_csv()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@review_app.command("import")
def review_import(file: Path, as_json: JsonOpt = False) -> None:
    """Add the corrections of a review CSV (rows already present are skipped)."""
    try:
        added, skipped = _service().import_review_csv(file)
    except (OSError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        _emit({"added": added, "skipped": skipped})
    else:
        console.print(f"{added} corrections added, {skipped} already present")


def partners(
    region: Annotated[str, typer.Argument(help="NUTS code, country code, name or priority id.")],
    complementary: Annotated[
        bool, typer.Option("--complementary", help="Rank by complementarity.")
    ] = False,
    k: Annotated[int, typer.Option("-k", help="How many partners.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Partner regions with similar (or complementary) S3 priorities, each explained."""
    try:
        matches = _service().partners(region, k=k, complementary=complementary)
    except LookupError as exc:
        _fail(str(exc).strip("'\""), as_json)
        return
    if as_json:
        _emit({"query": region, "partners": [m.as_json() for m in matches]})
        return
    table = Table("region", "score", "sim", "overlap", "compl.", "why")
    for m in matches:
        table.add_row(
            f"{m.region} ({m.nuts_code})",
            f"{m.score:.2f}",
            f"{m.similarity:.2f}",
            f"{m.taxonomy_overlap:.2f}",
            f"{m.complementarity:.2f}",
            m.explanation,
        )
    Console().print(table)
