"""The Observatory and Partners tabs in a real browser (Debian chromium via Playwright).

Same data as ``tests/test_api_observatory.py`` (91 Czech domains + 3 priorities elsewhere).
Checks: the table, a filter and its CSV export; a label correction refused without login and
saved after the admin logs in; the map (country paths + one circle per region) and a click on a
region showing its priorities; the partner list with explanations; and that the page fetched
nothing outside 127.0.0.1. Screenshots go to artifacts/screenshots/; docs/observatory-tab.png
and docs/partners-map.png (the README's) are written when missing or when
S3ASSIST_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.server import create_app
from observatory.service import ObservatoryService
from s3assist.settings import Settings
from tests.conftest import REPO
from tests.test_api_observatory import observatory_settings, seed_observatory
from tests.test_app_api import ADMIN, running
from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS

pytestmark = pytest.mark.slow
WAIT_MS = 120_000
DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    settings = observatory_settings(tmp_path_factory.mktemp("data"))
    seed_observatory(settings, tmp_path_factory.mktemp("extra"))
    with running(create_app(settings)) as url:
        yield url, settings


@pytest.fixture(scope="module")
def browser_page(site) -> Iterator[tuple[Any, list[str]]]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.on("request", lambda r: requests.append(r.url))
            tab.set_default_timeout(WAIT_MS)
            tab.goto(f"{site[0]}/ui/")
            tab.wait_for_selector("#s3-question textarea")
            yield tab, requests
        finally:
            browser.close()


@pytest.fixture
def page(browser_page) -> Any:  # type: ignore[no-untyped-def]
    return browser_page[0]


def _text_input(page: Any, elem_id: str) -> Any:
    return page.locator(f"#{elem_id}").locator("input, textarea").first


def _pick(page: Any, elem_id: str, option: str) -> None:
    page.click(f"#{elem_id} input")
    page.get_by_role("option", name=option, exact=True).click()


def _docs_shot(shot: Path, name: str) -> None:
    target = DOCS / name
    if target.exists() and os.environ.get("S3ASSIST_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(exist_ok=True)
    image = Image.open(shot).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, 1300)))
    image.thumbnail((1100, 1100))
    image.quantize(colors=128).save(target, optimize=True)


class TestObservatoryTab:
    def test_table_filter_and_csv_export(self, page):
        from playwright.sync_api import expect

        page.get_by_role("tab", name="Observatory").click()
        expect(page.locator("#s3-obs-count")).to_contain_text("94 priorities match")
        _pick(page, "s3-obs-ecosystem", "Health")
        page.click("#s3-obs-go")
        expect(page.locator("#s3-obs-count")).to_contain_text("2 priorities match")
        table = page.locator("#s3-obs-table")
        expect(table).to_contain_text("Medical technology and digital health")
        expect(table).to_contain_text("Steiermark")
        expect(table).not_to_contain_text("Arctic tourism")
        expect(page.locator("#s3-obs-csv")).to_contain_text("s3-priorities")

    def test_label_correction_needs_the_admin(self, page, site):
        from playwright.sync_api import expect

        _pick(page, "s3-obs-pick", "Medical technology and digital health — Bayern")
        expect(page.locator("#s3-obs-detail")).to_contain_text("imported")
        page.locator("#s3-obs-review").get_by_text("Corrections (admin)").click()
        _pick(page, "s3-obs-code", "Digital")
        _text_input(page, "s3-obs-why").fill("e-health platforms")
        page.click("#s3-obs-add")
        expect(page.locator("#s3-obs-status")).to_contain_text("Correction refused")
        _text_input(page, "s3-obs-user").fill(ADMIN[0])
        _text_input(page, "s3-obs-pw").fill(ADMIN[1])
        page.click("#s3-obs-login")
        expect(page.locator("#s3-obs-login-status")).to_contain_text("Logged in as")
        page.click("#s3-obs-add")
        expect(page.locator("#s3-obs-status")).to_contain_text("Saved")
        expect(page.locator("#s3-obs-detail .s3-review-log")).to_contain_text("e-health platforms")
        obs = ObservatoryService(site[1])
        try:
            (p,) = obs.priorities({"nuts_code": "DE2"})
            digital = [lab for lab in p.labels["ecosystems"] if lab.code == "Digital"]
            assert digital and digital[0].source == "review"
            assert [c.who for c in obs.corrections(p.priority_id)] == [ADMIN[0]]
        finally:
            obs.close()
        shot = SHOTS / "observatory.png"
        page.screenshot(path=str(shot), full_page=True)
        _docs_shot(shot, "observatory-tab.png")


class TestPartnersTab:
    def test_map_renders_and_a_click_shows_the_region(self, page):
        from playwright.sync_api import expect

        page.get_by_role("tab", name="Partners").click()
        svg = page.locator("#s3-map svg.s3-map")
        expect(svg).to_be_visible()
        assert page.locator("#s3-map path.s3-country").count() > 40
        circles = page.locator("#s3-map circle.s3-region")
        assert circles.count() == 17
        health = page.locator("#s3-map circle.s3-region[fill='#d9480f']")
        assert sorted(c.get_attribute("data-region") for c in health.all()) == ["AT22", "DE2"]
        page.locator("#s3-map circle[data-region='FI1D']").click(force=True)
        listing = page.locator("#s3-map-priorities")
        expect(listing).to_contain_text("Arctic tourism and experience services")
        expect(listing).to_contain_text("1 priority")
        page.locator("#s3-map circle[data-region='CZ031']").click(force=True)
        expect(listing).to_contain_text("Jihočeský kraj")
        expect(listing).not_to_contain_text("Arctic tourism")
        expect(page.locator("#s3-map circle[data-region='CZ031']")).to_have_attribute(
            "stroke", "#000"
        )
        _pick(page, "s3-map-region", "Steiermark (AT22, 1)")  # the list does the same
        expect(listing).to_contain_text("Life sciences and pharmaceutical research")

    def test_partners_with_explanations(self, page):
        from playwright.sync_api import expect

        page.locator("#s3-map circle[data-region='DE2']").click(force=True)
        expect(page.locator("#s3-map-priorities")).to_contain_text("Medical technology")
        page.click("#s3-partner-go")
        first = page.locator("#s3-partners .s3-partner").first
        expect(first).to_contain_text("Steiermark")
        expect(first).to_contain_text("cross-border neighbour (DE-AT)")
        expect(first.locator(".s3-explanation")).to_contain_text("shared ecosystems: Health")
        assert page.locator("#s3-partners .s3-partner").count() == 10
        shot = SHOTS / "partners.png"
        page.screenshot(path=str(shot), full_page=True)
        _docs_shot(shot, "partners-map.png")

    def test_nothing_was_fetched_from_outside(self, browser_page, site):
        requests = browser_page[1]
        assert requests, "no requests were recorded"
        outside = [u for u in requests if not u.startswith(site[0])]
        assert outside == []
