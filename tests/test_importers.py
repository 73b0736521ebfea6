"""Importing priorities: the real Czech NRIS3 regional domains file and a CSV table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from observatory.importers import ImportError_, find_region, import_file
from tests.conftest import CORPUS

CZECH = CORPUS / "data" / "cz_nris3_regional_domains.json"


def test_czech_domains_import_with_nuts3_codes_and_nace_labels() -> None:
    ps = import_file(CZECH)
    raw = json.loads(CZECH.read_text(encoding="utf-8"))
    assert len(ps) == sum(len(k["domeny"]) for k in raw["kraje"].values()) == 91
    by_region = {p.region: p.nuts_code for p in ps}
    assert len(by_region) == 14
    assert by_region["Hl. m. Praha"] == "CZ010"
    assert by_region["Vysočina"] == "CZ063"
    assert by_region["Jihomoravský kraj"] == "CZ064"
    assert all(p.nuts_code and p.nuts_code.startswith("CZ0") and len(p.nuts_code) == 5 for p in ps)
    assert {p.country for p in ps} == {"CZ"} and {p.language for p in ps} == {"cs"}
    labelled = [p for p in ps if p.labels.get("nace_divisions")]
    assert len(labelled) == 54
    software = next(p for p in ps if p.title == "Software a služby v IT")
    assert [lab.code for lab in software.labels["nace_divisions"]] == ["62", "63", "58"]
    assert {lab.source for lab in software.labels["nace_divisions"]} == {"imported"}
    assert {lab.code for lab in software.labels["nace_sections"]} == {"J"}  # derived
    assert len({p.priority_id for p in ps}) == 91
    assert [p.priority_id for p in import_file(CZECH)] == [p.priority_id for p in ps]


def test_csv_import_documented_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "title,description,nuts_code,doc_id,page,nace_divisions,ecosystems,keywords\n"
        "Smart food,Food systems,FI194,FI.pdf,8,10;1,Agri-food,food;farming\n"
        "Water tech,,NL1,,,36,,\n",
        encoding="utf-8",
    )
    ps = import_file(path)
    assert [p.title for p in ps] == ["Smart food", "Water tech"]
    food = ps[0]
    assert (food.country, food.territorial_level, food.page) == ("FI", "regional", 8)
    assert [lab.code for lab in food.labels["nace_divisions"]] == ["10", "01"]
    assert [lab.code for lab in food.labels["ecosystems"]] == ["Agri-food"]
    assert {lab.code for lab in food.labels["nace_sections"]} == {"A", "C"}
    assert food.keywords == ["food", "farming"]
    assert ps[1].country == "NL"


def test_json_list_import_and_errors(tmp_path: Path) -> None:
    ok = tmp_path / "p.json"
    ok.write_text(json.dumps({"priorities": [{"title": "Tourism", "country": "EE"}]}))
    assert import_file(ok)[0].country == "EE"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"description": "no title"}]))
    with pytest.raises(ImportError_, match="no title"):
        import_file(bad)
    with pytest.raises(ImportError_):
        import_file(tmp_path / "x.txt")


def test_find_region_by_name_and_code() -> None:
    assert find_region("Kraj Vysočina", None, "CZ").nuts_code == "CZ063"  # type: ignore[union-attr]
    assert find_region(None, "lt", None).level == 0  # type: ignore[union-attr]
