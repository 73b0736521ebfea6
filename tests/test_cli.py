"""The s3assist command line: JSON schemas, exit codes, and the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s3assist.cli import EXIT_PARTIAL, app
from s3assist.settings import get_settings
from tests.conftest import IMAGE_ONLY_PDF, REPO


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "cli-data"
    monkeypatch.setenv("S3ASSIST_DATA_DIR", str(data))
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _json(result) -> dict:  # type: ignore[no-untyped-def]
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


class TestCli:
    def test_ingest_search_status_delete_json(self, cli_env, small_corpus, embedder):
        runner = CliRunner()
        res = runner.invoke(app, ["ingest", str(small_corpus), "--json"])
        assert res.exit_code == 0, res.output
        out = _json(res)
        assert set(out) >= {"documents", "chunks_embedded", "failed", "seconds"}
        assert out["documents"] == {"added": 4, "updated": 0, "unchanged": 0, "deleted": 0}
        assert out["failed"] == [] and out["chunks_embedded"] > 0

        res = runner.invoke(app, ["ingest", str(small_corpus), "--json"])
        assert _json(res)["chunks_embedded"] == 0

        res = runner.invoke(
            app,
            [
                "search",
                "benchmarking human resources in science and technology",
                "-k",
                "3",
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        hits = _json(res)["hits"]
        assert len(hits) == 3
        assert set(hits[0]) == {"file", "page", "text", "score", "metadata", "retriever_scores"}
        assert hits[0]["file"] == "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"

        res = runner.invoke(app, ["search", "programme", "--where", "country=LT", "--json"])
        assert {h["metadata"]["country"] for h in _json(res)["hits"]} == {"LT"}

        res = runner.invoke(app, ["status", "--json"])
        status = _json(res)
        assert status["documents"] == 4 and status["chunks"] == out["chunks_embedded"]
        assert status["embedding_model"] == "all-MiniLM-L6-v2@onnx-int8"  # the default backend
        assert status["data_dir"] == str(cli_env.resolve())

        res = runner.invoke(app, ["delete", "OnlineS3_2.4_Benchmarking_Case_Study.pdf", "--json"])
        assert _json(res) == {"deleted": ["guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"]}
        res = runner.invoke(app, ["delete", "nothing-like-this.pdf", "--json"])
        assert res.exit_code == 1 and "error" in _json(res)

    def test_partial_success_exit_code(self, cli_env, small_corpus, embedder):
        folder = small_corpus / "guidance"
        (folder / IMAGE_ONLY_PDF.name).write_bytes(IMAGE_ONLY_PDF.read_bytes())
        res = CliRunner().invoke(app, ["ingest", str(small_corpus), "--json"])
        assert res.exit_code == EXIT_PARTIAL
        failed = _json(res)["failed"]
        assert failed == [
            {
                "file": f"guidance/{IMAGE_ONLY_PDF.name}",
                "reason": failed[0]["reason"],
            }
        ]
        assert "needs OCR" in failed[0]["reason"]

    def test_bad_filter_is_a_clear_error(self, cli_env):
        res = CliRunner().invoke(app, ["search", "x", "--where", "colour=blue", "--json"])
        assert res.exit_code == 1
        assert "unknown filter field 'colour'" in _json(res)["error"]

    def test_console_script_is_installed(self, tmp_path: Path):
        exe = REPO / ".venv" / "bin" / "s3assist"
        if not exe.exists():
            pytest.skip("console script lives in the project venv")
        env = {**os.environ, "S3ASSIST_DATA_DIR": str(tmp_path / "d")}
        res = subprocess.run(
            [str(exe), "status", "--json"], capture_output=True, text=True, env=env, timeout=120
        )
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["documents"] == 0
