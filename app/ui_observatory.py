"""The Observatory tab: every S3 priority with its NACE / NABS / ecosystem labels, filters, CSV
export, and label and text corrections for admins.

Reading and exporting need no login. Corrections need the tab's admin login (the same
``S3ASSIST_ADMIN_USERS`` check as the Library tab and the API); each one is stored with who,
when and why and wins over the model (see ``observatory/review.py``).
"""

from __future__ import annotations

import html
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from app.api_observatory import LOCK, observatory_of
from app.auth import NO_ADMINS, admin_table, check_admin
from app.services import AppServices
from observatory.models import LABEL_FIELDS, Priority

ANY = "any"
COLUMNS = [
    "region",
    "NUTS",
    "title",
    "NACE sections",
    "NACE divisions",
    "NABS",
    "ecosystems",
    "S3 topics",
    "source",
    "id",
]
LOGGED_OUT = "Not logged in. Reading and export are open to everyone; corrections need an admin."
FIELD_NAMES = {
    "nace_sections": "NACE section",
    "nace_divisions": "NACE division",
    "nabs_chapters": "NABS chapter",
    "ecosystems": "Industrial ecosystem",
    "s3_topics": "S3 topic",
}


def code_choices(field: str) -> list[tuple[str, str]]:
    """(shown, code) pairs of one taxonomy, for dropdowns."""
    from observatory.taxonomy import taxonomy

    labels = taxonomy(field).labels  # type: ignore[arg-type]
    return [(_shown(lab.code, lab.label), lab.code) for lab in labels]


def row(p: Priority) -> list[Any]:
    codes = [", ".join(lab.code for lab in p.labels.get(name, [])) for name in LABEL_FIELDS]
    return [
        p.region or p.country or "",
        p.nuts_code or "",
        p.title,
        *codes,
        p.source,
        p.priority_id,
    ]


def _shown(code: str, label: str) -> str:
    return code if code == label else f"{code} {label}"


def detail_html(p: Priority | None, corrections: list[Any]) -> str:
    """A priority's labels with confidence, source and evidence, and its review log."""
    if p is None:
        return "<p class='s3-empty'>Pick a priority.</p>"
    esc = html.escape
    parts = [f"<div class='s3-source'><div class='s3-source-head'>{esc(p.title)}</div>"]
    where = ", ".join(x for x in (p.region, p.nuts_code, p.doc_id) if x)
    page = f", p. {p.page}" if p.page else ""
    parts.append(f"<div class='s3-note'>{esc(where)}{page} · {esc(p.source)}</div>")
    if p.description:
        parts.append(f"<div class='s3-passage'>{esc(p.description)}</div>")
    parts.append(
        "<table class='s3-results'><tr><th>field</th><th>label</th><th>confidence"
        "</th><th>source</th><th>evidence</th></tr>"
    )
    for name in LABEL_FIELDS:
        for lab in p.labels.get(name, []):
            parts.append(
                f"<tr><td>{FIELD_NAMES[name]}</td><td>{esc(_shown(lab.code, lab.label))}</td>"
                f"<td>{lab.confidence:.2f}</td><td>{esc(lab.source)}</td>"
                f"<td>{esc('; '.join(lab.evidence)[:200])}</td></tr>"
            )
    parts.append("</table>")
    if p.keywords:
        parts.append(f"<div>Keywords: {esc(', '.join(p.keywords))}</div>")
    if corrections:
        items = "".join(
            f"<li>{esc(c.action)} {esc(c.field)} {esc(c.code or c.value[:80])} — by "
            f"{esc(c.who)}{': ' + esc(c.why) if c.why else ''}</li>"
            for c in corrections
        )
        parts.append(f"<div><b>Review log</b><ul class='s3-review-log'>{items}</ul></div>")
    parts.append("</div>")
    return "".join(parts)


class ObservatoryTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    # -- reading ---------------------------------------------------------------------------
    def filters(
        self,
        country: str,
        level: str,
        section: str,
        ecosystem: str,
        nabs: str,
        source: str,
        keyword: str,
    ) -> dict[str, Any]:
        raw = {
            "country": country,
            "territorial_level": level,
            "nace_sections": section,
            "ecosystems": ecosystem,
            "nabs_chapters": nabs,
            "source": source,
        }
        out: dict[str, Any] = {k: v for k, v in raw.items() if v and v != ANY}
        if (keyword or "").strip():
            out["q"] = keyword.strip()
        return out

    def table(self, *values: Any) -> tuple[Any, str | None, str, Any]:
        """Filtered rows, the CSV download of exactly those rows, a count, the picker."""
        filters = self.filters(*values)
        with LOCK:
            obs = observatory_of(self.svc)
            ps = obs.priorities(filters)
            csv_text = obs.export("csv", filters)
        path = Path(tempfile.mkdtemp(prefix="s3obs-")) / "s3-priorities.csv"
        path.write_text(csv_text, encoding="utf-8")
        total = (
            f"{len(ps)} priorities match."
            if ps
            else "No priorities match (import or "
            "extract some: `s3assist observatory import|extract`)."
        )
        picks = [(f"{p.title[:70]} — {p.region or p.country or '?'}", p.priority_id) for p in ps]
        return (
            gr.update(value=[row(p) for p in ps]),
            str(path),
            total,
            gr.update(choices=picks, value=None),
        )

    def facets(self) -> tuple[Any, Any]:
        with LOCK:
            ps = observatory_of(self.svc).priorities()
        countries = sorted({p.country for p in ps if p.country})
        sources = sorted({p.source for p in ps})
        return gr.update(choices=[ANY, *countries]), gr.update(choices=[ANY, *sources])

    def detail(self, priority_id: str | None) -> tuple[str, str, str]:
        if not priority_id:
            return detail_html(None, []), "", ""
        with LOCK:
            obs = observatory_of(self.svc)
            p = obs.priority(priority_id)
            fixes = obs.corrections(priority_id)
        if p is None:
            return detail_html(None, []), "", ""
        return detail_html(p, fixes), p.title, p.description

    # -- review (admins) -------------------------------------------------------------------
    def login(self, user: str, password: str) -> tuple[str, str, str]:
        if not admin_table(self.svc.settings):
            return "", NO_ADMINS, ""
        if check_admin(self.svc.settings, user or "", password or ""):
            return user.strip(), f"Logged in as **{user.strip()}** (admin).", ""
        return "", "Wrong user name or password.", ""

    def change_label(
        self,
        action: str,
        priority_id: str | None,
        field: str,
        code: str | None,
        why: str,
        admin: str,
    ) -> str:
        if not admin:
            return "**Correction refused:** log in as an admin first."
        if not priority_id or not code:
            return "Pick a priority and a label first."
        with LOCK:
            obs = observatory_of(self.svc)
            run = obs.add_label if action == "add" else obs.remove_label
            try:
                run(priority_id, field, code, admin, why or "")
            except (LookupError, ValueError) as exc:
                return f"**Not saved:** {exc}"
        verb = "added to" if action == "add" else "removed from"
        return f"**Saved:** {FIELD_NAMES[field]} {code} {verb} the priority (by {admin})."

    def edit_text(
        self, priority_id: str | None, title: str, description: str, why: str, admin: str
    ) -> str:
        if not admin:
            return "**Correction refused:** log in as an admin first."
        if not priority_id:
            return "Pick a priority first."
        with LOCK:
            obs = observatory_of(self.svc)
            p = obs.priority(priority_id)
            if p is None:
                return "**Not saved:** the priority is gone."
            new_title = title.strip() if title and title.strip() != p.title else None
            new_desc = description.strip() if (description or "").strip() != p.description else None
            if new_title is None and new_desc is None:
                return "Nothing changed."
            try:
                obs.edit(priority_id, admin, why or "", new_title, new_desc or None)
            except (LookupError, ValueError) as exc:
                return f"**Not saved:** {exc}"
        return f"**Saved:** text corrected (by {admin})."

    def build(self) -> None:
        admin = gr.State("")
        with gr.Row():
            country = gr.Dropdown([ANY], value=ANY, label="Country", elem_id="s3-obs-country")
            level = gr.Dropdown(
                [ANY, "regional", "national"],
                value=ANY,
                label="Territorial level",
                elem_id="s3-obs-level",
            )
            section = gr.Dropdown(
                [(ANY, ANY), *code_choices("nace_sections")],
                value=ANY,
                label="NACE section",
                elem_id="s3-obs-section",
            )
            ecosystem = gr.Dropdown(
                [ANY, *[c for _, c in code_choices("ecosystems")]],
                value=ANY,
                label="Industrial ecosystem",
                elem_id="s3-obs-ecosystem",
            )
        with gr.Row():
            nabs = gr.Dropdown(
                [(ANY, ANY), *code_choices("nabs_chapters")],
                value=ANY,
                label="NABS chapter",
                elem_id="s3-obs-nabs",
            )
            source = gr.Dropdown([ANY], value=ANY, label="Source", elem_id="s3-obs-source")
            keyword = gr.Textbox(label="Keyword", elem_id="s3-obs-keyword")
            go = gr.Button("Filter", variant="primary", elem_id="s3-obs-go")
        count = gr.Markdown(elem_id="s3-obs-count")
        self.rows = gr.Dataframe(
            headers=COLUMNS, interactive=False, wrap=True, elem_id="s3-obs-table", max_height=420
        )
        self.csv = gr.File(
            label="CSV export (the filtered priorities)", interactive=False, elem_id="s3-obs-csv"
        )
        pick = gr.Dropdown(label="Priority", elem_id="s3-obs-pick")
        info = gr.HTML(elem_id="s3-obs-detail")
        with gr.Accordion("Corrections (admin)", open=False, elem_id="s3-obs-review"):
            with gr.Row():
                user = gr.Textbox(label="Admin user", elem_id="s3-obs-user")
                password = gr.Textbox(label="Password", type="password", elem_id="s3-obs-pw")
                login = gr.Button("Log in", elem_id="s3-obs-login")
            login_status = gr.Markdown(LOGGED_OUT, elem_id="s3-obs-login-status")
            with gr.Row():
                field = gr.Dropdown(
                    [(v, k) for k, v in FIELD_NAMES.items()],
                    value="ecosystems",
                    label="Label field",
                    elem_id="s3-obs-field",
                )
                code = gr.Dropdown(code_choices("ecosystems"), label="Label", elem_id="s3-obs-code")
                why = gr.Textbox(label="Why", elem_id="s3-obs-why")
            with gr.Row():
                add = gr.Button("Add label", elem_id="s3-obs-add")
                remove = gr.Button("Remove label", variant="stop", elem_id="s3-obs-remove")
            title = gr.Textbox(label="Title", elem_id="s3-obs-title")
            description = gr.Textbox(label="Description", lines=3, elem_id="s3-obs-desc")
            save = gr.Button("Save text", elem_id="s3-obs-save")
            status = gr.Markdown(elem_id="s3-obs-status")
        self.filter_inputs = [country, level, section, ecosystem, nabs, source, keyword]
        self.outputs = [self.rows, self.csv, count, pick]
        self.facet_outputs = [country, source]
        go.click(self.table, self.filter_inputs, self.outputs)
        keyword.submit(self.table, self.filter_inputs, self.outputs)
        pick.change(self.detail, pick, [info, title, description])
        field.change(lambda f: gr.update(choices=code_choices(f), value=None), field, code)
        login.click(self.login, [user, password], [admin, login_status, password])
        for button, action in ((add, "add"), (remove, "remove")):
            button.click(
                partial(self.change_label, action),
                [pick, field, code, why, admin],
                status,
            ).then(self.detail, pick, [info, title, description])
        save.click(self.edit_text, [pick, title, description, why, admin], status).then(
            self.detail, pick, [info, title, description]
        )

    def on_load(self) -> list[Any]:
        """Facets and the unfiltered table, for the app's load event."""
        return [*self.facets(), *self.table(ANY, ANY, ANY, ANY, ANY, ANY, "")]
