"""The Library tab: what is indexed (and what failed, e.g. needs OCR); admins upload and delete.

Reading needs no login. The admin form checks the same ``S3ASSIST_ADMIN_USERS`` entries as the
API's HTTP Basic auth; the login lives in this browser session only (``gr.State``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from app.auth import NO_ADMINS, admin_table, check_admin
from app.render import library_html
from app.services import EDITABLE_FIELDS, EMPTY_LIBRARY, AppServices, DocumentNotFound
from app.uploads import UploadRejected, save_upload

LOGGED_OUT = "Not logged in. Reading is open to everyone; uploads and deletes need an admin."


class LibraryTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    def refresh(self) -> tuple[Any, str, Any, Any]:
        rows = self.svc.documents()
        indexed = sum(r.status == "indexed" for r in rows)
        failed = sum(r.status == "failed" for r in rows)
        summary = (
            f"{indexed} documents indexed, {failed} failed." if rows else f"**{EMPTY_LIBRARY}**"
        )
        ids = [r.doc_id for r in rows]
        return (
            library_html(rows),
            summary,
            gr.update(choices=ids, value=None),
            gr.update(choices=ids),
        )

    def login(self, user: str, password: str) -> tuple[str, str, str]:
        if not admin_table(self.svc.settings):
            return "", NO_ADMINS, ""
        if check_admin(self.svc.settings, user or "", password or ""):
            return user.strip(), f"Logged in as **{user.strip()}** (admin).", ""
        return "", "Wrong user name or password.", ""

    def upload(self, file: str | None, admin: str) -> str:
        if not admin:
            return "**Upload refused:** log in as an admin first."
        if not file:
            return "Choose a file to upload first."
        source = Path(file)
        try:
            with source.open("rb") as fh:
                path = save_upload(fh, source.name, self.svc.settings)
        except UploadRejected as exc:
            return f"**Upload refused:** {exc}"
        doc_id, report = self.svc.ingest(path)
        if report.failed:
            return f"**Not indexed:** {doc_id} was saved but {report.failed[0].reason}"
        state = "unchanged" if report.unchanged else "indexed"
        return f"**Uploaded:** {doc_id} {state}: {report.pages} pages, {report.chunks} chunks."

    def delete(self, doc_id: str | None, admin: str) -> str:
        if not admin:
            return "**Delete refused:** log in as an admin first."
        if not doc_id:
            return "Choose a document to delete first."
        rows = self.svc.delete(doc_id)
        return f"**Deleted** {', '.join(r.doc_id for r in rows)}." if rows else "Nothing deleted."

    def load_metadata(self, doc_id: str | None) -> list[Any]:
        """Prefill the edit form from the document's current metadata."""
        row = next((r for r in self.svc.documents() if r.doc_id == doc_id), None)
        meta = row.metadata if row else {}
        values: list[Any] = []
        for name in EDITABLE_FIELDS:
            value = meta.get(name, "")
            if name == "year":
                values.append(int(value) if value else None)
            else:
                values.append(str(value or ""))
        return values

    def save_metadata(self, doc_id: str | None, admin: str, *values: Any) -> str:
        if not admin:
            return "**Save refused:** log in as an admin first."
        if not doc_id:
            return "Choose a document to edit first."
        row = next((r for r in self.svc.documents() if r.doc_id == doc_id), None)
        current = row.metadata if row else {}
        changes: dict[str, Any] = {}
        for name, value in zip(EDITABLE_FIELDS, values, strict=True):
            if name == "year":
                value = int(value) if value not in (None, "") else None
            elif isinstance(value, str):
                value = value.strip()
            if value != current.get(name) and not (value in (None, "") and not current.get(name)):
                changes[name] = value
        try:
            _, report = self.svc.edit_metadata(doc_id, changes)
        except (DocumentNotFound, FileNotFoundError, ValueError) as exc:
            return f"**Not saved:** {exc}"
        return self._report(doc_id, report, "Saved and re-ingested")

    def reingest(self, doc_id: str | None, admin: str) -> str:
        if not admin:
            return "**Re-ingest refused:** log in as an admin first."
        if not doc_id:
            return "Choose a document to re-ingest first."
        try:
            _, report = self.svc.reingest(doc_id)
        except (DocumentNotFound, FileNotFoundError) as exc:
            return f"**Not re-ingested:** {exc}"
        return self._report(doc_id, report, "Re-ingested")

    @staticmethod
    def _report(doc_id: str, report: Any, done: str) -> str:
        if report.failed:
            return f"**Not indexed:** {doc_id}: {report.failed[0].reason}"
        return (
            f"**{done}:** {doc_id}: {report.pages} pages, {report.chunks} chunks "
            f"({report.chunks_embedded} embedded)."
        )

    def build(self) -> None:
        self.summary = gr.Markdown(elem_id="s3-library-summary")
        self.table = gr.HTML(elem_id="s3-library")
        refresh = gr.Button("Refresh", size="sm")
        admin = gr.State("")
        with gr.Accordion("Admin: upload and delete", open=True):
            with gr.Row():
                user = gr.Textbox(label="Admin user", elem_id="s3-admin-user")
                password = gr.Textbox(label="Password", type="password", elem_id="s3-admin-pw")
                login = gr.Button("Log in", elem_id="s3-login")
                logout = gr.Button("Log out")
            login_status = gr.Markdown(LOGGED_OUT, elem_id="s3-login-status")
            exts = list(self.svc.settings.file_extensions)
            with gr.Row():
                file = gr.File(
                    label=f"Document ({', '.join(exts)}; up to "
                    f"{self.svc.settings.max_upload_mb:g} MB)",
                    file_types=exts,
                    file_count="single",
                    type="filepath",
                    elem_id="s3-upload",
                )
                with gr.Column():
                    upload = gr.Button("Upload and ingest", variant="primary", elem_id="s3-upgo")
                    self.doc_pick = gr.Dropdown(label="Document to delete", elem_id="s3-delpick")
                    delete = gr.Button("Delete document", variant="stop", elem_id="s3-delgo")
            with gr.Accordion("Edit metadata and re-ingest", open=False):
                self.edit_pick = gr.Dropdown(label="Document to edit", elem_id="s3-editpick")
                with gr.Row():
                    title = gr.Textbox(label="Title", elem_id="s3-edit-title")
                    doc_type = gr.Dropdown(
                        ["strategy", "guidance", "other"],
                        label="Document type",
                        elem_id="s3-edit-doc_type",
                    )
                    year = gr.Number(label="Year", precision=0, elem_id="s3-edit-year")
                with gr.Row():
                    country = gr.Textbox(label="Country (ISO code)", elem_id="s3-edit-country")
                    region = gr.Textbox(label="Region", elem_id="s3-edit-region")
                    nuts = gr.Textbox(label="NUTS code", elem_id="s3-edit-nuts_code")
                    level = gr.Dropdown(
                        ["", "national", "regional"],
                        label="Territorial level",
                        elem_id="s3-edit-territorial_level",
                    )
                    language = gr.Textbox(label="Language", elem_id="s3-edit-language")
                with gr.Row():
                    save = gr.Button(
                        "Save and re-ingest", variant="primary", elem_id="s3-edit-save"
                    )
                    again = gr.Button("Re-ingest", elem_id="s3-reingest")
            action_status = gr.Markdown(elem_id="s3-action-status")
        fields = [title, doc_type, country, region, nuts, level, language, year]
        outputs = [self.table, self.summary, self.doc_pick, self.edit_pick]
        refresh.click(self.refresh, None, outputs)
        self.edit_pick.change(self.load_metadata, self.edit_pick, fields)
        save.click(self.save_metadata, [self.edit_pick, admin, *fields], action_status).then(
            self.refresh, None, outputs
        )
        again.click(self.reingest, [self.edit_pick, admin], action_status).then(
            self.refresh, None, outputs
        )
        login.click(self.login, [user, password], [admin, login_status, password])
        logout.click(lambda: ("", LOGGED_OUT), None, [admin, login_status])
        upload.click(self.upload, [file, admin], action_status).then(self.refresh, None, outputs)
        delete.click(self.delete, [self.doc_pick, admin], action_status).then(
            self.refresh, None, outputs
        )

    @property
    def outputs(self) -> list[Any]:
        return [self.table, self.summary, self.doc_pick, self.edit_pick]
