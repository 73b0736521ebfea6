"""Second-stage scoring of the fused head of the ranking.

What the dev set (eval/datasets/retrieval_dev.jsonl) justified, measured on cached first-stage
candidates (MRR, 111 queries; current numbers in eval/reports/README.md):

- kept: **lexical coverage** of the query's content words (stemmed, stop words removed) in the
  passage, added to the fused score: +0.035 MRR, +4.5 points hit@1, ~1 ms. Most first-stage
  errors are the right document but the wrong page; coverage prefers the page that actually
  names what was asked. Skipped for non-English queries, where it can only hurt.
- dropped: max-sentence similarity (MiniLM + USE on the candidates' sentences): +0.01 MRR for
  ~1 s per query; all-mpnet-base-v2 on the top 10: +0.015 MRR for ~3 s per query on 2 cores.
- optional: a local sentence-transformers ``CrossEncoder`` (``S3ASSIST_CROSS_ENCODER_DIR``) for
  users who bring one; none ships in a package, so it is off by default.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

from assistant.language import could_be_english
from s3assist.settings import Settings
from vectorstore.store import ChunkStore, Hit

COVERAGE_WEIGHT = 0.25
"""Tuned on the dev set: 0.2-0.3 give the same MRR (0.713-0.715); 0.5 overshoots."""
_WORD = re.compile(r"\w\w+", re.UNICODE)


class Rescorer(Protocol):
    def rescore(self, query: str, hits: list[Hit]) -> list[Hit]: ...


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"what", "which", "how", "who", "why", "does", "do", "can"}


def content_terms(text: str) -> set[str]:
    stem = _stemmer().stemWord
    stop = _stopwords()
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in stop}


class LexicalCoverageRescorer:
    def __init__(self, weight: float = COVERAGE_WEIGHT):
        self.weight = weight

    def rescore(self, query: str, hits: list[Hit]) -> list[Hit]:
        if not hits or not could_be_english(query):
            return hits
        terms = content_terms(query)
        if not terms:
            return hits
        for hit in hits:
            coverage = len(terms & content_terms(hit.text)) / len(terms)
            hit.retriever_scores["coverage"] = coverage
            hit.score += self.weight * coverage
        return sorted(hits, key=lambda h: -h.score)


class CrossEncoderRescorer:
    """A user-supplied local CrossEncoder reorders the top ``depth`` hits by its own score."""

    def __init__(self, model_dir: str, depth: int = 20):
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model_dir, device="cpu")
        self.depth = depth

    def rescore(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[: self.depth], hits[self.depth :]
        if not head:
            return hits
        scores = self.model.predict([(query, h.text) for h in head], show_progress_bar=False)
        for hit, score in zip(head, scores, strict=True):
            hit.retriever_scores["cross_encoder"] = float(score)
            hit.score = float(score)
        return sorted(head, key=lambda h: -h.score) + tail


class ChainRescorer:
    def __init__(self, stages: list[Rescorer]):
        self.stages = stages

    def rescore(self, query: str, hits: list[Hit]) -> list[Hit]:
        for stage in self.stages:
            hits = stage.rescore(query, hits)
        return hits


def make_rescorer(settings: Settings, store: ChunkStore) -> Rescorer:
    stages: list[Rescorer] = [LexicalCoverageRescorer()]
    if settings.cross_encoder_dir is not None:
        stages.append(CrossEncoderRescorer(str(settings.cross_encoder_dir)))
    return stages[0] if len(stages) == 1 else ChainRescorer(stages)
