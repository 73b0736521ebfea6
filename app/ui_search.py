"""The Search tab: hybrid search with S3 filters, highlighted snippets and a CSV export."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from app.render import results_html
from app.services import EMPTY_LIBRARY, AppServices
from assistant.retriever import KEYWORD
from vectorstore.filters import FilterError
from vectorstore.store import Hit

ANY = ("any", "")
CSV_COLUMNS = ("rank", "score", "file", "page", "title", "country", "region", "doc_type", "year")


def write_csv(hits: list[Hit], folder: Path) -> Path:
    path = folder / "s3-search-results.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*CSV_COLUMNS, "text"])
        for i, h in enumerate(hits, 1):
            m = h.metadata
            writer.writerow(
                [i, f"{h.score:.4f}", h.file, h.page]
                + [m.get(c, "") for c in CSV_COLUMNS[4:]]
                + [" ".join(h.text.split())]
            )
    return path


class SearchTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    def search(
        self,
        query: str,
        k: float,
        keyword: str,
        country: str,
        level: str,
        doc_type: str,
        language: str,
        year: str,
    ) -> tuple[str, str | None]:
        query = (query or "").strip()
        if not query:
            return "<p class='s3-empty'>Type what you are looking for.</p>", None
        if self.svc.indexed_count() == 0:
            return f"<p class='s3-empty'>{EMPTY_LIBRARY}</p>", None
        filters: dict[str, Any] = {
            "country": country,
            "territorial_level": level,
            "doc_type": doc_type,
            "language": language,
            "year": year,
            KEYWORD: (keyword or "").strip(),
        }
        filters = {f: v for f, v in filters.items() if v not in (None, "")}
        try:
            hits = self.svc.search(query[: self.svc.settings.max_question_chars], int(k), filters)
        except FilterError as exc:
            return f"<p class='s3-error'>Bad filter: {exc}</p>", None
        csv_path = write_csv(hits, Path(tempfile.mkdtemp(prefix="s3search-"))) if hits else None
        return results_html(hits, query, keyword or ""), str(csv_path) if csv_path else None

    def facet_updates(self) -> tuple[Any, Any, Any]:
        facets = self.svc.facets()
        return tuple(  # type: ignore[return-value]
            gr.update(choices=[ANY, *[(v, v) for v in facets[f]]])
            for f in ("country", "language", "year")
        )

    def build(self) -> None:
        settings = self.svc.settings
        with gr.Row():
            query = gr.Textbox(
                label="Search the documents by meaning",
                placeholder="e.g. monitoring indicators for tourism",
                scale=5,
                elem_id="s3-search-query",
            )
            k = gr.Slider(1, 50, value=settings.search_k, step=1, label="Results", scale=1)
            go = gr.Button("Search", variant="primary", scale=1, elem_id="s3-search-go")
        with gr.Row():
            keyword = gr.Textbox(label="Must contain", elem_id="s3-keyword")
            self.country = gr.Dropdown([ANY], value="", label="Country", elem_id="s3-country")
            level = gr.Dropdown(
                [ANY, ("national", "national"), ("regional", "regional")],
                value="",
                label="Territorial level",
                elem_id="s3-level",
            )
            doc_type = gr.Dropdown(
                [ANY, *[(t, t) for t in ("strategy", "guidance", "other")]],
                value="",
                label="Document type",
                elem_id="s3-doctype",
            )
            self.language = gr.Dropdown([ANY], value="", label="Language", elem_id="s3-language")
            self.year = gr.Dropdown([ANY], value="", label="Year", elem_id="s3-year")
        results = gr.HTML("<p class='s3-empty'>Results appear here.</p>", elem_id="s3-results")
        export = gr.File(label="CSV export", interactive=False, elem_id="s3-csv")
        inputs = [query, k, keyword, self.country, level, doc_type, self.language, self.year]
        go.click(self.search, inputs, [results, export])
        query.submit(self.search, inputs, [results, export])

    @property
    def facet_outputs(self) -> list[gr.Dropdown]:
        return [self.country, self.language, self.year]
