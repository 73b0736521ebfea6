"""Document metadata: inferred from the file name and text, overridable by sidecars or a CSV.

Precedence, lowest to highest: inference < CSV manifest row < ``NAME.meta.json`` sidecar <
overrides an admin saved in the app (stored in the manifest database, see
:meth:`ingest.manifest.Manifest.set_overrides`).
Every field is a plain str/int so it can be used as a Chroma filter.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ingest.loaders import LoadedDocument, PageText
from ingest.regions import Gazetteer, load_gazetteer

DOC_TYPES = ("strategy", "guidance", "other")
TERRITORIAL_LEVELS = ("national", "regional")
_YEAR = re.compile(r"(?<![\d-])(19[89]\d|20[0-4]\d)(?![\d-])")
_STRATEGY_HINTS = re.compile(r"\b(ris3|s3|strateg\w*|smart.specialis\w*)\b", re.IGNORECASE)
_GUIDANCE_HINTS = re.compile(
    r"\b(guid\w*|method\w*|manual|handbook|toolbox|toolkit|how.to)\b", re.IGNORECASE
)
_BAD_TITLES = re.compile(
    r"^(microsoft (word|powerpoint)|powerpoint presentation$|untitled|document\d*$)"
    r"|\.(docx?|pdf|pptx?|indd|qxp|xlsx?|odt|rtf)$",
    re.I,
)


@dataclass
class DocumentMetadata:
    title: str
    doc_type: str = "other"
    country: str = ""
    country_name: str = ""
    region: str = ""
    nuts_code: str = ""
    nuts_level: int = -1
    territorial_level: str = ""
    language: str = ""
    year: int = 0

    def as_chroma(self) -> dict[str, Any]:
        """Chroma metadata: empty/unknown values dropped (Chroma cannot store None).

        Unknown is "" for text, -1 for ``nuts_level`` and 0 for ``year``; ``nuts_level`` 0 is a
        real value (a national document) and is kept so ``--where nuts_level=0`` finds it.
        """
        return {
            k: v
            for k, v in asdict(self).items()
            if v is not None and v != "" and v != _UNKNOWN.get(k, "")
        }


OVERRIDABLE = {f.name for f in fields(DocumentMetadata)}
_UNKNOWN: dict[str, Any] = {"nuts_level": -1, "year": 0}


def detect_language(text: str) -> str:
    import py3langid as langid

    sample = text[:6000].strip()
    if not sample:
        return ""
    lang, _ = langid.classify(sample)
    return str(lang)


def _title(doc: LoadedDocument, first_page: PageText | None) -> str:
    hint = (doc.title_hint or "").strip()
    if len(hint) >= 8 and not _BAD_TITLES.search(hint):
        return hint[:200]
    if first_page is not None:
        lines = [
            ln.lstrip("#").strip()
            for ln in first_page.text.splitlines()
            if len(ln.lstrip("#").strip()) >= 4
        ]
        title = ""
        for line in lines[:4]:
            if len(title) + len(line) > 160:
                break
            title = f"{title} {line}".strip()
            if len(title) >= 25:
                break
        if title:
            return title
    return doc.path.stem.replace("_", " ")


def _year(doc: LoadedDocument, first_text: str) -> int:
    if found := _YEAR.findall(doc.path.stem):
        return int(found[-1])
    if doc.date_hint and (m := re.search(r"(19|20)\d\d", doc.date_hint)):
        return int(m.group(0))
    if found := _YEAR.findall(first_text[:3000]):
        return max(int(y) for y in found)
    return 0


def _doc_type(path: Path, title: str, text: str) -> str:
    parents = " ".join(p.name for p in path.parents[:3]).lower()
    if "strateg" in parents:
        return "strategy"
    if "guid" in parents:
        return "guidance"
    name = f"{path.stem.replace('_', ' ')} {title}"
    if _GUIDANCE_HINTS.search(name):
        return "guidance"
    if _STRATEGY_HINTS.search(name) or "smart specialisation strategy" in text.lower():
        return "strategy"
    return "other"


def apply_region(meta: DocumentMetadata, gazetteer: Gazetteer, code: str) -> None:
    region = gazetteer.by_code.get(code.upper())
    if region is None:
        meta.nuts_code = code.upper()
        return
    country = gazetteer.country(region.country)
    meta.nuts_code = region.nuts_code
    meta.country = region.country
    meta.country_name = country.name_en if country else region.country
    meta.nuts_level = region.level
    meta.territorial_level = region.territorial_level
    meta.region = "" if region.level == 0 else region.name_en


def infer_metadata(doc: LoadedDocument, pages: list[PageText]) -> DocumentMetadata:
    gazetteer = load_gazetteer()
    first = next((p for p in pages if p.text.strip()), None)
    first_text = "\n".join(p.text for p in pages[:3])
    title = _title(doc, first)
    meta = DocumentMetadata(
        title=title,
        doc_type=_doc_type(doc.path, title, first_text),
        language=detect_language(" ".join(p.text for p in pages[:5])),
        year=_year(doc, first.text if first else ""),
    )
    prefix = re.match(r"^([A-Z]{2})[_\- ]", doc.path.name)
    country = prefix.group(1) if prefix and gazetteer.country(prefix.group(1)) else None
    region = gazetteer.match_name(doc.path.stem, country) or gazetteer.match_name(title, country)
    if region is None:
        region = gazetteer.most_mentioned(first_text, country)
    if region is not None:
        apply_region(meta, gazetteer, region.nuts_code)
    elif country:
        apply_region(meta, gazetteer, country)
    return meta


def _coerce(meta: DocumentMetadata, overrides: dict[str, Any], source: str) -> None:
    unknown = set(overrides) - OVERRIDABLE - {"file"}
    if unknown:
        raise ValueError(f"{source}: unknown metadata field(s) {sorted(unknown)}")
    if code := overrides.get("nuts_code"):
        apply_region(meta, load_gazetteer(), str(code))
    for key, value in overrides.items():
        if key in ("file", "nuts_code") or value in (None, ""):
            continue
        current = getattr(meta, key)
        setattr(meta, key, int(value) if isinstance(current, int) else str(value))
    if meta.doc_type not in DOC_TYPES:
        raise ValueError(f"{source}: doc_type must be one of {DOC_TYPES}, not {meta.doc_type!r}")


def apply_override_dict(
    meta: DocumentMetadata, data: dict[str, Any], source: str
) -> DocumentMetadata:
    """Apply one set of overrides with the sidecar/CSV rules (``ValueError`` when invalid)."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object")
    if "file" in data:
        raise ValueError(f"{source}: unknown metadata field(s) ['file']")
    try:
        _coerce(meta, data, source)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(source):
            raise
        raise ValueError(f"{source}: {exc}") from exc
    return meta


def sidecar_path(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".meta.json"), path.with_name(path.name + ".meta.json")):
        if candidate.is_file():
            return candidate
    return None


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """CSV with a ``file`` column (relative path or bare file name) and metadata columns."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise ValueError(f"{path}: a manifest needs a 'file' column")
        return {row["file"]: {k: v for k, v in row.items() if v} for row in reader}


def apply_overrides(
    meta: DocumentMetadata, path: Path, rel_path: str, manifest: dict[str, dict[str, str]]
) -> DocumentMetadata:
    row = manifest.get(rel_path) or manifest.get(path.name)
    if row:
        _coerce(meta, row, f"manifest row for {rel_path}")
    if (sidecar := sidecar_path(path)) is not None:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{sidecar.name}: expected a JSON object")
        _coerce(meta, data, sidecar.name)
    return meta
