"""The local backend: the GGUF model through LangChain's ``ChatLlamaCpp`` (llama-cpp-python).

Loading the model takes seconds and ~1.8 GiB, so one loaded model is kept per process (keyed by
path, context size and threads; a new key replaces the old one, so two models are never held at
once). Generators made for different temperatures / answer lengths share that model and pass
those values per call. llama.cpp is not re-entrant: a lock per loaded model serialises
generation, held while a stream is being consumed (and released when it ends, fails or is
closed).

Each generation starts from the same KV state: the system prompt's tokens, evaluated once per
system prompt and kept. llama-cpp-python by itself reuses the *longest* cached prefix, which
reaches into the previous question's sources, shifts the evaluation batches and was seen to
change a temperature-0 answer depending on the previous question. Cutting the cache back to
exactly the system prefix before each call keeps answers a function of (system, user) alone,
while the ~170 system tokens are not evaluated again (about 1.7 s of prompt evaluation on 2
cores, where the first-token target is 4 s).
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
    prefixes: dict[str, list[int]] = field(default_factory=dict)
    """System prompt -> its tokens in the chat template (the cacheable prompt prefix)."""

    def prefix_tokens(self, system: str) -> list[int]:
        """The tokens every prompt with this system message starts with.

        Rendered by the model's own chat template for two different user messages and cut at
        the first difference, so template details and merges at the boundary cannot leak in.
        """
        if system not in self.prefixes:
            llama = self.chat_model.client
            render = _template(llama)
            a, b = (
                llama.tokenize(render(system, user).encode("utf-8"), add_bos=False, special=True)
                for user in ("A", "1")
            )
            n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
            if len(self.prefixes) >= 16:  # one per answer language in practice
                self.prefixes.clear()
            self.prefixes[system] = a[:n]
        return self.prefixes[system]

    def prime(self, system: str) -> int:
        """Leave exactly the system prefix in the KV cache; returns its length in tokens.

        ``Llama.generate`` then reuses those tokens and evaluates the rest of the prompt from
        the same position every time (see the module docstring).
        """
        llama = self.chat_model.client
        prefix = self.prefix_tokens(system)
        n = len(prefix)
        if n and llama.n_tokens >= n and list(llama.input_ids[:n]) == prefix:
            llama.n_tokens = n
        else:
            llama.reset()
            if n:
                llama.eval(prefix)
        return n


def _template(llama: Any) -> Any:
    """``render(system, user) -> prompt text`` with the chat template ``Llama`` itself uses."""
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return lambda system, user: ""  # no template: no prefix reuse, plain reset
    vocab = llama._model  # same token texts as Llama.__init__ uses
    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=vocab.token_get_text(llama.token_eos()),
        bos_token=vocab.token_get_text(llama.token_bos()),
    )
    return lambda system, user: (
        formatter(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}]
        ).prompt
    )


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
            self.model.prime(system)  # see the module docstring
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
