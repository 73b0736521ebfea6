"""Stage 3: retrieval and cited answers over the store."""

import s3assist  # noqa: F401  (offline guard before any model library loads)
