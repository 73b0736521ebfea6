"""Backup and restore of the whole data dir: Chroma, record manager, manifest, BM25, app SQLite.

A backup is a folder holding a copy of every file of ``S3ASSIST_DATA_DIR`` (except ``cache/``,
which holds re-creatable model files) plus ``backup-manifest.json`` with each file's size and
SHA-256. SQLite files (the record manager and document manifest, Chroma's ``chroma.sqlite3``,
the app's feedback/helpdesk store, the observatory's) are copied with SQLite's online backup
API, so a reader or a WAL never yields a torn copy; everything runs under the data dir's writer
lock, which every ingest, re-ingest, delete and rebuild holds, so Chroma's segment files and the
BM25 folder are copied while nothing writes them. Restore checks every checksum first, refuses
a non-empty data dir without ``force``, stages the copy next to the data dir and only then
swaps it in. Stop the server before restoring: it keeps the old store open.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from filelock import FileLock, Timeout

from s3assist.settings import Settings, get_settings

LOCK_NAME = ".write.lock"
MANIFEST_NAME = "backup-manifest.json"
FORMAT = 1
SKIPPED_TOP = {"cache", LOCK_NAME}
SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")  # contained in the online backup of their database


class BackupError(RuntimeError):
    """A backup or restore that was refused or failed; nothing was changed."""


class DataBusyError(BackupError):
    """Another process (an ingest, a backup, a restore) holds the data dir's writer lock."""


_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def writer_lock(settings: Settings, timeout: float = -1) -> Iterator[None]:
    """Hold the data dir's writer lock (``timeout`` -1 waits, 0 fails at once).

    One ``FileLock`` per path and process, so a thread may nest it; other threads and processes
    wait. Chroma's own server (``chroma_host``) is not covered: back that up with its tools.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = (settings.data_dir / LOCK_NAME).resolve()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, FileLock(str(path)))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise DataBusyError(
            f"{settings.data_dir} is being written (an ingest, backup or restore is running); "
            "try again when it has finished"
        ) from exc
    try:
        yield
    finally:
        lock.release()


@dataclass
class BackupFile:
    path: str
    bytes: int
    sha256: str
    sqlite: bool = False


@dataclass
class BackupManifest:
    created: str
    collection: str
    files: list[BackupFile] = field(default_factory=list)
    format: int = FORMAT

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == SQLITE_MAGIC


def _data_files(root: Path) -> list[Path]:
    """Files to copy: everything but ``cache/``, the lock, SQLite side files, temp folders."""
    out: list[Path] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_TOP or not path.is_file() or path.is_symlink():
            continue
        if any(p.endswith((".tmp", ".old")) for p in rel.parts[:-1]):
            continue  # BM25 build leftovers
        if path.name.endswith(_SIDE_FILES):
            base = path.with_name(path.name.rsplit("-", 1)[0])
            if base.is_file():
                continue
        out.append(path)
    return out


def _sqlite_copy(src: Path, dst: Path) -> None:
    source = sqlite3.connect(str(src), timeout=30)
    target = sqlite3.connect(str(dst))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or not any(p.name not in SKIPPED_TOP for p in folder.iterdir())


def backup(settings: Settings, dest: Path) -> BackupManifest:
    """Copy the data dir into ``dest`` (absent or empty); returns the manifest written there."""
    src = settings.data_dir.resolve()
    dest = dest.resolve()
    if not src.is_dir():
        raise BackupError(f"no data dir at {src}")
    if dest == src or src in dest.parents:
        raise BackupError("the backup folder must lie outside the data dir")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder")
    staging = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    manifest = BackupManifest(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "")
    manifest.collection = settings.collection
    with writer_lock(settings, timeout=0):
        for path in _data_files(src):
            rel = path.relative_to(src)
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            is_db = _is_sqlite(path)
            if is_db:
                _sqlite_copy(path, out)
            else:
                shutil.copy2(path, out)
            manifest.files.append(
                BackupFile(rel.as_posix(), out.stat().st_size, sha256_file(out), is_db)
            )
    staging.mkdir(parents=True, exist_ok=True)
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest.as_json(), indent=1), "utf-8")
    if dest.exists():
        dest.rmdir()
    staging.rename(dest)  # a backup folder exists only once complete
    return manifest


def verify(src: Path) -> BackupManifest:
    """Read a backup's manifest and check every file; raises ``BackupError`` listing problems."""
    path = src / MANIFEST_NAME
    if not path.is_file():
        raise BackupError(f"{src} is not a backup (no {MANIFEST_NAME})")
    data = json.loads(path.read_text("utf-8"))
    if data.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {data.get('format')!r}")
    files = [BackupFile(**f) for f in data["files"]]
    manifest = BackupManifest(data["created"], data["collection"], files)
    problems = []
    for f in files:
        p = src / f.path
        if ".." in Path(f.path).parts or Path(f.path).is_absolute():
            problems.append(f"{f.path}: path outside the backup")
        elif not p.is_file():
            problems.append(f"{f.path}: missing")
        elif p.stat().st_size != f.bytes or sha256_file(p) != f.sha256:
            problems.append(f"{f.path}: checksum mismatch")
    if problems:
        raise BackupError("backup is damaged: " + "; ".join(problems))
    return manifest


