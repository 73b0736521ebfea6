"""OpenAI chat-completions format <-> the assistant: request parsing and response shapes.

The last user message is the question; earlier user/assistant pairs are the history. ``model``
picks the backend ("extractive", "local", "openai"; anything else: the configured default).
Replies carry the answer with its numbered references appended, plus two extra top-level
fields OpenAI clients ignore: ``sources`` (the cited passages) and ``refused``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import Answer

BACKEND_MODELS = ("extractive", "local", "openai")
_REFERENCE_LINE = re.compile(r"^\[\d+\] .+, p\. \d+$")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ChatRequest(BaseModel):
    """The fields we use; others (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    filters: dict[str, Any] | None = Field(
        None, description="S3 metadata filters, e.g. {'country': 'FI'} (an extension)."
    )


class ConversationError(ValueError):
    """The messages do not end in a usable user question (422)."""


def strip_references(text: str) -> str:
    """An earlier reply without the reference lines we appended to it."""
    lines = text.rstrip().splitlines()
    while lines and (_REFERENCE_LINE.match(lines[-1].strip()) or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines)


def conversation(request: ChatRequest, max_chars: int) -> tuple[str, list[tuple[str, str]]]:
    """(question, history of (user, assistant) turns) from the messages."""
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ConversationError("the last message must be a non-empty user message (the question)")
    question = turns[-1].text().strip()
    if len(question) > max_chars:
        raise ConversationError(
            f"the question is {len(question)} characters; the limit is {max_chars} "
            "(S3ASSIST_MAX_QUESTION_CHARS)"
        )
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for message in turns[:-1]:
        if message.role == "user":
            pending = message.text()
        elif pending is not None:
            history.append((pending, strip_references(message.text())))
            pending = None
    return question, history


def backend_for(model: str | None) -> str | None:
    return model if model in BACKEND_MODELS else None


def references(answer: Answer) -> str:
    lines = [f"[{c['n']}] {c['file']}, p. {c['page']}" for c in answer.citations()]
    return "\n\n" + "\n".join(lines) if lines else ""


def answer_content(answer: Answer) -> str:
    return answer.answer + references(answer)


def extras(answer: Answer) -> dict[str, Any]:
    return {
        "sources": answer.citations(),
        "refused": answer.refused,
        "related": [s.citation() for s in answer.related],
        "notices": answer.notices,
        "backend": answer.backend,
        "settings_hash": answer.settings_hash,
    }


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for a finished answer."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_content(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": answer.tokens_in,
            "completion_tokens": answer.tokens_out,
            "total_tokens": answer.tokens_in + answer.tokens_out,
        },
        **extras(answer),
    }


def _sse(data: dict[str, Any] | str) -> str:
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {body}\n\n"


def stream_events(items: Iterator[str | Answer], model: str) -> Iterator[str]:
    """Server-sent ``chat.completion.chunk`` events, then ``[DONE]``.

    Generated text streams as it comes. If the checks changed it (sentences removed, or the
    extractive answer replaced it), the checked answer follows under a "Checked answer:" line,
    as the CLI does; an answer with no generated text (extractive) arrives in one delta.
    """
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse({**base, "choices": [choice], **more})

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    try:
        for item in items:
            if isinstance(item, Answer):
                text = "".join(streamed).strip()
                if not text:
                    yield chunk({"content": item.answer})
                elif text != item.answer.strip():
                    yield chunk({"content": "\n\nChecked answer:\n" + item.answer})
                if refs := references(item):
                    yield chunk({"content": refs})
                yield chunk({}, "stop", **extras(item))
            else:
                streamed.append(item)
                yield chunk({"content": item})
    except Exception as exc:  # headers are sent: report in-stream, as OpenAI does
        yield _sse({"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error"}})
    yield _sse("[DONE]")
