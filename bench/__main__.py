"""Entry point of ``python -m bench``."""

import s3assist  # noqa: F401  (offline environment before any model library loads)
from bench.cli import app

app()
