"""Keep every library off the network: models come from installed packages, never a hub.

Set before transformers, huggingface_hub, chromadb or gradio are imported, which is why the
package ``__init__`` calls it first.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's posthog telemetry
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    # torch's OpenMP workers spin after each op and starve the multilingual encoder's threads
    # on 2 cores: hybrid queries took ~0.7 s instead of ~0.15 s with spinning workers.
    "OMP_WAIT_POLICY": "PASSIVE",  # e.g. "sequence longer than 256" when we only count
}


def enforce_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
