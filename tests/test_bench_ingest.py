"""The ingest benchmark's quick mode (what CI runs to keep ``python -m bench`` working) and the
shared helpers in ``bench/common.py``. No timing assertions: only that it runs end to end and
writes well-formed results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import common
from bench import ingest as bench_ingest


def test_update_benchmarks_md_replaces_only_its_section(tmp_path: Path) -> None:
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\nintro\n")
    common.update_benchmarks_md("ingest", "| a |\n|---|\n| 1 |", md)
    common.update_benchmarks_md("search", "search table", md)
    common.update_benchmarks_md("ingest", "new ingest table", md)
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert "new ingest table" in text and "| 1 |" not in text
    assert text.count("<!-- bench:ingest:begin -->") == 1
    assert text.index("new ingest table") < text.index("search table")


def test_helpers(tmp_path: Path) -> None:
    assert common.median([3.0, 1.0, 2.0]) == 2.0 and common.median([]) == 0.0
    assert common.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert common.peak_rss_mb() > 10
    info = common.machine_info()
    assert info["cores"] >= 1 and info["memory_gib"] > 0 and "torch" in info["libraries"]
    path = common.write_results("unit", {"x": 1}, results_dir=tmp_path)
    assert json.loads(path.read_text())["x"] == 1
    table = common.markdown_table(["a", "b"], [[1.23456, "x"], [1234.5, "y"]])
    assert table.splitlines()[2] == "| 1.23 | x |" and "1,234" in table


@pytest.mark.slow
def test_quick_mode_runs_and_writes_json(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    data = bench_ingest.run(quick=True, configs=["ours", "ours-minilm-torch"])
    written = json.loads((tmp_path / "ingest-quick.json").read_text())
    assert written["summary"].keys() == {"naive", "ours", "ours-minilm-torch"}
    for name, row in written["summary"].items():
        assert row["seconds"] > 0 and row["chunks"] > 0 and row["peak_rss_mb"] > 0, name
        assert set(row["times"]) == {"parse_s", "chunk_s", "embed_s", "store_s"}
    assert written["summary"]["naive"]["pages"] == written["summary"]["ours"]["pages"]
    reingest = written["summary"]["ours"]["reingest"]
    first = written["runs"]["ours"][0]
    assert first["unchanged"]["documents"]["unchanged"] == 3
    assert first["unchanged"]["chunks_embedded"] == 0
    assert first["one_changed"]["documents"]["updated"] == 1
    assert 0 < reingest["one_changed_chunks_embedded"] < first["chunks"]
    assert written["onnx_export"]["seconds"] > 0
    md = bench_ingest.render_markdown(data)
    assert "naive LangChain baseline" in md and "### Re-ingest" in md
