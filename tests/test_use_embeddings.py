"""The multilingual USE encoder: queries take a one-BLAS-thread copy of the same model."""

from __future__ import annotations

import numpy as np

from vectorstore.embeddings import UniversalSentenceEncoder

TEXTS = [
    "¿Qué indicador se usa en el caso de estudio de Düsseldorf?",
    "Smart specialisation strategies prioritise a few domains.",
    "Strategia inteligentnej specjalizacji województwa.",
]


def test_query_vectors_equal_document_vectors() -> None:
    use = UniversalSentenceEncoder(threads=2)
    docs = use.embed_array(TEXTS)
    for text, doc in zip(TEXTS, docs, strict=True):
        query = np.asarray(use.embed_query(text), dtype=np.float32)
        assert np.allclose(query, doc, atol=1e-5)
        assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4


def test_query_backend_shares_the_weights_with_one_blas_thread() -> None:
    use = UniversalSentenceEncoder(threads=2)
    use.embed_query("warm")
    batch, query = use.model._model, use._query_backend
    assert (batch.threads, query.threads) == (2, 1)
    assert np.shares_memory(batch.table, query.table)  # no second copy of the 65 MB table
