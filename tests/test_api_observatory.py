"""The observatory's HTTP API on a real uvicorn server over a real priority store.

Data: the 91 Czech NRIS3 regional domains (imported, 54 with NACE divisions) plus three English
priorities of Bavaria, Styria and North and East Finland with imported labels, so filters,
colours and cross-border partners have something to find. Reading and free-text classification
are open; every mutating route needs the admin (HTTP Basic).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from app.api_observatory import observatory_router, split_filters
from app.map import MapRegion, country_paths, laea, render_map
from app.server import create_app
from observatory.service import EXPORT_COLUMNS, ObservatoryService
from s3assist.settings import Settings
from tests.conftest import CORPUS
from tests.test_app_api import ADMIN, app_settings, running

CZECH = CORPUS / "data" / "cz_nris3_regional_domains.json"
EXTRA = [
    {
        "title": "Medical technology and digital health",
        "description": "Medical devices, imaging and e-health services for hospitals.",
        "nuts_code": "DE2",
        "language": "en",
        "nace_divisions": "26;32;86",
        "ecosystems": "Health",
    },
    {
        "title": "Life sciences and pharmaceutical research",
        "description": "Clinical research and the manufacture of pharmaceuticals.",
        "nuts_code": "AT22",
        "language": "en",
        "nace_divisions": "21;72",
        "ecosystems": "Health",
    },
    {
        "title": "Arctic tourism and experience services",
        "description": "Nature-based tourism, accommodation and travel services.",
        "nuts_code": "FI1D",
        "language": "en",
        "nace_divisions": "55;79",
        "ecosystems": "Tourism",
    },
]
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
READER_POSTS = {"/observatory/classify"}  # read-only: classifies text, stores nothing


def seed_observatory(settings: Settings, folder: Path) -> None:
    """Import the Czech domains and the three extra priorities into ``settings.data_dir``."""
    extra = folder / "extra_priorities.json"
    extra.write_text(json.dumps(EXTRA), encoding="utf-8")
    obs = ObservatoryService(settings)
    try:
        obs.import_file(CZECH)
        obs.import_file(extra)
    finally:
        obs.close()


def observatory_settings(data_dir: Path) -> Settings:
    return app_settings(data_dir, observatory_e5=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    settings = observatory_settings(tmp_path_factory.mktemp("data"))
    seed_observatory(settings, tmp_path_factory.mktemp("extra"))
    with running(create_app(settings)) as url:
        yield url, settings


@pytest.fixture
def client(served) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=served[0], timeout=300) as c:
        yield c


def _first_id(client: httpx.Client, **params: str) -> str:
    body = client.get("/observatory/priorities", params=params).json()
    return str(body["priorities"][0]["priority_id"])


class TestReading:
    def test_all_priorities_and_filters(self, client):
        assert client.get("/observatory/priorities").json()["total"] == 94
        cz = client.get("/observatory/priorities", params={"country": "CZ"}).json()
        assert cz["total"] == 91
        assert {p["country"] for p in cz["priorities"]} == {"CZ"}
        health = client.get("/observatory/priorities", params={"ecosystems": "Health"}).json()
        assert {p["nuts_code"] for p in health["priorities"]} >= {"DE2", "AT22"}
        assert "FI1D" not in {p["nuts_code"] for p in health["priorities"]}
        either = client.get("/observatory/priorities", params={"nuts_code": "DE2,FI1D"}).json()
        assert either["total"] == 2
        machines = client.get("/observatory/priorities", params={"nace_divisions": "28"}).json()
        assert machines["total"] > 5
        for p in machines["priorities"]:
            assert "28" in [lab["code"] for lab in p["labels"]["nace_divisions"]]
            assert "C" in [lab["code"] for lab in p["labels"]["nace_sections"]]  # derived
        kraje = client.get("/observatory/priorities", params={"nuts_code": "CZ0"}).json()
        assert kraje["total"] == 91  # NUTS prefix
        word = client.get("/observatory/priorities", params={"q": "arctic"}).json()
        assert [p["nuts_code"] for p in word["priorities"]] == ["FI1D"]
        level = client.get("/observatory/priorities", params={"territorial_level": "national"})
        assert level.json()["total"] == 0
        limited = client.get("/observatory/priorities", params={"limit": 5}).json()
        assert limited["total"] == 94 and len(limited["priorities"]) == 5

    def test_one_priority_and_404(self, client):
        pid = _first_id(client, nuts_code="FI1D")
        body = client.get(f"/observatory/priorities/{pid}").json()
        assert body["title"] == "Arctic tourism and experience services"
        assert body["labels"]["ecosystems"][0]["source"] == "imported"
        assert client.get("/observatory/priorities/p-nope").status_code == 404

    def test_regions_have_centroids_and_label_counts(self, client):
        regions = {r["key"]: r for r in client.get("/observatory/regions").json()["regions"]}
        assert len(regions) == 17  # 14 kraje + 3
        south_bohemia = regions["CZ031"]
        assert 48 < south_bohemia["lat"] < 50 and 13 < south_bohemia["lon"] < 16
        assert regions["DE2"]["labels"]["ecosystems"] == {"Health": 1}

    def test_taxonomy(self, client):
        body = client.get("/observatory/taxonomy").json()
        assert len(body["ecosystems"]) == 14 and len(body["nace_sections"]) == 21
        assert {"code": "28"}.items() <= next(
            d for d in body["nace_divisions"] if d["code"] == "28"
        ).items()
        one = client.get("/observatory/taxonomy", params={"field": "nabs_chapters"}).json()
        assert list(one) == ["nabs_chapters"]
        assert client.get("/observatory/taxonomy", params={"field": "x"}).status_code == 422

    def test_export_csv_and_json_follow_filters(self, client):
        r = client.get("/observatory/export", params={"country": "CZ", "nace_divisions": "28"})
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows and list(rows[0]) == EXPORT_COLUMNS
        assert all("28" in row["nace_divisions"].split(";") for row in rows)
        listed = client.get("/observatory/priorities", params={"nace_divisions": "28"}).json()
        assert len(rows) == listed["total"]
        j = client.get("/observatory/export", params={"format": "json", "ecosystems": "Tourism"})
        assert [p["nuts_code"] for p in j.json()["priorities"]] == ["FI1D"]


class TestReview:
    def test_every_mutating_route_needs_the_admin(self, client):
        routes = [
            (method, r.path)
            for r in observatory_router.routes
            if isinstance(r, APIRoute)
            for method in r.methods & MUTATING
            if r.path not in READER_POSTS
        ]
        assert len(routes) == 3
        pid = _first_id(client, nuts_code="FI1D")
        for method, path in routes:
            url = path.format(priority_id=pid, field="ecosystems", code="Tourism")
            body = {"field": "ecosystems", "code": "Health", "title": "x"}
            r = client.request(method, url, json=body)
            assert r.status_code == 401, (method, path)
            wrong = client.request(method, url, json=body, auth=("admin", "nope"))
            assert wrong.status_code == 401, (method, path)
        assert client.get(f"/observatory/priorities/{pid}").json()["title"] != "x"

    def test_add_remove_label_and_edit_text_are_logged(self, client):
        pid = _first_id(client, nuts_code="FI1D")
        added = client.post(
            f"/observatory/priorities/{pid}/labels",
            json={"field": "ecosystems", "code": "cultural & creative industries", "why": "events"},
            auth=ADMIN,
        )
        assert added.status_code == 201, added.text
        ecos = added.json()["priority"]["labels"]["ecosystems"]
        assert ecos[0]["code"] == "Cultural & Creative Industries"
        assert ecos[0]["source"] == "review" and ecos[0]["confidence"] == 1.0
        removed = client.delete(
            f"/observatory/priorities/{pid}/labels/ecosystems/Tourism",
            params={"why": "wrong"},
            auth=ADMIN,
        )
        assert removed.status_code == 200
        codes = [lab["code"] for lab in removed.json()["priority"]["labels"]["ecosystems"]]
        assert codes == ["Cultural & Creative Industries"]
        edited = client.patch(
            f"/observatory/priorities/{pid}",
            json={"title": "Arctic tourism and events", "why": "typo"},
            auth=ADMIN,
        )
        assert edited.status_code == 200
        assert edited.json()["priority"]["title"] == "Arctic tourism and events"
        assert edited.json()["priority"]["source"] == "edited"
        log = client.get(f"/observatory/priorities/{pid}").json()["corrections"]
        assert [c["action"] for c in log] == ["add_label", "remove_label", "edit_title"]
        assert {c["who"] for c in log} == {ADMIN[0]} and log[1]["why"] == "wrong"
        review_csv = client.get("/observatory/corrections", params={"format": "csv"}).text
        assert "remove_label" in review_csv and "Tourism" in review_csv
        # the filters see the reviewed labels
        tourism = client.get("/observatory/priorities", params={"ecosystems": "Tourism"}).json()
        assert tourism["total"] == 0

    def test_bad_review_requests(self, client):
        pid = _first_id(client, nuts_code="DE2")
        bad_code = client.post(
            f"/observatory/priorities/{pid}/labels",
            json={"field": "nace_divisions", "code": "00"},
            auth=ADMIN,
        )
        assert bad_code.status_code == 422
        bad_field = client.post(
            f"/observatory/priorities/{pid}/labels", json={"field": "x", "code": "C"}, auth=ADMIN
        )
        assert bad_field.status_code == 422
        missing = client.post(
            "/observatory/priorities/p-nope/labels",
            json={"field": "nace_sections", "code": "C"},
            auth=ADMIN,
        )
        assert missing.status_code == 404
        nothing = client.patch(f"/observatory/priorities/{pid}", json={}, auth=ADMIN)
        assert nothing.status_code == 422


class TestPartners:
    def test_partners_are_ranked_and_explained(self, client):
        body = client.get("/observatory/partners/DE2", params={"k": 5}).json()
        partners = body["partners"]
        assert 1 <= len(partners) <= 5
        assert [p["score"] for p in partners] == sorted(
            (p["score"] for p in partners), reverse=True
        )
        assert partners[0]["nuts_code"] == "AT22"  # the other Health priority
        assert "Health" in partners[0]["shared_labels"]["ecosystems"]
        assert partners[0]["explanation"] and partners[0]["pairs"]
        flags = {p["nuts_code"]: p["neighbour"] for p in partners}
        assert flags["AT22"] == "cross-border neighbour (DE-AT)"

    def test_complementary_and_unknown_region(self, client):
        body = client.get("/observatory/partners/DE2", params={"complementary": True}).json()
        top = body["partners"][0]
        assert top["complementarity"] > 0 and top["complementary"][0]["ecosystem"] == "Health"
        assert client.get("/observatory/partners/Atlantis").status_code == 404


@pytest.mark.slow
def test_classify_free_text_is_open_to_readers(client):
    r = client.post("/observatory/classify", json={"text": "Medical devices and digital health"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"nace_sections", "nace_divisions", "nabs_chapters", "ecosystems",
                         "s3_topics", "keywords"}  # fmt: skip
    assert "Health" in [e["code"] for e in body["ecosystems"]]
    for lab in body["nace_divisions"]:
        assert len(lab["code"]) == 2 and 0 <= lab["confidence"] <= 1
    for bad in ("", "  12 ", "x" * 4001):  # empty, no words, over S3ASSIST_MAX_QUESTION_CHARS
        assert client.post("/observatory/classify", json={"text": bad}).status_code == 422


class TestMapAndHelpers:
    def test_split_filters(self):
        assert split_filters({"country": "CZ, DE", "q": " smart grids ", "x": None}) == {
            "country": ["CZ", "DE"],
            "q": "smart grids",
        }

    def test_projection_is_centred_on_europe(self):
        assert laea(10.0, 52.0) == (0.0, 0.0)
        west, east = laea(-9.0, 39.0), laea(24.0, 60.0)  # Lisbon, Helsinki
        assert west is not None and east is not None and west[0] < 0 < east[0]
        assert laea(-170.0, -40.0) is None  # the far side of the globe

    def test_map_svg_has_countries_and_region_circles(self):
        names = [name for name, _ in country_paths()]
        assert {"Czechia", "Germany", "Finland", "Portugal"} <= set(names)
        svg = render_map(
            [
                MapRegion("CZ031", "Jihočeský kraj", 48.95, 14.44, 7, True, 2),
                MapRegion("FI1D", "North & East Finland", 61.9, 25.7, 1, False),
            ],
            legend="Industrial ecosystem Health",
            selected="FI1D",
        )
        assert svg.startswith("<svg") and svg.count('<circle class="s3-region"') == 2
        assert 'data-region="CZ031"' in svg and "North &amp; East Finland" in svg
        assert "has Industrial ecosystem Health" in svg and "http" not in svg.replace(
            "http://www.w3.org/2000/svg", ""
        )
