"""The priority store: stable ids, per-source label replacement, migrations, doc labels."""

from __future__ import annotations

from pathlib import Path

from observatory.models import Label, Priority
from observatory.store import Correction, PriorityStore, make_priority_id


def _priority(title: str = "Health technologies and biotechnologies") -> Priority:
    pid = make_priority_id("extracted", "LT", "LT.pdf", title)
    imported = Label("nace_divisions", "21", "Pharma", 1.0, ("import",), "imported")
    return Priority(pid, title, country="LT", doc_id="LT.pdf", page=8, source="extracted",
                    labels={"nace_divisions": [imported]})  # fmt: skip


def test_priority_ids_are_stable_and_fold_case_and_accents() -> None:
    a = make_priority_id("imported", "CZ064", None, "Zdravotnické výrobky")
    assert a == make_priority_id("imported", "cz064", None, "zdravotnicke  VYROBKY")
    assert a != make_priority_id("imported", "CZ064", None, "Aerospace")
    assert a != make_priority_id("extracted", "CZ064", None, "Zdravotnické výrobky")


def test_machine_labels_are_replaced_per_source(tmp_path: Path) -> None:
    store = PriorityStore(tmp_path / "o.sqlite")
    p = _priority()
    store.upsert([p])
    store.set_machine_labels(p.priority_id, [Label("ecosystems", "Health", "Health", 0.8)], ["bio"])
    store.set_machine_labels(p.priority_id, [Label("ecosystems", "Digital", "Digital", 0.6)])
    got = store.get(p.priority_id)
    assert got is not None
    assert [lab.code for lab in got.labels["ecosystems"]] == ["Digital"]  # model labels replaced
    assert [lab.source for lab in got.labels["nace_divisions"]] == ["imported"]  # kept
    assert got.keywords == ["bio"]
    # re-import keeps the model labels
    store.upsert([_priority()])
    assert [lab.code for lab in store.get(p.priority_id).labels["ecosystems"]] == ["Digital"]


def test_imported_label_beats_model_label_for_same_code(tmp_path: Path) -> None:
    store = PriorityStore(tmp_path / "o.sqlite")
    p = _priority()
    store.upsert([p])
    store.set_machine_labels(p.priority_id, [Label("nace_divisions", "21", "Pharma", 0.3)])
    labels = store.get(p.priority_id).labels["nace_divisions"]
    assert [(lab.code, lab.source) for lab in labels] == [("21", "imported")]


def test_migrations_run_once_and_data_persists(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    store = PriorityStore(path)
    store.upsert([_priority()])
    store.set_doc_labels("LT.pdf", {"ecosystems": ["Health"]})
    store.close()
    again = PriorityStore(path)
    names = [r[0] for r in again.conn.execute("SELECT name FROM observatory_migrations")]
    assert names == ["001_priorities", "002_doc_labels"]
    assert len(again.all()) == 1
    assert again.doc_labels("LT.pdf") == {"ecosystems": ["Health"]}
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_corrections_are_refused(tmp_path: Path) -> None:
    store = PriorityStore(tmp_path / "o.sqlite")
    p = _priority()
    store.upsert([p])
    for bad in (
        Correction(p.priority_id, "paint", "ana"),
        Correction(p.priority_id, "add_label", "ana", field="colours", code="x"),
        Correction(p.priority_id, "edit_title", "ana", value="  "),
        Correction(p.priority_id, "edit_title", "", value="New"),
    ):
        try:
            store.add_correction(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
    assert store.corrections() == []
