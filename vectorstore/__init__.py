"""Stage 2: embeddings and the Chroma store (embedded or server) behind small classes."""

import s3assist  # noqa: F401  (offline guard before any model library loads)
