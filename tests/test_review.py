"""Human review: corrections beat the model and the importer, survive re-classification and
re-import, and round-trip through CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from observatory import review
from observatory.importers import import_file
from observatory.models import Label
from observatory.store import PriorityStore
from tests.conftest import CORPUS

CZECH = CORPUS / "data" / "cz_nris3_regional_domains.json"


@pytest.fixture
def store(tmp_path: Path) -> PriorityStore:
    s = PriorityStore(tmp_path / "observatory.sqlite")
    s.upsert(import_file(CZECH))
    return s


def _software(store: PriorityStore) -> str:
    return next(p.priority_id for p in store.all() if p.title == "Software a služby v IT")


def _codes(store: PriorityStore, pid: str, field: str) -> list[str]:
    p = store.get(pid)
    assert p is not None
    return [lab.code for lab in p.labels.get(field, [])]  # type: ignore[call-overload]


def test_review_wins_and_survives_reclassification_and_reimport(store: PriorityStore) -> None:
    pid = _software(store)
    model = [
        Label("ecosystems", "Health", "Health", 0.7),
        Label("ecosystems", "Tourism", "Tourism", 0.4),
    ]
    store.set_machine_labels(pid, model)
    review.add_label(store, pid, "ecosystems", "digital", "ana", "software is digital")
    review.remove_label(store, pid, "ecosystems", "Health", "ana", "not health")
    review.remove_label(store, pid, "nace_divisions", "58", "ana", "no publishing")
    review.edit_text(store, pid, "ana", "typo", title="Software and IT services")
    for _ in range(2):  # re-classify, then re-import: the review still wins
        assert _codes(store, pid, "ecosystems") == ["Digital", "Tourism"]
        assert "58" not in _codes(store, pid, "nace_divisions")
        p = store.get(pid)
        assert p is not None and p.title == "Software and IT services" and p.source == "edited"
        digital = p.labels["ecosystems"][0]
        assert (digital.source, digital.confidence) == ("review", 1.0)
        assert "ana" in digital.evidence[0] and "software is digital" in digital.evidence[0]
        store.set_machine_labels(pid, [*model, Label("ecosystems", "Digital", "Digital", 0.1)])
        store.upsert(import_file(CZECH))
    log = store.corrections(pid)
    assert [c.action for c in log] == ["add_label", "remove_label", "remove_label", "edit_title"]
    assert all(c.who == "ana" and c.at > 0 for c in log)


def test_review_validates_codes_and_priorities(store: PriorityStore) -> None:
    pid = _software(store)
    with pytest.raises(ValueError):
        review.add_label(store, pid, "ecosystems", "Space tourism", "ana")
    with pytest.raises(ValueError):
        review.add_label(store, pid, "colours", "red", "ana")
    with pytest.raises(LookupError):
        review.add_label(store, "p-nope", "ecosystems", "Health", "ana")
    assert review.add_label(store, pid, "nace_divisions", "C26", "ana").code == "26"


def test_csv_round_trip(store: PriorityStore, tmp_path: Path) -> None:
    pid = _software(store)
    review.add_label(store, pid, "ecosystems", "Digital", "ana", "why, with a comma")
    review.edit_text(store, pid, "bo", description="Line one\nline two")
    text = review.export_csv(store)
    path = tmp_path / "review.csv"
    path.write_text(text, encoding="utf-8")
    assert review.import_csv(store, path) == (0, 2)  # already there: nothing changes

    fresh = PriorityStore(tmp_path / "other.sqlite")
    fresh.upsert(import_file(CZECH))
    assert review.import_csv(fresh, path) == (2, 0)
    a, b = store.get(pid), fresh.get(pid)
    assert a is not None and b is not None
    assert a.as_json() == b.as_json()
    assert review.export_csv(fresh).splitlines()[1:] != []
    strip = [ln.split(",", 1)[1] for ln in review.export_csv(fresh).splitlines()[1:]]
    assert strip == [ln.split(",", 1)[1] for ln in text.splitlines()[1:]]
    assert b.description == "Line one\nline two"
    assert b.labels["ecosystems"][0].evidence == ("review by ana: why, with a comma",)


def test_csv_import_rejects_unknown_priority(store: PriorityStore, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "priority_id,action,field,code,value,who,at,why\n"
        "p-0000,add_label,ecosystems,Health,,ana,,x\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="line 2"):
        review.import_csv(store, path)
    assert store.corrections() == []
