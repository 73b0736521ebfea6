"""What the answer pipeline hands to the CLI, the web app, the API and the eval suite."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Source:
    """A numbered passage the answer may cite as ``[n]``: document, page and the passage."""

    n: int
    chunk_id: str
    file: str
    page: int
    text: str
    score: float
    title: str = ""
    region: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def citation(self) -> dict[str, Any]:
        return {"n": self.n, "file": self.file, "page": self.page, "text": self.text}


@dataclass
class SentenceCheck:
    """One answer sentence, the sources it cites after repair, and how well they support it."""

    text: str
    cited: list[int]
    support: float
    supported: bool
    repaired: bool = False


@dataclass
class Timings:
    condense_s: float = 0.0
    retrieve_s: float = 0.0
    select_s: float = 0.0
    generate_s: float = 0.0
    check_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0


@dataclass
class Answer:
    question: str
    standalone_question: str
    answer: str
    sources: list[Source]
    refused: bool
    backend: str
    language: str
    timings: Timings = field(default_factory=Timings)
    sentences: list[SentenceCheck] = field(default_factory=list)
    related: list[Source] = field(default_factory=list)
    """On a refusal: the closest passages, shown as related material (not as an answer)."""
    notices: list[str] = field(default_factory=list)
    """What the guards did, for the user: fallback to extractive, sentences removed, ..."""
    evidence_score: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    settings_hash: str = ""

    @property
    def cited_numbers(self) -> list[int]:
        seen: list[int] = []
        for s in self.sentences:
            for n in s.cited:
                if n not in seen:
                    seen.append(n)
        return seen

    def citations(self) -> list[dict[str, Any]]:
        """The sources the answer cites, in order of first citation."""
        by_n = {s.n: s for s in self.sources}
        return [by_n[n].citation() for n in self.cited_numbers if n in by_n]

    def as_json(self) -> dict[str, Any]:
        """The ``ask --json`` schema (stable: other tools read it)."""
        return {
            "answer": self.answer,
            "citations": self.citations(),
            "refused": self.refused,
            "backend": self.backend,
            "timings": {
                "retrieve_s": round(self.timings.retrieve_s, 4),
                "generate_s": round(self.timings.generate_s, 4),
                "first_token_s": (
                    None
                    if self.timings.first_token_s is None
                    else round(self.timings.first_token_s, 4)
                ),
                "total_s": round(self.timings.total_s, 4),
            },
            "language": self.language,
            "standalone_question": self.standalone_question,
            "related": [s.citation() for s in self.related],
            "notices": self.notices,
            "sentences": [asdict(s) for s in self.sentences],
            "evidence_score": round(self.evidence_score, 4),
            "tokens": {"in": self.tokens_in, "out": self.tokens_out},
            "settings_hash": self.settings_hash,
        }
