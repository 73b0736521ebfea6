"""API fuzzing: schemathesis generates requests from the served OpenAPI spec and sends them to
the real app in-process (ASGI: real handlers, real MiniLM/USE, Chroma, SQLite); no response may
be a server error (5xx). Size limits are checked for every route the spec lists: bodies above
``S3ASSIST_MAX_REQUEST_KB`` get 413, query strings above their declared ``maxLength`` get 422.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation (``S3ASSIST_FUZZ_EXAMPLES`` raises it
for a longer run); the number of cases run is printed at the end.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error

from app.server import create_app
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE

FUZZ_EXAMPLES = int(os.environ.get("S3ASSIST_FUZZ_EXAMPLES", "12"))
ADMIN = ("admin", "fuzz-s3cret")
MAX_REQUEST_KB = 16
NOT_FUZZED = {
    "/observatory/classify": "loads the observatory's classifier models per call "
    "(minutes on 2 cores): too slow for a bounded CI fuzz"
}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, embedder) -> FastAPI:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("corpus")
    for name in (
        "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
        "S3CoP_Clusters_Interregional_Cooperation_slides.md",
    ):
        shutil.copy(GUIDANCE / name, root / name)
        (root / name).chmod(0o644)
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        data_dir=data,
        admin_users=[":".join(ADMIN)],
        max_request_kb=MAX_REQUEST_KB,
        max_upload_mb=0.5,
        max_question_chars=500,
        # a fuzzed ``model: "local"`` must not load a 1.5 GiB model: the file is missing, so
        # the backend is unavailable and the answer falls back to extractive (a real path)
        local_model_path=data / "missing.gguf",
    )
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root])
    ingestor.close()
    return create_app(settings)


def test_no_server_errors(fuzz_app: FastAPI) -> None:
    """Every operation of the served spec, ``FUZZ_EXAMPLES`` generated requests each, sent with
    admin credentials (so the admin handlers run too): no response is a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in NOT_FUZZED:
            continue

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            cases[f"{case.method.upper()} {case.path}"] += 1
            response = case.call_and_validate(auth=ADMIN, checks=[not_a_server_error])
            statuses[response.status_code] += 1

        fuzz()
    total = sum(cases.values())
    print(f"\nschemathesis: {total} cases over {len(cases)} operations; statuses {dict(statuses)}")
    for op, n in sorted(cases.items()):
        print(f"  {n:4d}  {op}")
    assert len(cases) >= 15, "fewer operations than the API has: was the spec served whole?"
    assert not any(s >= 500 for s in statuses)


def _writes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("post", "put", "patch") and "requestBody" in op
    ]


def _concrete(path: str) -> str:
    return path.replace("{doc_id}", "guidance/x.txt").replace("{entry_id}", "1")


def test_every_body_over_the_limit_is_413(fuzz_app: FastAPI) -> None:
    with TestClient(fuzz_app) as client:
        spec = client.get("/openapi.json").json()
        writes = _writes(spec)
        assert ("POST", "/v1/chat/completions") in writes and ("POST", "/documents") in writes
        big = b'{"x": "' + b"a" * (MAX_REQUEST_KB * 1024 + 10) + b'"}'
        for method, path in writes:
            if path == "/documents":
                continue  # uploads have their own limit (tests/test_app_api.py)
            r = client.request(
                method,
                _concrete(path),
                content=big,
                headers={"content-type": "application/json"},
                auth=ADMIN,
            )
            assert r.status_code == 413, (method, path, r.status_code)
            assert "S3ASSIST_MAX_REQUEST_KB" in r.json()["detail"]

            def chunks() -> Any:  # no Content-Length: counted as it arrives
                for _ in range(MAX_REQUEST_KB + 2):
                    yield b" " * 1024

            r = client.request(method, _concrete(path), content=chunks(), auth=ADMIN)
            assert r.status_code == 413, ("chunked", method, path, r.status_code)


def _max_length(schema: dict[str, Any]) -> int | None:
    """How long a string parameter may be (also inside ``anyOf`` for optional ones); a
    ``pattern`` or ``enum`` bounds it too (checked with a 5000-character value)."""
    if "maxLength" in schema:
        return int(schema["maxLength"])
    if "pattern" in schema or "enum" in schema:
        return 4999
    lengths = [_max_length(s) for s in schema.get("anyOf", []) if s.get("type") == "string"]
    return lengths[0] if lengths else None


def _is_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" or any(_is_string(s) for s in schema.get("anyOf", []))


def test_every_string_query_parameter_is_bounded_and_422_above(fuzz_app: FastAPI) -> None:
    """A new route with an unbounded text parameter fails here: declare ``max_length``."""
    with TestClient(fuzz_app) as client:
        spec = client.get("/openapi.json").json()
        params = [
            (path, p["name"], p.get("schema", {}))
            for path, ops in spec["paths"].items()
            for method, op in ops.items()
            if method == "get"
            for p in op.get("parameters", [])
            if p["in"] == "query" and _is_string(p.get("schema", {}))
        ]
        unbounded = [(path, name) for path, name, schema in params if _max_length(schema) is None]
        assert unbounded == [], f"string query parameters without max_length: {unbounded}"
        assert {name for _, name, _ in params} >= {"q", "keyword", "country"}
        for path, name, schema in params:
            limit = _max_length(schema)
            assert limit is not None
            r = client.get(path, params={"q": "cluster", name: "a" * (limit + 1)})
            assert r.status_code == 422, (path, name, r.status_code)
        # the settings' own limit is tighter than the spec's: checked too
        r = client.get("/search", params={"q": "a" * 501})
        assert r.status_code == 422 and "500 characters" in r.text
        long_question = {"messages": [{"role": "user", "content": "why " * 200}]}
        r = client.post("/v1/chat/completions", json=long_question)
        assert r.status_code == 422 and "S3ASSIST_MAX_QUESTION_CHARS" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/documents/..%2F..%2Fetc%2Fpasswd",
        "/documents/%00",
        "/documents/" + "a" * 5000,
        "/helpdesk/99999999999999999999999",
        "/helpdesk/-1/approve",
    ],
)
def test_odd_paths_are_client_errors(fuzz_app: FastAPI, path: str) -> None:
    with TestClient(fuzz_app) as client:
        for method in ("DELETE", "PATCH", "POST", "PUT"):
            r = client.request(method, path, json={}, auth=ADMIN)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:200])
