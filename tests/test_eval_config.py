"""`--config` settings overrides for eval runs (eval/config.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.config import ConfigError, settings_for, write_config


def test_toml_and_json_overrides_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3ASSIST_CHUNK_SIZE", "300")
    base, none = settings_for(None)
    assert base.chunk_size == 300 and none == {}
    toml = tmp_path / "c.toml"
    toml.write_text("chunk_size = 120\nchunk_overlap = 20\n")
    settings, overrides = settings_for(toml)
    assert (settings.chunk_size, settings.chunk_overlap) == (120, 20)
    assert overrides == {"chunk_size": 120, "chunk_overlap": 20}
    assert settings.settings_hash() != base.settings_hash()
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"chunk_size": 150}))
    assert settings_for(js)[0].chunk_size == 150
    write_config(tmp_path / "run", overrides)
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == overrides


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_sise = 120\n", "chunk_sise"),  # unknown field: refused, not ignored
        ("chunk_size = 5\n", "chunk_size"),  # out of range
        ("chunk_size = \n", "not valid TOML"),
    ],
)
def test_bad_configs_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        settings_for(path)
    with pytest.raises(ConfigError, match="cannot read"):
        settings_for(tmp_path / "missing.toml")
