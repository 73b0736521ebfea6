"""Pick the answer backend by name, and say cheaply which backends can run here."""

from __future__ import annotations

import importlib.util

from assistant.backends.base import BackendUnavailable, Generator
from assistant.backends.local_model import INSTALL_HINT, is_joined, joined_model_path, part_paths
from s3assist.settings import Settings

BACKENDS = ("extractive", "local", "openai")


def make_generator(settings: Settings, backend: str | None = None) -> Generator | None:
    """The generator for ``backend`` (default ``settings.llm_backend``); None for extractive.

    Raises BackendUnavailable when the backend cannot run (its message says why), ValueError
    for an unknown name.
    """
    name = backend or settings.llm_backend
    if name == "extractive":
        return None
    if name == "local":
        from assistant.backends.local import make_local_generator

        return make_local_generator(settings)
    if name == "openai":
        from assistant.backends.openai_compat import make_openai_generator

        return make_openai_generator(settings)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def available_backends(settings: Settings) -> dict[str, str]:
    """Backend name -> "" when it can be used, else the reason it cannot.

    Only cheap checks (installed packages, files present, settings set): nothing is loaded,
    hashed or contacted, so a UI can call this on every render.
    """
    return {
        "extractive": "",
        "local": _local_problem(settings),
        "openai": _openai_problem(settings),
    }


def _local_problem(settings: Settings) -> str:
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed; {INSTALL_HINT}"
    if settings.local_model_path is not None:
        path = settings.local_model_path.expanduser()
        return "" if path.is_file() else f"local model file not found: {path}"
    if is_joined(joined_model_path(settings)):
        return ""
    try:
        part_paths()
    except BackendUnavailable as exc:
        return str(exc)
    return ""  # parts installed: joined on first use


def _openai_problem(settings: Settings) -> str:
    if importlib.util.find_spec("langchain_openai") is None:
        return f"langchain-openai is not installed; {INSTALL_HINT}"
    if not settings.openai_base_url:
        return "set S3ASSIST_OPENAI_BASE_URL to an OpenAI-compatible endpoint"
    return ""
