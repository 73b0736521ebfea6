"""Who may do what, checked route by route from the app itself, and secrets kept out of logs.

The permission table is derived, not listed: every API route with a method that changes
something (POST/PUT/PATCH/DELETE) must answer 401 without credentials and with wrong ones,
unless it is in ``READER_WRITES`` — the writes readers are meant to make. A route added later
(e.g. observatory label edits) is covered automatically: it fails here until it requires an
admin or is consciously added to the allow-list.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.server import create_app
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE

ADMIN = ("admin", "adm1n-Pa55-word-xyz")
API_KEY = "sk-test-KEY-0123456789abcdef"
TXT = "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
READER_WRITES = {
    ("POST", "/v1/chat/completions"): "ask",
    ("POST", "/feedback"): "rate an answer",
    ("POST", "/helpdesk"): "draft a helpdesk answer (a draft, not an approved answer)",
    ("PUT", "/helpdesk/{entry_id}"): "edit a draft; an approved entry goes back to 'edited' "
    "and needs an admin's approval again",
    ("POST", "/observatory/classify"): "classify a text (nothing is stored)",
}
"""Writes open to readers, with the reason. Everything else that writes needs an admin."""
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) of every API route, also inside included routers (FastAPI keeps
    those as ``_IncludedRouter`` wrappers holding the ``original_router``)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif (inner := getattr(route, "original_router", None)) is not None:
            extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            found += _api_routes(inner.routes, prefix + extra)
    return found


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = sorted(
        {
            (method, path)
            for path, route in _api_routes(app.routes)
            for method in route.methods
            if method in MUTATING
        }
    )
    # the spec must not list a write the walk missed (include_in_schema=False ones it may not)
    spec = app.openapi()["paths"]
    in_spec = {(m.upper(), p) for p, ops in spec.items() for m in ops if m.upper() in MUTATING}
    assert in_spec <= {(m, p.replace(":path", "")) for m, p in found}, in_spec
    return found


def concrete(path: str) -> str:
    return path.replace("{doc_id:path}", f"guidance/{TXT}").replace("{doc_id}", f"guidance/{TXT}")


@pytest.fixture(scope="module")
def secured(tmp_path_factory, embedder) -> tuple[FastAPI, Settings]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("corpus")
    (root / "guidance").mkdir()
    shutil.copy(GUIDANCE / TXT, root / "guidance" / TXT)
    (root / "guidance" / TXT).chmod(0o644)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        admin_users=[":".join(ADMIN)],
        openai_api_key=API_KEY,
        openai_base_url="http://127.0.0.1:9/v1",  # closed port: the openai backend fails
        openai_timeout_s=2,
        multilingual_index=False,
    )
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root], root=root)
    ingestor.close()
    return create_app(settings), settings


def test_permission_table(secured: tuple[FastAPI, Settings]) -> None:
    """Every write route except the reader allow-list: 401 (with a Basic challenge) for no
    credentials and for wrong ones, before the handler runs (the document is still there)."""
    app, _ = secured
    routes = write_routes(app)
    admin_only = [r for r in routes if r not in READER_WRITES]
    assert set(READER_WRITES) <= set(routes), "the allow-list names a route that is gone"
    assert {("POST", "/documents"), ("DELETE", "/documents/{doc_id:path}")} <= set(admin_only)
    assert ("POST", "/helpdesk/{entry_id}/approve") in admin_only
    print("\npermission table (method, route, who):")
    with TestClient(app) as client:
        for method, path in routes:
            who = "reader" if (method, path) in READER_WRITES else "admin"
            print(f"  {method:6} {path:40} {who}")
            if who == "reader":
                continue
            for auth in (None, ("admin", "wrong"), ("nobody", ADMIN[1])):
                r = client.request(method, concrete(path).replace("{entry_id}", "1"), auth=auth)
                assert r.status_code == 401, (method, path, auth, r.status_code)
                assert r.headers["www-authenticate"].startswith("Basic")
        docs = client.get("/documents").json()["documents"]
        assert [d["doc_id"] for d in docs] == [f"guidance/{TXT}"]


def test_readers_ask_search_and_draft_admins_approve(secured: tuple[FastAPI, Settings]) -> None:
    app, _ = secured
    with TestClient(app) as client:
        assert client.get("/search", params={"q": "stakeholder engagement"}).json()["hits"]
        ask = {"messages": [{"role": "user", "content": "How to engage stakeholders?"}]}
        assert client.post("/v1/chat/completions", json=ask).status_code == 200
        assert client.get("/documents").status_code == 200
        entry = client.post("/helpdesk", json={"question": "How to engage stakeholders?"}).json()
        url = f"/helpdesk/{entry['id']}"
        assert client.put(url, json={"answer": "Involve the quadruple helix."}).status_code == 200
        assert client.post(url + "/approve").status_code == 401
        approved = client.post(url + "/approve", auth=ADMIN)
        assert approved.status_code == 200 and approved.json()["approved_by"] == "admin"
        edit = {"title": "Stakeholder guide"}
        assert client.patch(f"/documents/guidance/{TXT}", json=edit).status_code == 401
        r = client.patch(f"/documents/guidance/{TXT}", json=edit, auth=ADMIN)
        assert r.status_code == 200 and r.json()["edited_by"] == "admin"
        r = client.post(f"/documents/guidance/{TXT}/reingest", auth=ADMIN)
        assert r.status_code == 200


def test_no_admins_configured_means_no_admin_routes(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        for method, path in write_routes(app):
            if (method, path) in READER_WRITES:
                continue
            r = client.request(method, concrete(path).replace("{entry_id}", "1"), auth=ADMIN)
            assert r.status_code == 401 and "S3ASSIST_ADMIN_USERS" in r.json()["detail"]


def _all_text(client: TestClient) -> list[tuple[str, Any]]:
    """Every response a curious reader can get about the service."""
    return [
        (path, client.get(path).text)
        for path in ("/health", "/v1/models", "/openapi.json", "/documents", "/helpdesk")
    ]


def test_secrets_are_never_logged_or_served(
    secured: tuple[FastAPI, Settings],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Requests with the admin password and an API key set, every logger at DEBUG: neither
    secret appears in any log record, in stdout/stderr, or in any response."""
    app, settings = secured
    secrets = [ADMIN[1], API_KEY]
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    with TestClient(app) as client:
        for _, text in _all_text(client):
            bodies.append(text)
        ask = {"messages": [{"role": "user", "content": "How to engage stakeholders?"}]}
        for model in ("openai", "extractive"):  # openai: the endpoint is down, error reported
            r = client.post("/v1/chat/completions", json={**ask, "model": model})
            assert r.status_code == 200
            bodies.append(r.text)
        bodies.append(client.post("/helpdesk/1/approve", auth=("admin", "bad")).text)
        bodies.append(client.post("/helpdesk/1/approve", auth=ADMIN).text)
        bodies.append(client.get("/search", params={"q": ADMIN[0]}, auth=ADMIN).text)
    assert any("openai" in b for b in bodies)  # the failed backend was reported...
    logs = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records)
    out, err = capfd.readouterr()
    for secret in secrets:
        assert secret not in logs, "a secret was logged"
        assert secret not in out + err, "a secret was printed"
        assert all(secret not in b for b in bodies), "a secret was served"
    assert API_KEY not in repr(settings) and ADMIN[1] not in repr(settings)
    assert API_KEY not in str(settings.model_dump()) and ADMIN[1] not in settings.settings_hash()
