"""HTML and Markdown the UI shows: answer text, source cards, search results with highlights.

Everything from documents or users is escaped before it is wrapped in markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from assistant.answer import Answer, Source
from ingest.manifest import DocumentRow
from vectorstore.store import Hit

_CITE = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_WORD = re.compile(r"\w{3,}", re.UNICODE)
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "the and for with what which how does are was were this that from into its their there "
        "about should could would have has had can who whom why when where",
    )
)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def source_label(src: Source) -> str:
    """``[n] title — region · file, p. N`` for a source card."""
    place = f" — {src.region}" if src.region else ""
    return f"[{src.n}] {_short(src.title or src.file, 70)}{place} · {src.file}, p. {src.page}"


def source_choice(src: Source) -> str:
    """The short label of a source in the preview picker."""
    return f"[{src.n}] {Path(src.file).name}, p. {src.page}"


def cited_sentences(answer: Answer, n: int) -> list[str]:
    """The answer's sentences citing source ``n``, without their citation markers."""
    return [_CITE.sub("", s.text).strip() for s in answer.sentences if n in s.cited]


def mark_all(text: str, needles: Iterable[str]) -> str:
    """``text`` escaped, with each needle occurrence (case-insensitive) in ``<mark>``."""
    wanted = sorted({n for n in needles if n.strip()}, key=len, reverse=True)
    if not wanted:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(n) for n in wanted), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[last : m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def answer_markdown(answer: Answer) -> str:
    """The chat message for a finished answer: text, notices, references."""
    parts = [answer.answer]
    if answer.refused and answer.related:
        related = "; ".join(f"{s.file}, p. {s.page}" for s in answer.related)
        parts.append(f"*Related material (does not answer the question): {related}*")
    for notice in answer.notices:
        parts.append(f"> **Note:** {notice}")
    cites = answer.citations()
    if cites:
        parts.append("\n".join(f"**[{c['n']}]** {c['file']}, p. {c['page']}  " for c in cites))
    return "\n\n".join(parts)


def sources_html(answer: Answer) -> str:
    """Source cards: [n] title — region · file, page, the passage with cited text marked."""
    shown = answer.related if answer.refused else answer.sources
    if not shown:
        return "<p class='s3-empty'>No sources for this answer.</p>"
    cited = set(answer.cited_numbers)
    cards = []
    if answer.refused:
        cards.append("<p class='s3-note'>Related material — it does not answer the question.</p>")
    for src in shown:
        marks = cited_sentences(answer, src.n)
        body = mark_all(src.text, marks)
        css = "s3-source s3-cited" if src.n in cited else "s3-source"
        badge = " <span class='s3-badge'>cited</span>" if src.n in cited else ""
        cards.append(
            f"<div class='{css}'><div class='s3-source-head'>{html.escape(source_label(src))}"
            f"{badge}</div><div class='s3-passage'>{body}</div></div>"
        )
    return "<div class='s3-source-list'>" + "\n".join(cards) + "</div>"


def query_terms(query: str, keyword: str = "") -> list[str]:
    terms = [w for w in _WORD.findall(query) if w.lower() not in STOPWORDS]
    return [*terms, keyword.strip()] if keyword.strip() else terms


def snippet(text: str, terms: list[str], width: int = 320) -> str:
    """About ``width`` characters of ``text`` around the first query term."""
    flat = " ".join(text.split())
    lower = flat.lower()
    hits = [lower.find(t.lower()) for t in terms if lower.find(t.lower()) >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    cut = flat[start : start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(flat) else "")


def results_html(hits: list[Hit], query: str, keyword: str = "") -> str:
    if not hits:
        return "<p class='s3-empty'>No results. Loosen the filters or rephrase the query.</p>"
    terms = query_terms(query, keyword)
    rows = []
    for i, h in enumerate(hits, 1):
        meta = h.metadata
        place = meta.get("region") or meta.get("country_name") or meta.get("country") or ""
        rows.append(
            "<tr>"
            f"<td>{i}</td><td>{h.score:.3f}</td>"
            f"<td><b>{html.escape(_short(str(meta.get('title') or h.file), 90))}</b><br>"
            f"<small>{html.escape(h.file)}</small></td>"
            f"<td>{html.escape(str(place))}</td><td>{h.page}</td>"
            f"<td>{mark_all(snippet(h.text, terms), terms)}</td>"
            "</tr>"
        )
    head = "".join(f"<th>{c}</th>" for c in ("#", "score", "document", "region", "page", "passage"))
    body = "".join(rows)
    return f"<table class='s3-results'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def library_html(rows: list[DocumentRow]) -> str:
    """The manifest as a table: file, title, type, place, pages, chunks, status, error."""
    head = "".join(
        f"<th>{c}</th>"
        for c in ("file", "title", "type", "country / region", "pages", "chunks", "status", "error")
    )
    body = []
    for r in rows:
        m = r.metadata
        place = " / ".join(str(v) for v in (m.get("country"), m.get("region")) if v)
        status = f"<span class='s3-status-{html.escape(r.status)}'>{html.escape(r.status)}</span>"
        body.append(
            f"<tr><td>{html.escape(r.doc_id)}</td>"
            f"<td>{html.escape(_short(str(m.get('title', '')), 70))}</td>"
            f"<td>{html.escape(str(m.get('doc_type', '')))}</td><td>{html.escape(place)}</td>"
            f"<td>{r.pages}</td><td>{r.chunks}</td><td>{status}</td>"
            f"<td class='s3-error'>{html.escape(r.error)}</td></tr>"
        )
    return (
        f"<table class='s3-results' id='s3-library-table'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
