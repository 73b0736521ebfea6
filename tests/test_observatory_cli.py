"""`s3assist observatory ...` and `s3assist partners`: JSON shapes and exit codes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s3assist.cli import app
from s3assist.settings import get_settings
from tests.conftest import CORPUS

CZECH = CORPUS / "data" / "cz_nris3_regional_domains.json"
LABEL_KEYS = ["nace_sections", "nace_divisions", "nabs_chapters", "ecosystems", "s3_topics"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "cli-data"
    monkeypatch.setenv("S3ASSIST_DATA_DIR", str(data))
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _json(result) -> dict:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_import_list_review_export_round_trip(cli_env: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke
    got = _json(run(app, ["observatory", "import", str(CZECH), "--json"]))
    assert got == {"file": CZECH.name, "priorities": 91, "new": 91, "regions": 14,
                   "with_labels": 54}  # fmt: skip
    assert _json(run(app, ["observatory", "import", str(CZECH), "--json"]))["new"] == 0

    listed = _json(run(app, ["observatory", "list", "--where", "nuts_code=CZ064", "--json"]))
    assert len(listed["priorities"]) == 6
    first = listed["priorities"][0]
    assert list(first["labels"]) == LABEL_KEYS
    assert set(first) >= {"priority_id", "title", "nuts_code", "page", "doc_id", "source"}
    pid = first["priority_id"]

    added = _json(run(app, ["observatory", "review", "add", pid, "ecosystems", "Digital",
                            "--who", "ana", "--why", "IT", "--json"]))  # fmt: skip
    assert added["corrections"][0]["code"] == "Digital"
    bad = run(app, ["observatory", "review", "add", pid, "ecosystems", "Moon", "--who", "ana",
                    "--json"])  # fmt: skip
    assert bad.exit_code == 1 and "error" in json.loads(bad.stdout)
    run(app, ["observatory", "review", "edit", pid, "--who", "bo", "--title", "Software & IT"])

    review_csv = tmp_path / "review.csv"
    res = run(app, ["observatory", "review", "export", "-o", str(review_csv)])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(review_csv.read_text(encoding="utf-8"))))
    assert [r["action"] for r in rows] == ["add_label", "edit_title"]
    again = _json(run(app, ["observatory", "review", "import", str(review_csv), "--json"]))
    assert again == {"added": 0, "skipped": 2}

    filtered = _json(run(app, ["observatory", "list", "--where", "ecosystems=Digital", "--json"]))
    assert [p["title"] for p in filtered["priorities"]] == ["Software & IT"]

    res = run(app, ["observatory", "export", "--format", "csv"])
    assert res.exit_code == 0
    exported = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(exported) == 91
    mine = next(r for r in exported if r["priority_id"] == pid)
    assert mine["ecosystems"] == "Digital" and mine["source"] == "edited"
    exported_file = tmp_path / "export.csv"
    exported_file.write_text(res.stdout, encoding="utf-8")
    assert _json(run(app, ["observatory", "import", str(exported_file), "--json"]))["new"] == 0

    missing = run(app, ["partners", "Atlantis", "--json"])
    assert missing.exit_code == 1 and "error" in json.loads(missing.stdout)


@pytest.mark.slow
def test_partners_and_classify_json(cli_env: Path) -> None:
    run = CliRunner().invoke
    _json(run(app, ["observatory", "import", str(CZECH), "--json"]))
    got = _json(run(app, ["partners", "CZ064", "-k", "3", "--json"]))
    assert got["query"] == "CZ064" and len(got["partners"]) == 3
    top = got["partners"][0]
    keys = {"nuts_code", "region", "score", "similarity", "taxonomy_overlap", "complementarity"}
    assert set(top) >= keys | {"shared_labels", "pairs", "neighbour", "explanation"}
    assert top["neighbour"].startswith("same NUTS-1 region")
    assert top["pairs"] and top["explanation"]
    scores = [p["score"] for p in got["partners"]]
    assert scores == sorted(scores, reverse=True)

    out = _json(run(app, ["observatory", "classify", "Medical devices and e-health", "--json"]))
    assert list(out) == [*LABEL_KEYS, "keywords"]
    for name in LABEL_KEYS:
        assert all(set(lab) == {"code", "label", "confidence"} for lab in out[name])
    assert isinstance(out["keywords"], list)
