"""The Helpdesk tab: draft an answer to an incoming query, edit it, approve it (admins), reuse it.

A draft shows the assistant's answer (editable), its citations and the approved answers to
similar earlier questions ("Approved earlier"), which the secretariat can copy. Approval needs
the admin login of this tab (the same ``S3ASSIST_ADMIN_USERS`` check as the Library and the API).
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from app.auth import NO_ADMINS, admin_table, check_admin
from app.helpdesk import STATUSES, EntryNotFound, HelpdeskEntry, helpdesk_of
from app.services import EMPTY_LIBRARY, AppServices

ALL = "all"
COLUMNS = ["id", "status", "question", "answer", "approved by"]
NO_DRAFT = "Draft an answer first."


def citations_html(citations: list[dict[str, Any]]) -> str:
    if not citations:
        return "<p class='s3-empty'>No citations.</p>"
    items = "".join(
        f"<li>[{c.get('n', '')}] {html.escape(str(c.get('file', '')))}, p. {c.get('page', '')}"
        f"<div class='s3-passage'>{html.escape(str(c.get('text', ''))[:400])}</div></li>"
        for c in citations
    )
    return f"<ol class='s3-source-list'>{items}</ol>"


def similar_html(similar: list[tuple[HelpdeskEntry, float]]) -> str:
    if not similar:
        return "<p class='s3-empty'>No approved answer to a similar earlier question.</p>"
    parts = [
        f"<div class='s3-source'><div class='s3-source-head'>Approved earlier (#{e.id}, "
        f"similarity {s:.2f}, by {html.escape(e.approved_by)}): "
        f"{html.escape(e.question)}</div><div>{html.escape(e.answer)}</div></div>"
        for e, s in similar
    ]
    return "".join(parts)


def _rows(entries: list[HelpdeskEntry]) -> list[list[Any]]:
    return [[e.id, e.status, e.question, e.answer[:300], e.approved_by] for e in entries]


class HelpdeskTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    @property
    def store(self) -> Any:
        return helpdesk_of(self.svc)

    def draft(self, question: str) -> tuple[int | None, str, str, str, str]:
        question = (question or "").strip()
        if not question:
            return None, "", "", "", "Paste a query first."
        if self.svc.indexed_count() == 0:
            return None, "", "", "", f"**{EMPTY_LIBRARY}**"
        entry_id = self.store.draft(question)
        entry = self.store.get(entry_id)
        similar = self.store.similar_approved(question, exclude=entry_id)
        note = " The documents do not cover this well (refusal)." if entry.refused else ""
        return (
            entry_id,
            entry.answer,
            citations_html(entry.citations),
            similar_html(similar),
            f"Draft **#{entry_id}** saved.{note}",
        )

    def save(self, entry_id: int | None, text: str, admin: str) -> str:
        if not entry_id:
            return NO_DRAFT
        try:
            self.store.update(int(entry_id), text or "", admin or "secretariat")
        except EntryNotFound:
            return f"No helpdesk entry #{entry_id}."
        return f"Edit of **#{entry_id}** saved."

    def approve(self, entry_id: int | None, text: str, admin: str) -> str:
        if not admin:
            return "**Approval refused:** log in as an admin first."
        if not entry_id:
            return NO_DRAFT
        try:
            entry = self.store.get(int(entry_id))
            if text is not None and text != entry.answer:
                self.store.update(entry.id, text, admin)
            self.store.approve(entry.id, admin)
        except EntryNotFound:
            return f"No helpdesk entry #{entry_id}."
        return f"**#{entry_id} approved** by {admin}."

    def login(self, user: str, password: str) -> tuple[str, str, str]:
        if not admin_table(self.svc.settings):
            return "", NO_ADMINS, ""
        if check_admin(self.svc.settings, user or "", password or ""):
            return user.strip(), f"Logged in as **{user.strip()}** (admin).", ""
        return "", "Wrong user name or password.", ""

    def table(self, status: str | None, query: str | None) -> tuple[Any, str | None]:
        entries = self.store.list(None if status in (None, "", ALL) else status, query)
        folder = Path(tempfile.mkdtemp(prefix="s3helpdesk-"))
        path = folder / "s3-helpdesk.csv"
        path.write_text(self.store.export_csv(), encoding="utf-8")
        return gr.update(value=_rows(entries)), str(path)

    def build(self) -> None:
        admin = gr.State("")
        entry_id = gr.State(None)
        question = gr.Textbox(
            label="Incoming query", lines=3, placeholder="Paste the query", elem_id="s3-hd-q"
        )
        draft = gr.Button("Draft answer", variant="primary", elem_id="s3-hd-draft")
        status_md = gr.Markdown(elem_id="s3-hd-status")
        with gr.Row():
            with gr.Column(scale=3):
                answer = gr.Textbox(
                    label="Draft answer (editable)", lines=10, interactive=True, elem_id="s3-hd-a"
                )
                with gr.Row():
                    save = gr.Button("Save edit", elem_id="s3-hd-save")
                    approve = gr.Button("Approve", variant="primary", elem_id="s3-hd-approve")
            with gr.Column(scale=2):
                gr.Markdown("**Citations**")
                cites = gr.HTML(elem_id="s3-hd-cites")
                gr.Markdown("**Approved earlier** (similar questions)")
                similar = gr.HTML(elem_id="s3-hd-similar")
        with gr.Accordion("Admin login (to approve)", open=False):
            with gr.Row():
                user = gr.Textbox(label="Admin user", elem_id="s3-hd-user")
                password = gr.Textbox(label="Password", type="password", elem_id="s3-hd-pw")
                login = gr.Button("Log in", elem_id="s3-hd-login")
            login_status = gr.Markdown("Not logged in.", elem_id="s3-hd-login-status")
        with gr.Row():
            status_pick = gr.Dropdown(
                [ALL, *STATUSES], value=ALL, label="Status", elem_id="s3-hd-filter"
            )
            search = gr.Textbox(label="Search questions and answers", elem_id="s3-hd-search")
            refresh = gr.Button("Refresh", size="sm")
        self.entries = gr.Dataframe(
            headers=COLUMNS, interactive=False, wrap=True, elem_id="s3-hd-table"
        )
        self.export = gr.File(label="CSV export", interactive=False, elem_id="s3-hd-csv")
        table_out = [self.entries, self.export]
        filters = [status_pick, search]
        draft.click(self.draft, question, [entry_id, answer, cites, similar, status_md]).then(
            self.table, filters, table_out
        )
        save.click(self.save, [entry_id, answer, admin], status_md).then(
            self.table, filters, table_out
        )
        approve.click(self.approve, [entry_id, answer, admin], status_md).then(
            self.table, filters, table_out
        )
        login.click(self.login, [user, password], [admin, login_status, password])
        refresh.click(self.table, filters, table_out)
        status_pick.change(self.table, filters, table_out)
        search.submit(self.table, filters, table_out)
