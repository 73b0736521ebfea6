"""Records passed between the observatory's stages (import/extract → classify → review → partners).

Kept in one module so the priority store, the classifier, the CLI, the API and the app agree on
one shape; everything serialises to plain JSON with ``as_json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

LabelField = Literal["nace_sections", "nace_divisions", "nabs_chapters", "ecosystems", "s3_topics"]
LABEL_FIELDS: tuple[LabelField, ...] = (
    "nace_sections",
    "nace_divisions",
    "nabs_chapters",
    "ecosystems",
    "s3_topics",
)
LabelSource = Literal["model", "llm", "imported", "review"]
PrioritySource = Literal["extracted", "imported", "edited"]


@dataclass(frozen=True)
class Label:
    """One taxonomy label on a priority: a code from a taxonomy file, how sure, and why."""

    field: LabelField
    code: str  # NACE section letter, NACE division "01", NABS chapter "01", ecosystem name
    label: str  # the taxonomy's human-readable name for the code
    confidence: float  # 0..1, calibrated per field (see observatory/classify.py)
    evidence: tuple[str, ...] = ()  # words/passages that led to the label
    source: LabelSource = "model"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "confidence": round(self.confidence, 4)}


@dataclass
class Classification:
    """Multi-label result for one priority text; the shape of `observatory classify --json`."""

    labels: dict[LabelField, list[Label]] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)

    def codes(self, name: LabelField) -> list[str]:
        return [lab.code for lab in self.labels.get(name, [])]

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            name: [lab.as_json() for lab in self.labels.get(name, [])] for name in LABEL_FIELDS
        }
        out["keywords"] = list(self.keywords)
        return out


@dataclass
class Priority:
    """One S3 priority (specialisation domain) of one strategy, with where it was stated."""

    priority_id: str  # stable: derived from source + region + title, see observatory/store.py
    title: str
    description: str = ""
    region: str | None = None
    country: str | None = None  # ISO/NUTS country code
    nuts_code: str | None = None
    territorial_level: str | None = None  # national / regional
    language: str | None = None
    doc_id: str | None = None  # the ingested strategy document, when extracted from one
    page: int | None = None  # 1-based page that states the priority
    source: PrioritySource = "imported"
    labels: dict[LabelField, list[Label]] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """What the classifier and the partner finder read."""
        return f"{self.title}. {self.description}".strip(". ") if self.description else self.title

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["labels"] = {
            name: [
                {**lab.as_json(), "evidence": list(lab.evidence), "source": lab.source}
                for lab in self.labels.get(name, [])
            ]
            for name in LABEL_FIELDS
        }
        return data