def restore(settings: Settings, src: Path, force: bool = False) -> BackupManifest:
    """Replace the data dir's contents with the backup in ``src`` (``cache/`` is kept)."""
    src = src.resolve()
    manifest = verify(src)
    data = settings.data_dir.resolve()
    with writer_lock(settings, timeout=0):
        if not _is_empty(data) and not force:
            raise BackupError(
                f"{data} is not empty: restoring would replace it; pass --force to do so"
            )
        stamp = f"{int(time.time() * 1000)}"
        staging = data.parent / f".{data.name}.restore-{stamp}"
        for f in manifest.files:
            out = staging / f.path
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / f.path, out)
            if sha256_file(out) != f.sha256:
                shutil.rmtree(staging, ignore_errors=True)
                raise BackupError(f"{f.path}: copy does not match its checksum; nothing changed")
        replaced = data.parent / f".{data.name}.replaced-{stamp}"
        replaced.mkdir()
        for entry in data.iterdir():
            if entry.name not in SKIPPED_TOP:
                entry.rename(replaced / entry.name)
        staging.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            entry.rename(data / entry.name)
        shutil.rmtree(replaced)
        shutil.rmtree(staging)
    _forget_open_chroma()
    return manifest


def _forget_open_chroma() -> None:
    """Chroma caches one client system per path and process; drop it so the next open reads
    the restored files instead of the replaced ones."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # an older or newer chromadb without it: a new process reads afresh
        pass


# -- CLI (registered in s3assist/cli.py) ---------------------------------------------------------
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _report(manifest: BackupManifest, verb: str, where: Path, as_json: bool) -> None:
    if as_json:
        out = {"files": len(manifest.files), "bytes": manifest.total_bytes, "path": str(where)}
        typer.echo(json.dumps({verb: out, "created": manifest.created}))
    else:
        typer.echo(
            f"{verb} {len(manifest.files)} files ({manifest.total_bytes / 1e6:.1f} MB), "
            f"backup of {manifest.created}: {where}"
        )


def backup_command(
    dest: Annotated[Path, typer.Argument(help="New or empty folder for the backup.")],
    as_json: JsonFlag = False,
) -> None:
    """Back up the data dir (store, indexes, SQLite) into DEST, with a checksum manifest."""
    try:
        manifest = backup(get_settings(), dest)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _report(manifest, "backed_up", dest, as_json)


def restore_command(
    src: Annotated[Path, typer.Argument(help="A folder written by `s3assist backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty data dir.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Restore the data dir from SRC after checking every checksum (stop the server first)."""
    try:
        manifest = restore(get_settings(), src, force=force)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _report(manifest, "restored", get_settings().data_dir, as_json)
