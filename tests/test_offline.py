"""Nothing may touch the network: the guard is real, and a full ingest + search stays offline."""

from __future__ import annotations

import os
import socket

import pytest

from ingest.pipeline import Ingestor
from s3assist.offline import OFFLINE_ENV
from tests.conftest import NETWORK_ATTEMPTS


class TestOffline:
    def test_offline_environment_is_set(self):
        for key, value in OFFLINE_ENV.items():
            if value == "1":  # libraries may rewrite a flag as "True"; it must stay on
                assert os.environ[key].lower() in ("1", "true"), key
            else:
                assert os.environ[key] == value, key

    def test_guard_blocks_outside_addresses(self):
        before = len(NETWORK_ATTEMPTS)
        with socket.socket() as s, pytest.raises(OSError, match="network access blocked"):
            s.connect(("203.0.113.7", 443))
        assert len(NETWORK_ATTEMPTS) == before + 1
        del NETWORK_ATTEMPTS[before:]  # this attempt was the point of the test

    def test_ingest_and_search_make_no_network_calls(self, settings, small_corpus):
        from vectorstore.embeddings import _CACHE

        _CACHE.clear()  # load the model from the package again, under the guard
        before = len(NETWORK_ATTEMPTS)
        ing = Ingestor(settings)
        ing.ingest([small_corpus])
        assert ing.store.search("entrepreneurial discovery", 3)
        assert NETWORK_ATTEMPTS[before:] == []
