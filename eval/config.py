"""``--config FILE``: the settings an eval run uses, on top of the environment.

A config is a TOML or JSON object of `Settings` fields (``chunk_size = 120``,
``answer_backend = "extractive"``). It is validated by `Settings` itself (unknown or invalid
fields are refused with pydantic's message) and copied into the run folder as ``config.json``,
so a report says what was changed; the run's ``settings_hash`` covers the result.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from s3assist.settings import Settings, get_settings


class ConfigError(ValueError):
    """A config file that cannot be read or holds invalid settings."""


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"config {path} is not valid {kind}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold an object of settings")
    return data


def settings_for(config: Path | None) -> tuple[Settings, dict[str, Any]]:
    """The environment's settings with the config's fields on top, and those fields."""
    if config is None:
        return get_settings(), {}
    overrides = read_config(config)
    try:
        # init arguments win over S3ASSIST_* variables in pydantic-settings
        return Settings(**overrides), overrides
    except ValidationError as exc:
        raise ConfigError(f"config {config}: {exc}") from exc


def write_config(out_dir: Path, overrides: dict[str, Any]) -> None:
    if overrides:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(
            json.dumps(overrides, indent=2, default=str, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
