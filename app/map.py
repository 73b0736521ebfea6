"""The observatory's map of Europe as one inline SVG: no tiles, no scripts, nothing fetched.

Country outlines come from Natural Earth 1:50m via the npm package ``world-atlas`` 2.0.2
(``app/data/countries-50m.json``, see ``app/data/SOURCES.md``); the TopoJSON is decoded here
(delta-encoded arcs + the quantisation transform, per the TopoJSON spec) and projected with a
Lambert azimuthal equal-area projection centred on Europe (as EPSG:3035 is). Each region with
priorities is a circle at its NUTS centroid (from the ingest gazetteer), its area proportional
to its number of priorities, filled when the region has the chosen label (an ecosystem, a NACE
section...). Circles carry ``data-region`` so the web app can turn a click into a selection.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

WORLD = Path(__file__).resolve().parent / "data" / "countries-50m.json"
CENTRE = (10.0, 52.0)  # lon, lat of the projection centre (as EPSG:3035)
# Projected window shown (x, y in units of the earth radius).
WINDOW = (-0.28, -0.27, 0.36, 0.38)  # x_min, y_min (south), x_max, y_max (north): Iceland..Cyprus
WIDTH = 800
HAS_COLOUR = "#d9480f"
LACKS_COLOUR = "#74a9cf"

Point = tuple[float, float]


def laea(lon: float, lat: float, centre: Point = CENTRE) -> Point | None:
    """Lambert azimuthal equal-area (unit sphere); None for the far hemisphere."""
    lam, phi = math.radians(lon - centre[0]), math.radians(lat)
    phi0 = math.radians(centre[1])
    cos_c = math.sin(phi0) * math.sin(phi) + math.cos(phi0) * math.cos(phi) * math.cos(lam)
    if cos_c <= -0.9:
        return None
    k = math.sqrt(2 / (1 + cos_c))
    x = k * math.cos(phi) * math.sin(lam)
    y = k * (math.cos(phi0) * math.sin(phi) - math.sin(phi0) * math.cos(phi) * math.cos(lam))
    return x, y


def _decode_arcs(topo: dict[str, Any]) -> list[list[Point]]:
    """Absolute lon/lat points of every arc (quantised, delta-encoded in the file)."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(arcs: list[list[Point]], indices: Iterable[int]) -> list[Point]:
    """Join arcs into one ring; a negative index ~i means arc i reversed."""
    out: list[Point] = []
    for i in indices:
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        out.extend(pts[1:] if out else pts)
    return out


@dataclass(frozen=True)
class Country:
    name: str
    rings: tuple[tuple[Point, ...], ...]  # lon/lat


@cache
def countries() -> tuple[Country, ...]:
    """Every country of the Natural Earth file as lon/lat rings (TopoJSON → GeoJSON-like)."""
    topo = json.loads(WORLD.read_text(encoding="utf-8"))
    arcs = _decode_arcs(topo)
    out = []
    for geom in topo["objects"]["countries"]["geometries"]:
        polygons = (
            [geom["arcs"]] if geom["type"] == "Polygon" else geom.get("arcs", [])
        )  # MultiPolygon: a list of polygons
        rings = tuple(tuple(_ring(arcs, ring)) for poly in polygons for ring in poly)
        out.append(Country(geom.get("properties", {}).get("name", ""), rings))
    return tuple(out)


def _to_svg(x: float, y: float) -> Point:
    x0, _, x1, y1 = WINDOW
    scale = WIDTH / (x1 - x0)
    return (x - x0) * scale, (y1 - y) * scale


def height() -> int:
    x0, y0, x1, y1 = WINDOW
    return round((y1 - y0) * WIDTH / (x1 - x0))


def _visible(points: Sequence[Point]) -> bool:
    x0, y0, x1, y1 = WINDOW
    margin = 0.05
    return any(
        x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin for x, y in points
    )


def _thin(points: list[Point], min_px: float = 1.2) -> list[Point]:
    """Drop points closer than ``min_px`` to the last kept one (invisible detail, bytes)."""
    out = points[:1]
    for x, y in points[1:]:
        if abs(x - out[-1][0]) + abs(y - out[-1][1]) >= min_px:
            out.append((x, y))
    return out


@cache
def country_paths() -> tuple[tuple[str, str], ...]:
    """(name, SVG path data) of every country with a ring inside the window, projected once."""
    out = []
    for country in countries():
        parts = []
        for ring in country.rings:
            projected = [laea(lon, lat) for lon, lat in ring]
            if any(p is None for p in projected):
                continue
            pts = [p for p in projected if p is not None]
            if len(pts) < 3 or not _visible(pts):
                continue
            svg = _thin([_to_svg(x, y) for x, y in pts])
            if len(svg) < 3:
                continue
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in svg) + "Z")
        if parts:
            out.append((country.name, "".join(parts)))
    return tuple(out)


@dataclass(frozen=True)
class MapRegion:
    """One circle: a region with priorities, where it is, and whether it has the label."""

    key: str
    name: str
    lat: float
    lon: float
    priorities: int
    has_label: bool
    label_count: int = 0  # priorities of the region with the chosen label


def render_map(regions: Sequence[MapRegion], legend: str = "", selected: str | None = None) -> str:
    """The map as an SVG string (country paths, one circle per region, a legend)."""
    h = height()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {h}" '
        f'class="s3-map" role="img" aria-label="Map of regions with S3 priorities" '
        f'style="width:100%;max-width:{WIDTH}px;background:#eef5fb">',
        '<g class="s3-countries" fill="#f7f7f2" stroke="#9a9a9a" stroke-width="0.6">',
    ]
    for name, d in country_paths():
        parts.append(f'<path class="s3-country" d="{d}"><title>{html.escape(name)}</title></path>')
    parts.append('</g><g class="s3-regions">')
    # Big circles first so small ones stay clickable on top.
    for r in sorted(regions, key=lambda r: -r.priorities):
        p = laea(r.lon, r.lat)
        if p is None:
            continue
        x, y = _to_svg(*p)
        radius = 3 + 2.2 * math.sqrt(r.priorities)
        fill = HAS_COLOUR if r.has_label else LACKS_COLOUR
        stroke = ' stroke="#000" stroke-width="2.5"' if r.key == selected else ' stroke="#fff"'
        tip = f"{r.name} ({r.key}): {r.priorities} priorities"
        if legend:
            tip += f", {r.label_count} with {legend}"
        parts.append(
            f'<circle class="s3-region" data-region="{html.escape(r.key)}" cx="{x:.1f}" '
            f'cy="{y:.1f}" r="{radius:.1f}" fill="{fill}" fill-opacity="0.85"{stroke} '
            f'style="cursor:pointer"><title>{html.escape(tip)}</title></circle>'
        )
    parts.append("</g>")
    if legend:
        parts.append(
            f'<g font-size="13" font-family="sans-serif"><rect x="8" y="8" width="300" '
            f'height="46" fill="#fff" fill-opacity="0.85"/>'
            f'<circle cx="20" cy="22" r="6" fill="{HAS_COLOUR}"/>'
            f'<text x="32" y="26">has {html.escape(legend)}</text>'
            f'<circle cx="20" cy="42" r="6" fill="{LACKS_COLOUR}"/>'
            f'<text x="32" y="46">other priorities (size: number of priorities)</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
