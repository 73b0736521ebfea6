"""The ONNX / int8 backends of MiniLM: exported locally, the same vectors as torch (fp32) or
close to them (int8), cached, and refused by an index built with another backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.errors import EmbedderMismatchError
from s3assist.settings import Settings
from vectorstore.embeddings import (
    OnnxEmbedder,
    dense_embedder,
    export_onnx,
    make_embedder,
    minilm_dir,
)
from vectorstore.store import ChunkStore

TEXTS = [
    "Smart specialisation strategies prioritise a few domains.",
    "The entrepreneurial discovery process involves stakeholders.",
    "Budget: 12.5 MEUR for 2021-2027 (ERDF).",
    "x " * 400,  # longer than the model's limit: truncated like sentence-transformers does
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    export_onnx(minilm_dir(), root / "onnx", quantized=True)
    return root


def test_export_is_cached(cache: Path) -> None:
    path = export_onnx(minilm_dir(), cache / "onnx", quantized=True)
    mtime = path.stat().st_mtime_ns
    assert export_onnx(minilm_dir(), cache / "onnx", quantized=True) == path
    assert path.stat().st_mtime_ns == mtime
    assert path.with_name("model.onnx").stat().st_size > 1.5 * path.stat().st_size  # int8 layers
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize(("quantized", "floor"), [(False, 0.99999), (True, 0.98)])
def test_vectors_match_torch(cache: Path, quantized: bool, floor: float) -> None:
    embedder = make_embedder("minilm", backend="torch")
    onnx = OnnxEmbedder(minilm_dir(), "all-MiniLM-L6-v2", cache, quantized=quantized)
    got = onnx.embed_array(TEXTS)
    ref = embedder.embed_array(TEXTS)
    assert got.shape == ref.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    assert np.min(np.sum(got * ref, axis=1)) > floor
    # int8 activations are quantised per batch, so a text's vector depends a little on its
    # batch-mates; fp32 does not
    assert float(np.dot(onnx.embed_query(TEXTS[0]), got[0])) > (floor if quantized else 0.99999)
    assert onnx.max_tokens == embedder.max_tokens and onnx.dimension == 384


def test_settings_pick_the_backend_and_the_index_refuses_a_mix(tmp_path: Path, cache) -> None:
    data = tmp_path / "data"
    torch_settings = Settings(
        data_dir=data, model_cache_dir=cache, multilingual_index=False, embedding_backend="torch"
    )
    int8_settings = torch_settings.model_copy(update={"embedding_backend": "onnx-int8"})
    int8 = dense_embedder(int8_settings)
    assert int8.name == "all-MiniLM-L6-v2@onnx-int8"
    assert Settings().embedding_backend == "onnx-int8"  # the default
    ChunkStore(torch_settings, dense_embedder(torch_settings))
    with pytest.raises(EmbedderMismatchError, match="all-MiniLM-L6-v2@onnx-int8") as err:
        ChunkStore(int8_settings, int8)
    assert "S3ASSIST_EMBEDDING_BACKEND=torch" in str(err.value)  # how to keep the old index


def test_batches_bound_padding_and_keep_the_input_order(cache: Path) -> None:
    """Texts are embedded in batches of similar token length (at most ``PAD_SLACK`` apart, at
    most ``batch_size`` long), and the vectors come back in the caller's order."""
    onnx = OnnxEmbedder(minilm_dir(), "all-MiniLM-L6-v2", cache, batch_size=4)
    texts = [("word " * n).strip() for n in (3, 120, 4, 60, 5, 118, 3, 61, 200, 4, 3, 5)]
    seen: list[list[int]] = []
    encode = onnx._encode

    def spy(batch: list[str]) -> np.ndarray:
        seen.append([len(onnx.tokenizer(t)["input_ids"]) for t in batch])
        return encode(batch)

    onnx._encode = spy  # type: ignore[method-assign]
    got = onnx.embed_array(texts)
    assert sorted(n for batch in seen for n in batch) == sorted(
        len(onnx.tokenizer(t)["input_ids"]) for t in texts
    )
    for batch in seen:
        assert len(batch) <= 4 and max(batch) <= OnnxEmbedder.PAD_SLACK * min(batch)
    one_by_one = np.array([encode([t])[0] for t in texts])
    np.testing.assert_allclose(got, one_by_one, atol=1e-5)  # fp32: batching changes nothing


def test_wordpiece_tokenizer_matches_transformers() -> None:
    """Our ``tokenizers``-based reader of tokenizer.json gives what AutoTokenizer gives: the
    chunker's counts and the model's inputs are unchanged by dropping transformers."""
    from transformers import AutoTokenizer

    from vectorstore.embeddings import minilm_tokenizer

    ref, ours = AutoTokenizer.from_pretrained(str(minilm_dir())), minilm_tokenizer()
    texts = [*TEXTS, "Ä ß ﬁ ① 日本語 — RIS3 2021-2027", "", "  a\tb\n"]
    for text in texts:
        assert ours(text)["input_ids"] == ref(text)["input_ids"]
        assert ours(text, add_special_tokens=False) == {
            "input_ids": ref(text, add_special_tokens=False)["input_ids"]
        }
    want = ref(texts, padding=True, truncation=True, max_length=256, return_tensors="np")
    got = ours.model_inputs(texts)
    for key in OnnxEmbedder.INPUTS:
        np.testing.assert_array_equal(got[key], want[key])


def test_onnx_embedding_never_imports_torch(cache: Path) -> None:
    """The ONNX path loads neither torch nor transformers once the graph is exported (~2 s of
    every CLI search and small ingest)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; "
        "from vectorstore.embeddings import OnnxEmbedder, minilm_dir; "
        f"e = OnnxEmbedder(minilm_dir(), 'm', Path({str(cache)!r}), quantized=True); "
        "e.embed_array(['a chunk', 'another, longer chunk']); e.embed_query('q'); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
