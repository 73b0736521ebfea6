"""The generation interface the answer pipeline calls; LangChain chat models plug in here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from langchain_core.messages import HumanMessage, SystemMessage


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (model missing, server down); the message says why."""


class Generator(Protocol):
    name: str

    def stream(self, system: str, user: str) -> Iterator[str]:
        """Yield the answer text as it is generated."""
        ...


class ChatModelGenerator:
    """Any LangChain ``BaseChatModel`` (ChatLlamaCpp, ChatOpenAI, ...) as a :class:`Generator`."""

    def __init__(self, chat_model: Any, name: str):
        self.chat_model = chat_model
        self.name = name

    def stream(self, system: str, user: str) -> Iterator[str]:
        messages = [SystemMessage(content=system), HumanMessage(content=user)]
        try:
            for chunk in self.chat_model.stream(messages):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    yield text
        except BackendUnavailable:
            raise
        except Exception as exc:  # connection refused, timeouts, model errors
            raise BackendUnavailable(
                f"{self.name} backend failed: {type(exc).__name__}: {exc}"
            ) from exc
