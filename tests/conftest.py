"""Shared fixtures: the real shared corpus, isolated data dirs, and a network tripwire.

Every test runs with sockets restricted to loopback: anything that tries to reach a model hub,
telemetry endpoint or CDN fails the test that triggered it.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3assist  # noqa: F401  (offline environment before any model library loads)
from s3assist.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO.parent / "shared" / "corpus").resolve()
STRATEGIES = CORPUS / "strategies"
GUIDANCE = CORPUS / "guidance"
IMAGE_ONLY_PDF = GUIDANCE / "OnlineS3_4.1_EDP_Workshop_Review_Summary.pdf"
SMALL_PDFS = [
    STRATEGIES / "LT_Lithuania_RIS3_Implementation_Programme.pdf",
    GUIDANCE / "OnlineS3_2.4_Benchmarking_Case_Study.pdf",
]
NETWORK_ATTEMPTS: list[str] = []


def _is_local(address: object) -> bool:
    if isinstance(address, str | bytes):
        return True  # AF_UNIX socket path
    if not (isinstance(address, tuple) and address):
        return False
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"network access blocked in tests: {address!r}")
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_network_attempts() -> Iterator[None]:
    start = len(NETWORK_ATTEMPTS)
    yield
    assert NETWORK_ATTEMPTS[start:] == [], f"code tried the network: {NETWORK_ATTEMPTS[start:]}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two short real PDFs, the stakeholder .txt and the S3 CoP slides .md, copied to tmp."""
    root = tmp_path / "corpus"
    (root / "strategies").mkdir(parents=True)
    (root / "guidance").mkdir()
    for pdf in SMALL_PDFS:
        shutil.copy(pdf, root / pdf.parent.name / pdf.name)
    for name in (
        "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
        "S3CoP_Clusters_Interregional_Cooperation_slides.md",
    ):
        shutil.copy(GUIDANCE / name, root / "guidance" / name)
    for p in root.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return root


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real packaged MiniLM with the default settings' backend, loaded once per session."""
    from vectorstore.embeddings import dense_embedder

    return dense_embedder(Settings())
