"""Import priorities from files: the Czech NRIS3 regional domains, or any CSV/JSON table.

Table columns (CSV header or JSON object keys; only ``title`` is required):
``priority_id`` (kept when given), ``title``, ``description``, ``region``, ``nuts_code``,
``country``, ``territorial_level``, ``language``, ``doc_id``, ``page``, ``keywords`` and the label
fields ``nace_sections``, ``nace_divisions``, ``nabs_chapters``, ``ecosystems``, ``s3_topics``
(codes separated by ``;`` or ``,``; JSON may give lists). A JSON file is a list of such objects or
``{"priorities": [...]}``. Given codes become labels with source ``imported``; a NUTS code fills
country and territorial level from the NUTS tables, a region name alone is looked up there.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from ingest.regions import Region, fold, load_gazetteer
from observatory.models import LABEL_FIELDS, Label, LabelField, Priority
from observatory.store import make_priority_id
from observatory.taxonomy import normalise_code, section_of, taxonomy


def label_name(name: LabelField, code: str) -> str:
    """The taxonomy's name for a code (the code itself when the scheme lacks it)."""
    try:
        return taxonomy(name).get(code).label.strip()
    except KeyError:
        return code


def section_of_division(code: str) -> str | None:
    try:
        return section_of(code)
    except KeyError:
        return None


class ImportError_(ValueError):
    """The file is not in a format the importer knows (message says what was expected)."""


def _split_codes(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else re.split(r"[;,|]", str(raw))
    return [str(x).strip() for x in items if str(x).strip()]


def _norm_code(name: LabelField, code: str) -> str:
    """The taxonomy's spelling of a code; an unknown code is kept as given (and reviewable)."""
    try:
        return normalise_code(name, code)
    except ValueError:
        return code.upper() if name == "nace_sections" else code


def imported_labels(
    codes: dict[LabelField, list[str]], evidence: str
) -> dict[LabelField, list[Label]]:
    """Labels from given codes; NACE sections are derived from imported divisions."""
    out: dict[LabelField, list[Label]] = {}
    for name in LABEL_FIELDS:
        for raw in codes.get(name, []):
            code = _norm_code(name, raw)
            if code in {lab.code for lab in out.get(name, [])}:
                continue
            out.setdefault(name, []).append(
                Label(name, code, label_name(name, code), 1.0, (evidence,), "imported")
            )
    sections = {lab.code for lab in out.get("nace_sections", [])}
    for lab in out.get("nace_divisions", []):
        section = section_of_division(lab.code)
        if section and section not in sections:
            sections.add(section)
            out.setdefault("nace_sections", []).append(
                Label(
                    "nace_sections",
                    section,
                    label_name("nace_sections", section),
                    1.0,
                    (f"{evidence} (section of division {lab.code})",),
                    "imported",
                )
            )
    return out


def find_region(name: str | None, nuts_code: str | None, country: str | None) -> Region | None:
    """The NUTS region of a code, or of a name (exact folded label, then containment)."""
    gaz = load_gazetteer()
    if nuts_code:
        return gaz.by_code.get(nuts_code.strip().upper())
    if not name:
        return None
    key = _place_key(name)
    candidates = [
        r for r in gaz.by_code.values() if country is None or r.country == country.upper()
    ]
    for r in sorted(candidates, key=lambda r: -r.level):
        if key in (_place_key(r.name), _place_key(r.name_en)):
            return r
    for r in sorted(candidates, key=lambda r: -r.level):
        if key and (key in _place_key(r.name) or _place_key(r.name) in key):
            return r
    return gaz.match_name(name, country.upper() if country else None)


_GENERIC_PLACE_WORDS = {"kraj", "hl", "m", "hlavni", "mesto", "region", "province", "the", "of"}


def _place_key(name: str) -> str:
    """'Hl. m. Praha' -> 'praha', 'Kraj Vysočina' -> 'vysocina'."""
    return " ".join(w for w in fold(name).split() if w not in _GENERIC_PLACE_WORDS)


def _located(p: Priority, region: Region | None) -> Priority:
    if region is not None:
        p.nuts_code = p.nuts_code or region.nuts_code
        p.country = p.country or region.country
        p.territorial_level = p.territorial_level or region.territorial_level
        p.region = p.region or region.name
    return p


def import_czech(path: Path, data: dict[str, Any] | None = None) -> list[Priority]:
    """``cz_nris3_regional_domains.json``: {"meta", "kraje": {kraj: {"domeny": [{nazev, popis,
    cz_nace}]}}}. Each domain becomes a priority of the kraj's NUTS-3 region, in Czech."""
    data = data if data is not None else json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data.get("kraje"), dict):
        raise ImportError_(f"{path.name}: no 'kraje' object (not the Czech NRIS3 format)")
    source_doc = str((data.get("meta") or {}).get("zdroj") or path.name)
    out: list[Priority] = []
    for kraj, body in data["kraje"].items():
        region = find_region(kraj, None, "CZ")
        if region is None:
            raise ImportError_(f"{path.name}: no NUTS region found for kraj {kraj!r}")
        for domain in body.get("domeny", []):
            title = str(domain.get("nazev", "")).strip()
            if not title:
                continue
            nace = _split_codes(domain.get("cz_nace"))
            p = Priority(
                priority_id=make_priority_id("imported", region.nuts_code, None, title),
                title=title,
                description=str(domain.get("popis") or "").strip(),
                region=kraj,
                language="cs",
                doc_id=None,
                source="imported",
                labels=imported_labels({"nace_divisions": nace}, f"CZ-NACE in {source_doc}"),
            )
            out.append(_located(p, region))
    return out


def _row_priority(row: dict[str, Any], origin: str) -> Priority:
    title = str(row.get("title") or "").strip()
    if not title:
        raise ImportError_(f"{origin}: a row has no title")
    region = find_region(row.get("region") or None, row.get("nuts_code") or None,
                         row.get("country") or None)  # fmt: skip
    page = row.get("page")
    place = row.get("nuts_code") or row.get("region") or row.get("country")
    p = Priority(
        priority_id=str(row.get("priority_id") or "").strip()
        or make_priority_id("imported", place, row.get("doc_id") or None, title),
        title=title,
        description=str(row.get("description") or "").strip(),
        region=row.get("region") or None,
        country=(str(row["country"]).upper() if row.get("country") else None),
        nuts_code=(str(row["nuts_code"]).upper() if row.get("nuts_code") else None),
        territorial_level=row.get("territorial_level") or None,
        language=row.get("language") or None,
        doc_id=row.get("doc_id") or None,
        page=int(page) if page not in (None, "") else None,
        source="imported",
        keywords=_split_codes(row.get("keywords")),
        labels=imported_labels(
            {name: _split_codes(row.get(name)) for name in LABEL_FIELDS}, f"imported from {origin}"
        ),
    )
    return _located(p, region)


def import_file(path: Path) -> list[Priority]:
    """Priorities from a CSV or JSON file (the Czech NRIS3 JSON is recognised by its shape)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [_row_priority(row, path.name) for row in csv.DictReader(fh)]
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "kraje" in data:
            return import_czech(path, data)
        rows = data.get("priorities") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ImportError_(
                f"{path.name}: expected a list of priorities or {{'priorities': [...]}}"
            )
        return [_row_priority(dict(row), path.name) for row in rows]
    raise ImportError_(f"{path.name}: import reads .csv or .json files")
