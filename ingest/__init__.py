"""Stage 1: files -> clean page text -> token-aware chunks with metadata -> the store."""

import s3assist  # noqa: F401  (offline guard before any model library loads)
