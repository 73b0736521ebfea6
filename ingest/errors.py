"""Per-file ingestion failures. Each says what is wrong and what to do, and never sinks a batch."""

from __future__ import annotations


class IngestError(Exception):
    """A file that cannot be ingested; the message is shown to the user next to the file name."""

    kind = "error"


class UnsupportedFileError(IngestError):
    kind = "unsupported"


class EmptyFileError(IngestError):
    kind = "empty"


class NeedsOCRError(IngestError):
    kind = "needs_ocr"


class EncryptedFileError(IngestError):
    kind = "encrypted"


class CorruptFileError(IngestError):
    kind = "corrupt"


class TooLargeError(IngestError):
    kind = "too_large"


class MissingFileError(IngestError):
    """The file was listed but is gone when read (deleted or moved during the run)."""

    kind = "missing"


class EmbedderMismatchError(RuntimeError):
    """The store was built with other embedding settings; mixing vectors would break search."""
