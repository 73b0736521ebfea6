"""The observatory's HTTP API: priorities with filters, regions, taxonomies, classification,
human review (admin), export and partners.

Reading, classifying free text and exporting are open to readers (nothing is stored); every
route that changes stored labels or texts needs an admin (``Admin``, HTTP Basic, as the library
routes). All calls go through :class:`observatory.service.ObservatoryService`; its SQLite
connection is shared by the app's worker threads, so calls are serialised by :data:`LOCK`.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.api import Admin, Services
from app.services import AppServices
from observatory.models import LABEL_FIELDS
from observatory.service import ObservatoryService

observatory_router = APIRouter(prefix="/observatory", tags=["observatory"])
LOCK = threading.RLock()
"""One observatory call at a time (the store's connection is shared by threads)."""
CLASSIFY_LOCK = threading.Lock()
"""Free-text classification loads the models once; it does not need the store."""
FILTER_FIELDS = (
    "country",
    "region",
    "nuts_code",
    "territorial_level",
    "language",
    "doc_id",
    "source",
    *LABEL_FIELDS,
    "q",
)

Filter = Annotated[
    str | None, Query(max_length=500, description="A value; a,b = either (labels: codes).")
]


def observatory_of(svc: AppServices) -> ObservatoryService:
    return svc.observatory


def split_filters(raw: dict[str, str | None]) -> dict[str, Any]:
    """Query values → service filters: ``a,b`` means either for place and label fields; the
    keyword ``q`` is one phrase (all of its words must occur as typed)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value in (None, ""):
            continue
        assert value is not None
        out[key] = value.strip() if key == "q" else [v.strip() for v in value.split(",") if v]
    return out


class LabelEdit(BaseModel):
    field: str = Field(pattern="^(" + "|".join(LABEL_FIELDS) + ")$")
    code: str = Field(min_length=1, max_length=100)
    why: str = Field("", max_length=2000)


class TextEdit(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=1000)
    description: str | None = Field(None, max_length=20_000)
    why: str = Field("", max_length=2000)


class ClassifyIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(None, max_length=10)


def _priority_json(obs: ObservatoryService, priority_id: str) -> dict[str, Any]:
    p = obs.priority(priority_id)
    if p is None:
        raise HTTPException(404, f"no priority {priority_id!r}")
    return p.as_json()


def _reviewed(run: Any) -> Any:
    try:
        return run()
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@observatory_router.get("/priorities")
def list_priorities(
    svc: Services,
    country: Filter = None,
    region: Filter = None,
    nuts_code: Filter = None,
    territorial_level: Filter = None,
    language: Filter = None,
    doc_id: Filter = None,
    source: Filter = None,
    nace_sections: Filter = None,
    nace_divisions: Filter = None,
    nabs_chapters: Filter = None,
    ecosystems: Filter = None,
    s3_topics: Filter = None,
    q: Annotated[
        str | None,
        Query(max_length=500, description="Text in title/description/keywords (case-insensitive)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Effective priorities (reviews applied), filtered; ``nuts_code`` also matches by prefix
    (``CZ0`` = every Czech kraj)."""
    filters = split_filters(
        {
            "country": country,
            "region": region,
            "nuts_code": nuts_code,
            "territorial_level": territorial_level,
            "language": language,
            "doc_id": doc_id,
            "source": source,
            "nace_sections": nace_sections,
            "nace_divisions": nace_divisions,
            "nabs_chapters": nabs_chapters,
            "ecosystems": ecosystems,
            "s3_topics": s3_topics,
            "q": q,
        }
    )
    with LOCK:
        ps = observatory_of(svc).priorities(filters)
    return {"total": len(ps), "priorities": [p.as_json() for p in ps[:limit]]}


@observatory_router.get("/priorities/{priority_id}")
def get_priority(priority_id: str, svc: Services) -> dict[str, Any]:
    """One priority with its labels (evidence, source) and its review log."""
    with LOCK:
        obs = observatory_of(svc)
        body = _priority_json(obs, priority_id)
        body["corrections"] = [c.as_json() for c in obs.corrections(priority_id)]
    return body


@observatory_router.get("/regions")
def list_regions(svc: Services) -> dict[str, Any]:
    """Regions with priorities: NUTS centroid, number of priorities, label counts per field."""
    with LOCK:
        return {"regions": [r.as_json() for r in observatory_of(svc).regions()]}


@observatory_router.get("/taxonomy")
def get_taxonomy(
    field: Annotated[
        str | None, Query(pattern="^(" + "|".join(LABEL_FIELDS) + ")$", description="One field.")
    ] = None,
) -> dict[str, Any]:
    """The label schemes: code, name, description (and NACE parent section) per field."""
    from observatory.taxonomy import taxonomy

    fields = [field] if field else list(LABEL_FIELDS)
    return {
        name: [
            {
                "code": lab.code,
                "label": lab.label,
                "description": lab.description,
                "parent": lab.parent,
            }
            for lab in taxonomy(name).labels  # type: ignore[arg-type]
        ]
        for name in fields
    }


@observatory_router.post("/classify")
def classify(body: ClassifyIn, svc: Services) -> dict[str, Any]:
    """Classify free text (nothing is stored): the ``observatory classify --json`` shape."""
    limit = svc.settings.max_question_chars
    if len(body.text) > limit:  # a priority is a title and a paragraph; keeps readers cheap
        raise HTTPException(
            422, f"the text is longer than {limit} characters (S3ASSIST_MAX_QUESTION_CHARS)"
        )
    if not any(ch.isalpha() for ch in body.text):
        raise HTTPException(422, "the text has no words to classify")
    obs = observatory_of(svc)
    with CLASSIFY_LOCK:
        return obs.classify_text(body.text, body.language).as_json()


@observatory_router.post("/priorities/{priority_id}/labels", status_code=201)
def add_label(priority_id: str, body: LabelEdit, svc: Services, admin: Admin) -> dict[str, Any]:
    """Give a priority a label (a reviewed label beats the model and the import)."""
    with LOCK:
        obs = observatory_of(svc)
        c = _reviewed(lambda: obs.add_label(priority_id, body.field, body.code, admin, body.why))
        return {"correction": c.as_json(), "priority": _priority_json(obs, priority_id)}


@observatory_router.delete("/priorities/{priority_id}/labels/{field}/{code}")
def remove_label(
    priority_id: str,
    field: str,
    code: str,
    svc: Services,
    admin: Admin,
    why: Annotated[str, Query(max_length=2000, description="Why (kept in the log).")] = "",
) -> dict[str, Any]:
    """Take a label off a priority, whoever set it; the removal survives re-classification."""
    with LOCK:
        obs = observatory_of(svc)
        c = _reviewed(lambda: obs.remove_label(priority_id, field, code, admin, why))
        return {"correction": c.as_json(), "priority": _priority_json(obs, priority_id)}


@observatory_router.patch("/priorities/{priority_id}")
def edit_priority(priority_id: str, body: TextEdit, svc: Services, admin: Admin) -> dict[str, Any]:
    """Correct a priority's title and/or description (kept as a review, with who and why)."""
    with LOCK:
        obs = observatory_of(svc)
        cs = _reviewed(lambda: obs.edit(priority_id, admin, body.why, body.title, body.description))
        return {
            "corrections": [c.as_json() for c in cs],
            "priority": _priority_json(obs, priority_id),
        }


@observatory_router.get("/corrections")
def list_corrections(
    svc: Services,
    priority_id: Annotated[str | None, Query(max_length=200)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """The review log (who / when / why), as JSON or as the CSV ``observatory review`` reads."""
    with LOCK:
        obs = observatory_of(svc)
        if format == "csv":
            return Response(
                obs.export_review_csv(priority_id),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="s3-reviews.csv"'},
            )
        return {"corrections": [c.as_json() for c in obs.corrections(priority_id)]}


@observatory_router.get("/export", response_model=None)
def export(
    svc: Services,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "csv",
    country: Filter = None,
    nuts_code: Filter = None,
    territorial_level: Filter = None,
    nace_sections: Filter = None,
    nace_divisions: Filter = None,
    nabs_chapters: Filter = None,
    ecosystems: Filter = None,
    source: Filter = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The (filtered) priorities as CSV (label codes joined by ``;``; imports back) or JSON."""
    filters = split_filters(
        {
            "country": country,
            "nuts_code": nuts_code,
            "territorial_level": territorial_level,
            "nace_sections": nace_sections,
            "nace_divisions": nace_divisions,
            "nabs_chapters": nabs_chapters,
            "ecosystems": ecosystems,
            "source": source,
            "q": q,
        }
    )
    with LOCK:
        text = observatory_of(svc).export(format, filters)
    if format == "json":
        return Response(text, media_type="application/json")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="s3-priorities.csv"'},
    )


@observatory_router.get("/partners/{region}")
def partners(
    region: str,
    svc: Services,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    complementary: bool = False,
) -> dict[str, Any]:
    """Regions ranked as partners of ``region`` (NUTS code, country code, name or a priority
    id): by similar priorities, or (``complementary=true``) by complementary value-chain
    positions; each with its explanation, shared labels and neighbour flag."""
    with LOCK:
        try:
            matches = observatory_of(svc).partners(region, k=k, complementary=complementary)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
    return {"region": region, "partners": [m.as_json() for m in matches]}
