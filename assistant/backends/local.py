"""The local backend: the GGUF model through LangChain's ``ChatLlamaCpp`` (llama-cpp-python).

Loading the model takes seconds and ~1.8 GiB, so one loaded model is kept per process (keyed by
path, context size and threads; a new key replaces the old one, so two models are never held at
once). Generators made for different temperatures / answer lengths share that model and pass
those values per call. llama.cpp is not re-entrant: a lock per loaded model serialises
generation, held while a stream is being consumed (and released when it ends, fails or is
closed).

Each generation starts from an empty KV cache (``Llama.reset()``): llama-cpp-python otherwise
reuses the longest cached prompt prefix, which shifts the evaluation batches and was seen to
change a temperature-0 answer depending on the previous question. Reproducible answers are
worth more than the prefix reuse (the shared prefix is only the system prompt; the sources
differ per question).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.backends.base import BackendUnavailable, ChatModelGenerator
from assistant.backends.local_model import INSTALL_HINT, ensure_local_model
from s3assist.settings import Settings

N_BATCH = 512


@dataclass
class LoadedModel:
    """One ``ChatLlamaCpp`` (and its ``llama_cpp.Llama``) plus the lock guarding it."""

    chat_model: Any
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)


_loaded: dict[tuple[str, int, int], LoadedModel] = {}
_load_lock = threading.Lock()


class LocalGenerator:
    """A :class:`Generator` over the shared local model; generation is serialised by its lock."""

    name = "local"

    def __init__(self, model: LoadedModel, temperature: float, max_tokens: int):
        self.model = model
        bound = model.chat_model.bind(temperature=temperature, max_tokens=max_tokens)
        self._inner = ChatModelGenerator(bound, name=self.name)

    def stream(self, system: str, user: str) -> Iterator[str]:
        with self.model.lock:
            self.model.chat_model.client.reset()  # see the module docstring
            yield from self._inner.stream(system, user)


def load_local_model(settings: Settings) -> LoadedModel:
    """The process-wide loaded model for these settings (loaded on first use)."""
    path = ensure_local_model(settings)
    threads = settings.local_threads or os.cpu_count() or 1
    key = (str(path.resolve()), settings.local_n_ctx, threads)
    with _load_lock:
        model = _loaded.get(key)
        if model is None:
            _loaded.clear()  # drop the previous model before loading another 1.8 GiB
            model = LoadedModel(_chat_model(path, settings.local_n_ctx, threads), path)
            _loaded[key] = model
        return model


def _chat_model(path: Path, n_ctx: int, threads: int) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # langchain-community sunset
            from langchain_community.chat_models import ChatLlamaCpp
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(f"llama-cpp-python is not installed; {INSTALL_HINT}") from exc
    try:
        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=N_BATCH,
            n_threads=threads,
            # 0.0 = use the model's own RoPE base; ChatLlamaCpp's default 10000 ruins output.
            rope_freq_base=0.0,
            temperature=0.0,
            verbose=False,
            streaming=True,
        )
    except Exception as exc:
        raise BackendUnavailable(
            f"could not load the local model {path}: {type(exc).__name__}: {exc}"
        ) from exc


def make_local_generator(settings: Settings) -> LocalGenerator:
    model = load_local_model(settings)
    return LocalGenerator(model, settings.llm_temperature, settings.llm_max_tokens)
