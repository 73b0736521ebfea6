"""The web server: FastAPI (the HTTP API) with the Gradio UI mounted at ``/ui``."""

from __future__ import annotations

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app.api import router
from app.api_observatory import observatory_router
from app.limits import BodySizeLimit
from app.reports import reports_router
from app.services import AppServices
from app.ui import CSS, build_ui
from s3assist import __version__
from s3assist.settings import Settings

DESCRIPTION = (
    "Answers with numbered citations (OpenAI-compatible `/v1/chat/completions`), semantic "
    "search with S3 filters, and the document library. Uploads and deletes need an admin "
    "(HTTP Basic). The web app is at `/ui`."
)


def create_app(settings: Settings, services: AppServices | None = None) -> FastAPI:
    svc = services or AppServices(settings)
    api = FastAPI(title="S3 Assistant", version=__version__, description=DESCRIPTION)
    api.state.services = svc
    api.add_middleware(BodySizeLimit, settings=settings)
    api.include_router(router)
    api.include_router(reports_router)
    api.include_router(observatory_router)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return gr.mount_gradio_app(
        api,
        build_ui(svc),
        path="/ui",
        server_name=settings.host,
        server_port=settings.port,
        max_file_size=int(settings.max_upload_mb * 1e6),  # bytes: "0.5mb" is refused by Gradio
        ssr_mode=False,
        mcp_server=False,
        footer_links=[],
        css=CSS,
    )


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the app with uvicorn on ``host:port`` (default: settings, 127.0.0.1:7860)."""
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )
