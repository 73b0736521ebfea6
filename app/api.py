"""The HTTP API: OpenAI-compatible chat, search, the document library and health.

Handlers are plain ``def``: FastAPI runs them in worker threads, so model inference does not
block the event loop. Uploads and deletes need an admin (HTTP Basic, :mod:`app.auth`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.auth import require_admin
from app.chat import (
    ChatRequest,
    ConversationError,
    backend_for,
    completion,
    conversation,
    stream_events,
)
from app.feedback import VERDICTS, Feedback
from app.gate import GateBusy, Ticket
from app.helpdesk import STATUSES, EntryNotFound, HelpdeskStore, helpdesk_of
from app.services import AppServices, DocumentNotFound
from app.uploads import UploadRejected, save_upload
from assistant.pipeline import Assistant
from assistant.retriever import KEYWORD
from ingest.errors import EmbedderMismatchError
from ingest.manifest import DocumentRow
from vectorstore.filters import FilterError, build_where

router = APIRouter()


class FeedbackIn(BaseModel):
    verdict: str = Field(pattern="^(" + "|".join(VERDICTS) + ")$")
    question: str = Field(min_length=1, max_length=20_000)
    answer: str = Field(max_length=100_000)
    sources: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    backend: str = Field("", max_length=50)
    settings_hash: str = Field("", max_length=64)
    comment: str = Field("", max_length=5_000)


class MetadataEdit(BaseModel):
    """Metadata an admin sets on a document; a field left out keeps its value, ``null`` or ""
    goes back to the inferred value."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=500)
    doc_type: str | None = Field(None, pattern="^(strategy|guidance|other)?$")
    country: str | None = Field(None, max_length=10)
    region: str | None = Field(None, max_length=200)
    nuts_code: str | None = Field(None, max_length=10)
    territorial_level: str | None = Field(None, pattern="^(national|regional)?$")
    language: str | None = Field(None, max_length=10)
    year: int | None = Field(None, ge=0, le=2100)


Admin = Annotated[str, Depends(require_admin)]
EntryId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="Helpdesk entry id.")]
"""Bounded to SQLite's INTEGER: a larger id is a 422, not an overflow inside the store."""
DocId = Annotated[str, PathParam(max_length=1024, description="Document id (relative path).")]


def services(request: Request) -> AppServices:
    return request.app.state.services


Services = Annotated[AppServices, Depends(services)]


