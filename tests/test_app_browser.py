"""The web app in a real browser: Debian's chromium driven by Playwright, against a real server.

Ask (cited answer, page preview, feedback stored in SQLite), Search (filtered, highlighted, CSV)
and Library (upload refused without login, accepted after the admin logs in), Helpdesk (a
drafted answer with its citations, approval refused without login). Screenshots of
each tab go to artifacts/screenshots/; docs/ask-tab.png (the README's) is written when missing
or when S3ASSIST_UPDATE_SCREENSHOTS=1.

Chromium comes from apt (`make test` installs it); never `playwright install`, which downloads.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.feedback import FeedbackStore
from app.server import create_app
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE, REPO
from tests.test_app_api import ADMIN, BENCH, QUESTION, app_settings, make_corpus, running

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SHOTS = REPO / "artifacts" / "screenshots"
DOCS_SHOT = REPO / "docs" / "ask-tab.png"
UPLOAD = GUIDANCE / "OnlineS3_4.1_EDP_Focus_Groups_Roadmap.pdf"
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def site(tmp_path_factory, embedder) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    root = make_corpus(tmp_path_factory.mktemp("corpus"))
    settings = app_settings(tmp_path_factory.mktemp("data"))
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root])
    ingestor.close()
    with running(create_app(settings)) as url:
        yield f"{url}/ui/", settings


@pytest.fixture(scope="module")
def page(site) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # the first answer loads the models (slow CI machines)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(WAIT_MS)
            tab.goto(site[0])
            tab.wait_for_selector("#s3-question textarea")
            yield tab
        finally:
            browser.close()


def _text_input(page: Any, elem_id: str) -> Any:
    return page.locator(f"#{elem_id}").locator("input, textarea").first


def _save_docs_screenshot(shot: Path) -> None:
    if DOCS_SHOT.exists() and os.environ.get("S3ASSIST_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS_SHOT.parent.mkdir(exist_ok=True)
    image = Image.open(shot).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, 1100)))
    image.thumbnail((1100, 1100))
    image.quantize(colors=128).save(DOCS_SHOT, optimize=True)


class TestAskTab:
    def test_cited_answer_with_page_preview(self, page):
        from playwright.sync_api import expect

        page.get_by_role("tab", name="Ask").click()
        _text_input(page, "s3-question").fill(QUESTION)
        page.click("#s3-ask")
        expect(page.locator("#s3-sources .s3-cited").first).to_be_visible()
        expect(page.locator("#s3-chat")).to_contain_text(f"{BENCH}, p.")
        expect(page.locator("#s3-chat")).to_contain_text("[1]")
        expect(page.locator("#s3-sources .s3-cited mark").first).to_be_visible()
        preview = page.locator("#s3-preview img").first
        expect(preview).to_be_visible()
        assert preview.evaluate("img => img.naturalWidth") > 300
        shot = SHOTS / "ask.png"
        page.screenshot(path=str(shot), full_page=True)
        _save_docs_screenshot(shot)

    def test_feedback_is_stored_in_sqlite(self, page, site):
        from playwright.sync_api import expect

        _text_input(page, "s3-comment").fill("evidence is on page 5")
        page.click("#s3-rate-wrong_evidence")
        expect(page.locator("#s3-feedback-status")).to_contain_text("saved")
        rows = FeedbackStore(site[1].app_db).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.verdict == "wrong_evidence" and row.comment == "evidence is on page 5"
        assert row.question == QUESTION and "[1]" in row.answer
        assert row.sources and row.sources[0]["file"] == BENCH
        assert row.backend == "extractive" and row.settings_hash == site[1].settings_hash()


class TestSearchTab:
    def test_filtered_search_highlights_terms(self, page):
        from playwright.sync_api import expect

        page.get_by_role("tab", name="Search").click()
        _text_input(page, "s3-search-query").fill("reference region")
        page.click("#s3-country input")
        page.get_by_role("option", name="DE", exact=True).click()
        page.click("#s3-search-go")
        rows = page.locator("#s3-results tbody tr")
        expect(rows.first).to_be_visible()
        texts = rows.all_inner_texts()
        assert texts and all(BENCH in t and "Düsseldorf" in t for t in texts)
        expect(page.locator("#s3-results mark").first).to_be_visible()
        expect(page.locator("#s3-csv")).to_contain_text("s3-search-results")
        page.screenshot(path=str(SHOTS / "search.png"), full_page=True)


class TestLibraryTab:
    def test_upload_is_refused_without_login_then_accepted_and_deleted(self, page, tmp_path):
        from playwright.sync_api import expect

        upload = tmp_path / "Focus_Groups_Roadmap.pdf"
        shutil.copy(UPLOAD, upload)
        page.get_by_role("tab", name="Library").click()
        expect(page.locator("#s3-library")).to_contain_text(BENCH)
        page.set_input_files("#s3-upload input[type=file]", str(upload))
        expect(page.locator("#s3-upload")).to_contain_text(upload.stem)  # ".pdf" shown apart
        page.click("#s3-upgo")
        expect(page.locator("#s3-action-status")).to_contain_text("Upload refused")

        _text_input(page, "s3-admin-user").fill("admin")
        _text_input(page, "s3-admin-pw").fill("wrong")
        page.click("#s3-login")
        expect(page.locator("#s3-login-status")).to_contain_text("Wrong user name or password")
        _text_input(page, "s3-admin-pw").fill(ADMIN[1])
        page.click("#s3-login")
        expect(page.locator("#s3-login-status")).to_contain_text("Logged in as")
        page.click("#s3-upgo")
        expect(page.locator("#s3-action-status")).to_contain_text("Uploaded")
        expect(page.locator("#s3-library")).to_contain_text(f"uploads/{upload.name}")
        page.screenshot(path=str(SHOTS / "library.png"), full_page=True)

        page.click("#s3-delpick input")
        page.get_by_role("option", name=f"uploads/{upload.name}", exact=True).click()
        page.click("#s3-delgo")
        expect(page.locator("#s3-action-status")).to_contain_text("Deleted")
        expect(page.locator("#s3-library")).not_to_contain_text(f"uploads/{upload.name}")


class TestHelpdeskTab:
    def test_draft_an_answer_and_see_it_listed(self, page, site):
        from playwright.sync_api import expect

        from app.helpdesk import HelpdeskStore

        page.get_by_role("tab", name="Helpdesk").click()
        _text_input(page, "s3-hd-q").fill(QUESTION)
        page.click("#s3-hd-draft")
        expect(page.locator("#s3-hd-status")).to_contain_text("saved")
        expect(_text_input(page, "s3-hd-a")).to_have_value(re.compile(r"\[1\]"))
        expect(page.locator("#s3-hd-cites")).to_contain_text(BENCH)
        expect(page.locator("#s3-hd-table")).to_contain_text("draft")
        entries = HelpdeskStore(site[1]).list()
        assert entries and entries[0].question == QUESTION and "[1]" in entries[0].answer
        page.click("#s3-hd-approve")
        expect(page.locator("#s3-hd-status")).to_contain_text("Approval refused")
        page.screenshot(path=str(SHOTS / "helpdesk.png"), full_page=True)
