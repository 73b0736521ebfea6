"""S3 metadata filters -> Chroma ``where`` clauses.

Scalar fields match by equality (several values: any of them); list fields, which the
observatory fills with taxonomy codes, match when the chunk's list contains the value.
"""

from __future__ import annotations

from typing import Any

SCALAR_FIELDS: dict[str, type] = {
    "file": str,
    "doc_id": str,
    "title": str,
    "doc_type": str,
    "country": str,
    "country_name": str,
    "region": str,
    "nuts_code": str,
    "nuts_level": int,
    "territorial_level": str,
    "language": str,
    "year": int,
    "page": int,
    "section": str,
}
LIST_FIELDS = ("nace_sections", "nace_divisions", "nabs_chapters", "ecosystems", "s3_topics")
UPPER_FIELDS = ("country", "nuts_code", "nace_sections")
LOWER_FIELDS = ("doc_type", "territorial_level", "language")


class FilterError(ValueError):
    pass


def coerce_value(field: str, raw: Any) -> Any:
    if field in SCALAR_FIELDS and SCALAR_FIELDS[field] is int:
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise FilterError(f"filter {field} needs a whole number, got {raw!r}") from exc
    text = str(raw).strip()
    if field in UPPER_FIELDS:
        return text.upper()
    if field in LOWER_FIELDS:
        return text.lower()
    return text


def _check_field(field: str) -> None:
    if field not in SCALAR_FIELDS and field not in LIST_FIELDS:
        known = ", ".join([*SCALAR_FIELDS, *LIST_FIELDS])
        raise FilterError(f"unknown filter field {field!r}; known fields: {known}")


def _clause(field: str, values: list[Any]) -> dict[str, Any]:
    if field in LIST_FIELDS:
        parts = [{field: {"$contains": v}} for v in values]
        return parts[0] if len(parts) == 1 else {"$or": parts}
    return {field: values[0]} if len(values) == 1 else {field: {"$in": values}}


def build_where(filters: dict[str, Any]) -> dict[str, Any] | None:
    """``{"country": "FI", "year": ["2013", "2014"]}`` -> a Chroma where clause (or None)."""
    clauses = []
    for field, raw in filters.items():
        if raw in (None, "", []):
            continue
        _check_field(field)
        raws = raw if isinstance(raw, list | tuple | set) else str(raw).split(",")
        values = [coerce_value(field, r) for r in raws if str(r).strip()]
        if values:
            clauses.append(_clause(field, values))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def parse_where_args(args: list[str]) -> dict[str, list[str]]:
    """CLI ``--where field=value`` (repeatable; ``a,b`` means either) -> filters dict."""
    out: dict[str, list[str]] = {}
    for arg in args:
        if "=" not in arg:
            raise FilterError(f"--where expects field=value, got {arg!r}")
        field, value = arg.split("=", 1)
        out.setdefault(field.strip(), []).extend(v for v in value.split(",") if v.strip())
    return out


def matches(metadata: dict[str, Any], filters: dict[str, Any]) -> bool:
    """The same semantics as :func:`build_where`, in Python (for BM25 and cached results).

    Like :func:`build_where`, every filter is checked (unknown field, bad number) before any
    chunk is tested, so a bad filter raises instead of silently matching nothing.
    """
    wanted: list[tuple[str, set[Any]]] = []
    for field, raw in filters.items():
        if raw in (None, "", []):
            continue
        _check_field(field)
        raws = raw if isinstance(raw, list | tuple | set) else str(raw).split(",")
        values = {coerce_value(field, r) for r in raws if str(r).strip()}
        if values:
            wanted.append((field, values))
    for field, values in wanted:
        have = metadata.get(field)
        if field in LIST_FIELDS:
            if not values & set(have or []):
                return False
        elif have not in values:
            return False
    return True
