"""The Gradio web app: Ask, Search, Library, Helpdesk, Observatory and Partners tabs, at ``/ui``."""

from __future__ import annotations

import gradio as gr

from app.services import EMPTY_LIBRARY, AppServices
from app.ui_ask import AskTab
from app.ui_helpdesk import HelpdeskTab
from app.ui_library import LibraryTab
from app.ui_observatory import ObservatoryTab
from app.ui_partners import PartnersTab
from app.ui_search import SearchTab

CSS = """
.s3-source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin-bottom: 8px; font-size: 0.9em; }
.s3-source.s3-cited { border-left: 4px solid #e0a800; }
.s3-source-head { font-weight: 600; margin-bottom: 4px; }
.s3-badge { background: #e0a800; color: #fff; border-radius: 4px; padding: 0 5px;
  font-size: 0.8em; margin-left: 4px; }
.s3-passage { max-height: 9em; overflow-y: auto; color: var(--body-text-color-subdued); }
.s3-passage mark, .s3-results mark { background: #ffe066; color: #1f1f1f; padding: 0 1px; }
.s3-source-list { max-height: 400px; overflow-y: auto; padding-right: 4px; }
.s3-status-failed { color: #c0392b; font-weight: 600; }
.s3-status-indexed { color: #2e7d32; }
.s3-results { width: 100%; font-size: 0.9em; border-collapse: collapse; }
.s3-results td, .s3-results th { border-bottom: 1px solid var(--border-color-primary);
  padding: 4px 6px; vertical-align: top; text-align: left; }
.s3-empty, .s3-note { color: var(--body-text-color-subdued); font-style: italic; }
.s3-error { color: #c0392b; }
#s3-notice { color: #8a6d00; }
"""
INTRO = (
    "## S3 Assistant\n"
    "Questions and semantic search over EU Smart Specialisation Strategy documents. Answers "
    "quote the documents and cite them as **[n]**; when the documents do not cover a question, "
    "the assistant says so. How good it is: [evaluation reports](/reports)."
)


def build_ui(svc: AppServices) -> gr.Blocks:
    ask, search, library = AskTab(svc), SearchTab(svc), LibraryTab(svc)
    helpdesk = HelpdeskTab(svc)
    observatory, partners = ObservatoryTab(svc), PartnersTab(svc)
    with gr.Blocks(title="S3 Assistant", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        notice = gr.Markdown(elem_id="s3-notice")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                ask.build()
            with gr.Tab("Search", id="search"):
                search.build()
            with gr.Tab("Library", id="library"):
                library.build()
            with gr.Tab("Helpdesk", id="helpdesk"):
                helpdesk.build()
            with gr.Tab("Observatory", id="observatory"):
                observatory.build()
            with gr.Tab("Partners", id="partners"):
                partners.build()

        def on_load() -> list[object]:
            empty = svc.indexed_count() == 0
            return [
                f"**{EMPTY_LIBRARY}**" if empty else "",
                *search.facet_updates(),
                *library.refresh(),
            ]

        demo.load(on_load, None, [notice, *search.facet_outputs, *library.outputs])
        demo.load(observatory.on_load, None, [*observatory.facet_outputs, *observatory.outputs])
        demo.load(partners.on_load, partners.load_inputs, partners.load_outputs)
    return demo