def _checked_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Validate metadata filters (422 naming the bad field) before any model runs."""
    try:
        build_where({f: v for f, v in filters.items() if f != KEYWORD})
    except FilterError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {f: v for f, v in filters.items() if v not in (None, "", [])}


def _assistant(svc: AppServices) -> Assistant:
    """The loaded assistant, or 503 when the index cannot be opened (e.g. built with another
    embedder: the message says how to rebuild)."""
    try:
        return svc.assistant
    except EmbedderMismatchError as exc:
        raise HTTPException(503, str(exc)) from exc


def row_json(row: DocumentRow) -> dict[str, Any]:
    return {
        "doc_id": row.doc_id,
        "file": row.doc_id,
        "status": row.status,
        "pages": row.pages,
        "chunks": row.chunks,
        "metadata": row.metadata,
        "error": row.error,
        "error_kind": row.error_kind,
        "updated_at": row.updated_at,
    }


@router.get("/health", tags=["service"])
def health(svc: Services) -> dict[str, Any]:
    rows = svc.documents()
    return {
        "status": "ok",
        "documents": sum(r.status == "indexed" for r in rows),
        "failed_documents": sum(r.status == "failed" for r in rows),
        "backends": svc.backends(),
        "default_backend": svc.settings.llm_backend,
    }


@router.get("/v1/models", tags=["chat"])
def models(svc: Services) -> dict[str, Any]:
    """The answer backends usable as ``model`` in chat completions."""
    usable = [name for name, problem in svc.backends().items() if not problem]
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "owned_by": "s3assist"} for m in usable],
    }


@router.post(
    "/v1/chat/completions",
    tags=["chat"],
    response_model=None,
    responses={429: {"description": "The model is busy: retry after `Retry-After` seconds."}},
)
def chat_completions(body: ChatRequest, svc: Services) -> dict[str, Any] | StreamingResponse:
    """OpenAI-compatible chat: the last user message is the question, earlier turns history."""
    try:
        question, history = conversation(body, svc.settings.max_question_chars)
    except ConversationError as exc:
        raise HTTPException(422, str(exc)) from exc
    filters = _checked_filters(dict(body.filters or {}))
    backend = backend_for(body.model)
    model = body.model or svc.settings.llm_backend
    assistant = _assistant(svc)
    ticket = _generation_slot(svc, backend)
    if body.stream:
        items = assistant.stream(question, history, backend, filters)
        return StreamingResponse(
            _releasing(stream_events(items, model), ticket),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        return completion(assistant.ask(question, history, backend, filters), model)
    finally:
        if ticket is not None:
            ticket.release()


def _generation_slot(svc: AppServices, backend: str | None) -> Ticket | None:
    """A generation slot for model backends (None for extractive answers, which need none);
    429 with ``Retry-After`` when the model is busy beyond its queue or the wait ran out."""
    if not svc.uses_model(backend):
        return None
    try:
        return svc.gate.acquire()
    except GateBusy as exc:
        raise HTTPException(
            429,
            f"{exc} (Retry-After: {exc.retry_after} s)",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


def _releasing(events: Iterator[str], ticket: Ticket | None) -> Iterator[str]:
    """Stream ``events``, then free the generation slot (also when the client goes away)."""
    try:
        yield from events
    finally:
        if ticket is not None:
            ticket.release()


Filter = Annotated[
    str | None, Query(max_length=500, description="A metadata value (a,b = either).")
]


@router.get("/search", tags=["search"])
def search(
    svc: Services,
    q: Annotated[str, Query(min_length=1, max_length=4000, description="What to look for.")],
    k: Annotated[int | None, Query(ge=1, le=200, description="Number of hits.")] = None,
    country: Filter = None,
    doc_type: Filter = None,
    language: Filter = None,
    year: Filter = None,
    territorial_level: Filter = None,
    nuts_code: Filter = None,
    region: Filter = None,
    keyword: Annotated[
        str | None, Query(max_length=200, description="Only passages containing this text.")
    ] = None,
) -> dict[str, Any]:
    """Hybrid search with S3 filters (``a,b`` = either value); ``keyword`` must appear."""
    if len(q) > svc.settings.max_question_chars:
        raise HTTPException(
            422, f"the query is longer than {svc.settings.max_question_chars} characters"
        )
    filters = _checked_filters(
        {
            "country": country,
            "doc_type": doc_type,
            "language": language,
            "year": year,
            "territorial_level": territorial_level,
            "nuts_code": nuts_code,
            "region": region,
            KEYWORD: keyword,
        }
    )
    hits = _assistant(svc).retriever.search(q, k or svc.settings.search_k, filters)
    return {"hits": [h.as_json() for h in hits]}


@router.get("/documents", tags=["library"])
def list_documents(svc: Services) -> dict[str, Any]:
    return {"documents": [row_json(r) for r in svc.documents()]}


@router.post("/documents", tags=["library"], status_code=201)
def upload_document(
    svc: Services, admin: Admin, file: Annotated[UploadFile, File(description="The document.")]
) -> JSONResponse:
    """Save the file under ``data_dir/uploads`` and ingest it; the ingest report comes back
    (201; 422 with the same report when the file could not be indexed, e.g. needs OCR)."""
    try:
        path = save_upload(file.file, file.filename or "", svc.settings)
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    doc_id, report = svc.ingest(path)
    body = {"doc_id": doc_id, "uploaded_by": admin, **report.as_json()}
    return JSONResponse(body, status_code=422 if report.failed else 201)


def _edited(doc_id: str, run: Any) -> dict[str, Any]:
    try:
        row, report = run()
    except DocumentNotFound as exc:
        raise HTTPException(404, f"no ingested document {doc_id!r}") from exc
    except FileNotFoundError as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"document": row_json(row), "report": report.as_json()}


@router.patch("/documents/{doc_id:path}", tags=["library"])
def edit_document(doc_id: DocId, body: MetadataEdit, svc: Services, admin: Admin) -> JSONResponse:
    """Save metadata overrides (highest precedence, kept across re-ingests) and re-ingest the
    document; 422 for unknown fields or bad values, or when the re-ingest failed."""
    result = _edited(doc_id, lambda: svc.edit_metadata(doc_id, body.model_dump(exclude_unset=True)))
    failed = bool(result["report"]["failed"])
    return JSONResponse({**result, "edited_by": admin}, status_code=422 if failed else 200)


@router.post("/documents/{doc_id:path}/reingest", tags=["library"])
def reingest_document(doc_id: DocId, svc: Services, admin: Admin) -> JSONResponse:
    """Re-run one document from its file (409 when the file is gone)."""
    result = _edited(doc_id, lambda: svc.reingest(doc_id))
    failed = bool(result["report"]["failed"])
    return JSONResponse({**result, "by": admin}, status_code=422 if failed else 200)


@router.delete("/documents/{doc_id:path}", tags=["library"])
def delete_document(doc_id: DocId, svc: Services, admin: Admin) -> dict[str, Any]:
    rows = svc.delete(doc_id)
    if not rows:
        raise HTTPException(404, f"no ingested document matches {doc_id!r}")
    return {"deleted": [r.doc_id for r in rows], "deleted_by": admin}


@router.post("/feedback", tags=["feedback"], status_code=201)
def add_feedback(body: FeedbackIn, svc: Services) -> dict[str, Any]:
    """Record a reader's verdict on an answer: correct, incorrect or wrong_evidence."""
    return {"id": svc.feedback.add(Feedback(**body.model_dump()))}


class HelpdeskQuestion(BaseModel):
    question: str = Field(min_length=1, max_length=20_000)


class HelpdeskEdit(BaseModel):
    answer: str = Field(max_length=100_000)
    editor: str = Field("", max_length=200)


def _helpdesk(svc: AppServices) -> HelpdeskStore:
    return helpdesk_of(svc)


def _similar_json(store: HelpdeskStore, question: str, exclude: int) -> list[dict[str, Any]]:
    return [
        {**e.as_json(), "score": round(s, 4)}
        for e, s in store.similar_approved(question, exclude=exclude)
    ]


@router.get("/helpdesk", tags=["helpdesk"])
def list_helpdesk(
    svc: Services,
    q: Annotated[str | None, Query(max_length=1000, description="Text in question/answer.")] = None,
    status: Annotated[
        str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$", description="Entry status.")
    ] = None,
) -> dict[str, Any]:
    """Helpdesk entries, newest first, filtered by status and a case-insensitive text search."""
    return {"entries": [e.as_json() for e in _helpdesk(svc).list(status, q)]}


@router.get("/helpdesk/export.csv", tags=["helpdesk"], response_class=Response)
def export_helpdesk(svc: Services) -> Response:
    return Response(
        _helpdesk(svc).export_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="s3-helpdesk.csv"'},
    )


@router.post("/helpdesk", tags=["helpdesk"], status_code=201)
def draft_helpdesk(body: HelpdeskQuestion, svc: Services) -> dict[str, Any]:
    """Draft an answer with the assistant (extractive); approved answers to similar earlier
    questions come back as ``similar_approved`` (with their cosine ``score``)."""
    if len(body.question) > svc.settings.max_question_chars:
        raise HTTPException(
            422, f"the question is longer than {svc.settings.max_question_chars} characters"
        )
    _assistant(svc)
    store = _helpdesk(svc)
    entry = store.get(store.draft(body.question))
    return {**entry.as_json(), "similar_approved": _similar_json(store, entry.question, entry.id)}


@router.put("/helpdesk/{entry_id}", tags=["helpdesk"])
def edit_helpdesk(entry_id: EntryId, body: HelpdeskEdit, svc: Services) -> dict[str, Any]:
    try:
        return _helpdesk(svc).update(entry_id, body.answer, body.editor).as_json()
    except EntryNotFound as exc:
        raise HTTPException(404, f"no helpdesk entry {entry_id}") from exc


@router.post("/helpdesk/{entry_id}/approve", tags=["helpdesk"])
def approve_helpdesk(entry_id: EntryId, svc: Services, admin: Admin) -> dict[str, Any]:
    try:
        return _helpdesk(svc).approve(entry_id, admin).as_json()
    except EntryNotFound as exc:
        raise HTTPException(404, f"no helpdesk entry {entry_id}") from exc
