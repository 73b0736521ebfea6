"""Uploaded documents: name, type and size checked, then saved under ``data_dir/uploads``.

The type is checked twice: the file name must end in an ingestible suffix, and the first bytes
must look like that type (a PDF starts with ``%PDF-``, a DOCX is a zip, text has no NUL bytes),
so a renamed executable or archive is refused before the parsers see it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from s3assist.settings import Settings

CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")


class UploadRejected(ValueError):
    """Why an upload was refused, with the HTTP status that says so (413 size, 415 type)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def limit_bytes(settings: Settings) -> int:
    return int(settings.max_upload_mb * 1e6)


def safe_name(name: str, settings: Settings) -> str:
    """The bare file name with unusual characters replaced; refused if not an ingestible type."""
    base = Path(name.replace("\\", "/")).name.strip()
    base = _UNSAFE.sub("_", base).lstrip(".")
    suffix = Path(base).suffix.lower()
    allowed = tuple(s.lower() for s in settings.file_extensions)
    if not base or not Path(base).stem:
        raise UploadRejected("the upload has no usable file name", 422)
    if suffix not in allowed:
        raise UploadRejected(
            f"unsupported file type {suffix or '(none)'!r} for {base}; allowed: "
            + ", ".join(allowed),
            415,
        )
    return base[:200]


def check_content(head: bytes, suffix: str) -> None:
    """Refuse content that does not match the suffix (first bytes of the file)."""
    if not head:
        raise UploadRejected("the uploaded file is empty", 422)
    if suffix == ".pdf" and not head.lstrip()[:5] == b"%PDF-":
        raise UploadRejected("not a PDF: the file does not start with %PDF-", 415)
    if suffix == ".docx" and not head.startswith(b"PK\x03\x04"):
        raise UploadRejected("not a DOCX file: it is not a zip archive", 415)
    if suffix not in (".pdf", ".docx") and b"\0" in head[:8192]:
        raise UploadRejected(f"not a text file: binary content in a {suffix} upload", 415)


def save_upload(stream: BinaryIO, name: str, settings: Settings) -> Path:
    """Copy ``stream`` to ``uploads/NAME`` (atomically, size- and type-checked)."""
    filename = safe_name(name, settings)
    limit = limit_bytes(settings)
    folder = settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(CHUNK):
                if size == 0:
                    check_content(block, Path(filename).suffix.lower())
                size += len(block)
                if size > limit:
                    raise UploadRejected(
                        f"{filename} is larger than the {settings.max_upload_mb:g} MB upload "
                        "limit (S3ASSIST_MAX_UPLOAD_MB)",
                        413,
                    )
                out.write(block)
        if size == 0:
            check_content(b"", Path(filename).suffix.lower())
        target = folder / filename
        tmp.replace(target)
        target.chmod(0o644)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def is_upload(path: Path, settings: Settings) -> bool:
    try:
        return path.resolve().is_relative_to(settings.uploads_dir.resolve())
    except OSError:
        return False
