"""The Partners tab: the map of regions with priorities, a region's priorities, and its ranked
partner regions (similar or complementary), each with why.

The map (``app/map.py``) is an inline SVG in a ``gr.HTML``; its ``js_on_load`` turns a click
on a region's circle into the component's ``click`` event carrying the region's key, which
selects the region (the same as picking it in the dropdown beside the map). Nothing is loaded
from outside the app.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from app.api_observatory import LOCK, observatory_of
from app.map import MapRegion, render_map
from app.services import AppServices
from app.ui_observatory import FIELD_NAMES, code_choices

MAP_JS = """
element.addEventListener('click', (event) => {
  const circle = event.target.closest('[data-region]');
  if (circle) { trigger('click', {region: circle.dataset.region}); }
});
"""
COLOUR_FIELDS = ("ecosystems", "nace_sections", "nabs_chapters", "s3_topics")
SIMILAR, COMPLEMENTARY = "similar priorities", "complementary value chains"


def priorities_html(ps: list[Any], title: str) -> str:
    if not ps:
        return "<p class='s3-empty'>No priorities.</p>"
    esc = html.escape
    rows = []
    for p in ps:
        labels = "; ".join(
            f"{FIELD_NAMES[name]}: {', '.join(lab.code for lab in labs)}"
            for name, labs in p.labels.items()
            if labs and name in ("nace_sections", "nace_divisions", "ecosystems")
        )
        rows.append(f"<tr><td>{esc(p.title)}</td><td>{esc(labels)}</td></tr>")
    count = f"{len(ps)} {'priority' if len(ps) == 1 else 'priorities'}"
    return (
        f"<h4>{esc(title)}: {count}</h4><table class='s3-results "
        f"s3-region-priorities'><tr><th>priority</th><th>labels</th></tr>{''.join(rows)}</table>"
    )


def partners_html(matches: list[Any]) -> str:
    if not matches:
        return "<p class='s3-empty'>No other region has priorities yet.</p>"
    esc = html.escape
    parts = []
    for n, m in enumerate(matches, start=1):
        flag = f" <span class='s3-badge'>{esc(m.neighbour)}</span>" if m.neighbour else ""
        shared = "".join(
            f"<li>shared {esc(FIELD_NAMES.get(k, k))}: {esc(', '.join(v))}</li>"
            for k, v in m.shared_labels.items()
            if v
        )
        comps = "".join(
            f"<li>{esc(c['ecosystem'])}: they add {esc(', '.join(c['they_add']))}</li>"
            for c in m.complementary
        )
        pairs = "".join(
            f"<li>“{esc(p.mine)}” ~ “{esc(p.theirs)}” ({p.similarity:.2f})</li>" for p in m.pairs
        )
        parts.append(
            f"<div class='s3-source s3-partner'><div class='s3-source-head'>{n}. "
            f"{esc(m.region)} ({esc(m.nuts_code)}){flag}</div>"
            f"<div class='s3-note'>score {m.score:.2f} · similarity {m.similarity:.2f} · "
            f"taxonomy overlap {m.taxonomy_overlap:.2f} · complementarity "
            f"{m.complementarity:.2f} ({esc(m.encoder)})</div>"
            f"<div class='s3-explanation'>{esc(m.explanation)}</div>"
            f"<ul>{pairs}{shared}{comps}</ul></div>"
        )
    return "".join(parts)


class PartnersTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    def map_html(self, field: str, code: str | None, selected: str | None = None) -> str:
        with LOCK:
            regions = observatory_of(self.svc).regions()
        if not regions:
            return "<p class='s3-empty'>No priorities yet: import or extract some first.</p>"
        items = [
            MapRegion(
                key=r.key,
                name=r.name,
                lat=r.lat,
                lon=r.lon,
                priorities=r.priorities,
                has_label=bool(code and r.labels.get(field, {}).get(code)),
                label_count=r.labels.get(field, {}).get(code or "", 0),
            )
            for r in regions
            if r.lat is not None and r.lon is not None
        ]
        legend = f"{FIELD_NAMES[field]} {code}" if code else ""
        return render_map(items, legend, selected)

    def region_choices(self) -> Any:
        with LOCK:
            regions = observatory_of(self.svc).regions()
        picks = [(f"{r.name} ({r.key}, {r.priorities})", r.key) for r in regions]
        return gr.update(choices=sorted(picks))

    def select(self, region: str | None, field: str, code: str | None) -> tuple[Any, str, str]:
        """The region's priorities (and the map with it outlined)."""
        if not region:
            return gr.update(), "", self.map_html(field, code)
        with LOCK:
            obs = observatory_of(self.svc)
            ps = [p for p in obs.priorities() if _key(p) == region]
        name = ps[0].region or region if ps else region
        return (
            gr.update(value=region),
            priorities_html(ps, name),
            self.map_html(field, code, region),
        )

    def clicked(self, field: str, code: str | None, evt: gr.EventData) -> tuple[Any, str, str]:
        return self.select(getattr(evt, "_data", {}).get("region"), field, code)

    def partners(self, region: str | None, mode: str, k: float) -> str:
        if not region:
            return "<p class='s3-empty'>Pick a region on the map or in the list first.</p>"
        with LOCK:
            try:
                matches = observatory_of(self.svc).partners(
                    region, k=int(k or 10), complementary=mode == COMPLEMENTARY
                )
            except LookupError as exc:
                return f"<p class='s3-error'>{html.escape(str(exc))}</p>"
        return partners_html(matches)

    def build(self) -> None:
        with gr.Row():
            field = gr.Dropdown(
                [(FIELD_NAMES[f], f) for f in COLOUR_FIELDS],
                value="ecosystems",
                label="Colour regions by",
                elem_id="s3-map-field",
            )
            code = gr.Dropdown(
                code_choices("ecosystems"), value="Health", label="Label", elem_id="s3-map-code"
            )
            self.region = gr.Dropdown(label="Region", elem_id="s3-map-region")
        with gr.Row():
            with gr.Column(scale=3):
                self.map = gr.HTML(elem_id="s3-map", js_on_load=MAP_JS)
            with gr.Column(scale=2):
                chosen = gr.HTML(elem_id="s3-map-priorities")
        with gr.Row():
            mode = gr.Radio(
                [SIMILAR, COMPLEMENTARY],
                value=SIMILAR,
                label="Rank partners by",
                elem_id="s3-partner-mode",
            )
            k = gr.Slider(1, 30, value=10, step=1, label="Partners", elem_id="s3-partner-k")
            go = gr.Button("Find partners", variant="primary", elem_id="s3-partner-go")
        found = gr.HTML(elem_id="s3-partners")
        field.change(lambda f: gr.update(choices=code_choices(f), value=None), field, code)
        code.change(self.map_html, [field, code, self.region], self.map)
        self.map.click(self.clicked, [field, code], [self.region, chosen, self.map])
        self.region.input(self.select, [self.region, field, code], [self.region, chosen, self.map])
        go.click(self.partners, [self.region, mode, k], found)
        self.load_inputs = [field, code]

    def on_load(self, field: str, code: str | None) -> list[Any]:
        return [self.map_html(field, code), self.region_choices()]

    @property
    def load_outputs(self) -> list[Any]:
        return [self.map, self.region]


def _key(p: Any) -> str:
    from observatory.partners import region_key

    return region_key(p)
