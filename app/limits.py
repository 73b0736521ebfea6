"""Request body size limits, enforced before a handler reads the body (413 with a clear reason).

Uploads (``POST /documents`` and the Gradio UI's upload route under ``/ui``) may carry up to
``max_upload_mb`` plus multipart overhead; every other request up to ``max_request_kb``. The
declared ``Content-Length`` is checked first, and the bytes actually received are counted too
(chunked bodies declare no length).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from s3assist.settings import Settings

MULTIPART_OVERHEAD = 1 << 20


def body_limit(settings: Settings, method: str, path: str) -> tuple[int, str]:
    """(bytes allowed, the setting that says so) for a request."""
    if (method == "POST" and path.rstrip("/") == "/documents") or path.startswith("/ui"):
        return int(settings.max_upload_mb * 1e6) + MULTIPART_OVERHEAD, (
            f"uploads are limited to {settings.max_upload_mb:g} MB (S3ASSIST_MAX_UPLOAD_MB)"
        )
    return settings.max_request_kb * 1024, (
        f"request bodies are limited to {settings.max_request_kb} KB (S3ASSIST_MAX_REQUEST_KB)"
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, reason = body_limit(self.settings, scope["method"], scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > limit:
            await _reject(send, reason)
            return
        received = 0
        started = rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer 413 now and tell the app the client left: whatever it does with
                    # the half-read body (parse error, disconnect) is not sent.
                    rejected = True
                    if not started:
                        await _reject(send, reason)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


async def _reject(send: Send, reason: str) -> None:
    body: dict[str, Any] = {"detail": f"request body too large: {reason}"}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
