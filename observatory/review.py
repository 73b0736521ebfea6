"""Human review of priorities: label and text corrections with who / when / why.

Corrections go to their own table (see ``observatory/store.py``) and are replayed over the
machine's view on every read, so a reviewer's decision beats the classifier and the importer and
survives re-classification, re-import and re-extraction. The log round-trips through CSV so
regions can correct their priorities in a spreadsheet and send them back.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from observatory.models import LABEL_FIELDS, LabelField
from observatory.store import Correction, PriorityStore
from observatory.taxonomy import normalise_code, taxonomy

REVIEW_COLUMNS = ["correction_id", "priority_id", "action", "field", "code", "value", "who",
                  "at", "why"]  # fmt: skip


def _check_priority(store: PriorityStore, priority_id: str) -> None:
    if store.get(priority_id) is None:
        raise LookupError(f"no priority {priority_id!r}")


def _field(name: str) -> LabelField:
    if name not in LABEL_FIELDS:
        raise ValueError(f"unknown label field {name!r}; one of {', '.join(LABEL_FIELDS)}")
    return name


def add_label(
    store: PriorityStore, priority_id: str, field: str, code: str, who: str, why: str = ""
) -> Correction:
    """Give a priority a label (the code must exist in the field's taxonomy)."""
    _check_priority(store, priority_id)
    fld = _field(field)
    code = normalise_code(fld, code)
    name = taxonomy(fld).get(code).label
    return store.add_correction(Correction(priority_id, "add_label", who, why, fld, code, name))


def remove_label(
    store: PriorityStore, priority_id: str, field: str, code: str, who: str, why: str = ""
) -> Correction:
    """Take a label off a priority, whoever set it (model, import or an earlier review)."""
    _check_priority(store, priority_id)
    fld = _field(field)
    try:
        code = normalise_code(fld, code)
    except ValueError:
        pass  # an imported code outside the taxonomy can still be removed as written
    return store.add_correction(Correction(priority_id, "remove_label", who, why, fld, code))


def edit_text(
    store: PriorityStore,
    priority_id: str,
    who: str,
    why: str = "",
    title: str | None = None,
    description: str | None = None,
) -> list[Correction]:
    """Correct a priority's title and/or description."""
    _check_priority(store, priority_id)
    if title is None and description is None:
        raise ValueError("edit needs a new title or description")
    out = []
    if title is not None:
        out.append(store.add_correction(Correction(priority_id, "edit_title", who, why,
                                                   value=title.strip())))  # fmt: skip
    if description is not None:
        out.append(store.add_correction(Correction(priority_id, "edit_description", who, why,
                                                   value=description.strip())))  # fmt: skip
    return out


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")


def _parse_at(text: str) -> float:
    text = (text or "").strip()
    if not text:
        return 0.0  # the store stamps "now"
    try:
        return float(text)
    except ValueError:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def export_csv(store: PriorityStore, priority_id: str | None = None) -> str:
    """The review log as CSV (``at`` in ISO 8601 UTC), oldest first."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REVIEW_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in store.corrections(priority_id):
        row = c.as_json()
        row["at"] = _iso(c.at)
        writer.writerow(row)
    return buf.getvalue()


def import_csv(store: PriorityStore, path: Path) -> tuple[int, int]:
    """Add the corrections of a CSV (as exported); returns (added, already present).

    Rows are validated like CLI edits (known priority, field and code); a row identical to a
    stored one (same priority, action, field, code, value, who and time to the millisecond) is
    skipped, so importing an export again changes nothing.
    """
    seen = {
        (c.priority_id, c.action, c.field, c.code, c.value, c.who, round(c.at, 3))
        for c in store.corrections()
    }
    added = skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with store.transaction():
        for n, row in enumerate(rows, start=2):
            pid = (row.get("priority_id") or "").strip()
            action = (row.get("action") or "").strip()
            at = _parse_at(row.get("at") or "")
            c = Correction(
                pid,
                action,
                (row.get("who") or "").strip(),
                (row.get("why") or "").strip(),
                (row.get("field") or "").strip(),
                (row.get("code") or "").strip(),
                (row.get("value") or "").strip(),
                at,
            )
            key = (c.priority_id, c.action, c.field, c.code, c.value, c.who, round(c.at, 3))
            if at and key in seen:
                skipped += 1
                continue
            try:
                _check_priority(store, pid)
                if action == "add_label":
                    fld = _field(c.field)
                    code = normalise_code(fld, c.code)
                    c = Correction(pid, action, c.who, c.why, fld, code,
                                   c.value or taxonomy(fld).get(code).label, at)  # fmt: skip
                store.add_correction(c)
            except (LookupError, ValueError) as exc:
                raise ValueError(f"{path.name} line {n}: {exc}") from exc
            seen.add(key)
            added += 1
    return added, skipped
