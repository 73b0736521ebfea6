"""Eval reports in the web app: ``/reports`` lists the run folders under ``settings.eval_dir``,
``/reports/{run}`` shows one run's self-contained ``report.html`` (rendered on the fly when a
run folder has none; nothing is written). Read-only, like search: a reader may see how good the
assistant is.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

reports_router = APIRouter(tags=["eval"])


def _root(request: Request) -> Path:
    settings = request.app.state.services.settings
    return Path(settings.eval_dir).resolve()


def _run_folder(root: Path, run: str) -> Path:
    """The run folder ``run`` names, refusing anything outside ``root`` (no ``..`` escapes)."""
    folder = (root / run).resolve()
    known = (folder / "summary.json").is_file() or (folder / "report.html").is_file()
    if not folder.is_relative_to(root) or not known:
        raise HTTPException(404, f"no eval run {run!r}")
    return folder


@reports_router.get("/reports", response_class=HTMLResponse)
def list_reports(request: Request) -> str:
    """An HTML index of the eval runs, newest first."""
    from eval.runs import find_runs, load_run

    root = _root(request)
    rows = []
    combined = [
        p.parent for p in root.rglob("report.html") if not (p.parent / "summary.json").exists()
    ]
    for folder in [*combined, *find_runs(root)]:
        kind, systems, date = "combined", "", ""
        if folder not in combined:
            try:
                run = load_run(folder)
            except (ValueError, OSError):
                continue
            kind, systems = run.kind, ", ".join(run.systems)
            date = str(run.summary.get("date", ""))
        rel = folder.relative_to(root).as_posix()
        rows.append(
            f'<tr><td><a href="/reports/{html.escape(rel)}">{html.escape(rel)}</a></td>'
            f"<td>{kind}</td><td>{html.escape(systems)}</td><td>{html.escape(date)}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4">No eval runs yet.</td></tr>'
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Eval reports</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:3px 8px;"
        "border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        "<h1>Evaluation reports</h1><p>Made by <code>s3assist eval ...</code>; see "
        "<code>eval/reports/README.md</code>.</p><table><tr><th>run</th><th>kind</th>"
        f"<th>systems</th><th>date</th></tr>{body}</table></body></html>"
    )


@reports_router.get("/reports/{run:path}", response_class=HTMLResponse)
def show_report(run: str, request: Request) -> Any:
    from eval.report import REPORT_NAME, render_html
    from eval.runs import RunError, load_run

    folder = _run_folder(_root(request), run)
    report = folder / REPORT_NAME
    if report.is_file():
        return HTMLResponse(report.read_text(encoding="utf-8"))
    try:
        return HTMLResponse(render_html([load_run(folder)]))
    except RunError as exc:
        raise HTTPException(404, str(exc)) from exc
