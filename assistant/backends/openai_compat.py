"""The OpenAI-compatible backend: any ``/v1/chat/completions`` server through ``ChatOpenAI``.

Works with OpenAI itself and with local servers (llama-cpp-python's ``llama_cpp.server``,
vLLM, Ollama, LM Studio). The API key never appears in logs or error messages: failures are
re-raised as :class:`BackendUnavailable` with the key masked, and the endpoint is shown without
user info or query string.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant.backends.base import BackendUnavailable, ChatModelGenerator
from s3assist.settings import Settings

NO_KEY = "not-needed"  # local servers ignore the key, but the client insists on one
MAX_RETRIES = 1


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment (they may hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class OpenAIGenerator:
    """A :class:`Generator` over ``ChatOpenAI`` whose errors never carry the API key."""

    name = "openai"

    def __init__(self, chat_model: object, endpoint: str, secret: str | None):
        self.chat_model = chat_model
        self.endpoint = endpoint
        self._secret = secret
        self._inner = ChatModelGenerator(chat_model, name=self.name)

    def stream(self, system: str, user: str) -> Iterator[str]:
        try:
            yield from self._inner.stream(system, user)
        except BackendUnavailable as exc:
            message = f"{exc} (endpoint {self.endpoint})"
            if self._secret and self._secret in message:
                # Drop the cause too: its message and traceback would carry the key.
                raise BackendUnavailable(message.replace(self._secret, "***")) from None
            raise BackendUnavailable(message) from exc


def _length_limit(base_url: str, max_tokens: int) -> dict[str, Any]:
    """How to cap the answer length at this endpoint.

    ``ChatOpenAI`` sends ``max_tokens`` as ``max_completion_tokens`` (OpenAI's current name),
    which compatible servers such as llama-cpp-python's ignore, so they would generate until the
    context is full; they get the classic ``max_tokens`` in the request body instead.
    """
    if (urlsplit(base_url).hostname or "").endswith("openai.com"):
        return {"max_tokens": max_tokens}
    return {"extra_body": {"max_tokens": max_tokens}}


def make_openai_generator(settings: Settings) -> OpenAIGenerator:
    if not settings.openai_base_url:
        raise BackendUnavailable(
            "openai backend needs an endpoint: set S3ASSIST_OPENAI_BASE_URL "
            "(e.g. http://127.0.0.1:8080/v1) and S3ASSIST_OPENAI_MODEL"
        )
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise BackendUnavailable(
            "langchain-openai is not installed; install it with `pip install -e '.[llm]'`"
        ) from exc
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    chat_model = ChatOpenAI(
        **_length_limit(settings.openai_base_url, settings.llm_max_tokens),
        base_url=settings.openai_base_url,
        api_key=secret or NO_KEY,
        model=settings.openai_model,
        temperature=settings.llm_temperature,
        timeout=settings.openai_timeout_s,
        streaming=True,
        max_retries=MAX_RETRIES,
    )
    return OpenAIGenerator(chat_model, display_url(settings.openai_base_url), secret)
