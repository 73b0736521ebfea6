"""Find the priorities (specialisation domains) a strategy document states, with their page.

Strategies state their priorities as numbered items ("15.1. Energy and sustainable
environment. The selection..."), numbered headings ("4.1.1 Innovative materials"), bullets, or
an inline enumeration after a cue ("five key clusters were identified ..., namely: Agrifood,
Energy, ..."). The rule-based extractor reads every page's lines (PDF text through the ingest
loaders, so every candidate keeps its 1-based page), proposes such short titles, and keeps those
that look like a domain: MiniLM similarity to domain exemplars minus similarity to generic
section headings ("Introduction", "Monitoring and evaluation"), plus a bonus when the page
talks about priorities. The LLM backend is not used here (see the module's report); the
matcher below measures recall against a hand-made gold list.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.cleaning import normalise_chars
from ingest.loaders import LoadLimits, PageText, load_file

_CUE = re.compile(
    r"priorit|speciali[sz]ation (domain|area|field)|growth area|focus (area|point|sector)|"
    r"key (cluster|sector)|top sector|thematic (business )?sector|domains?\b|niche",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){0,3})\.?\)?\s+(\S.*)$")
_TRAILING_NUMBER = re.compile(r"^\s*([A-Z][^.:;]{2,90}?)\s*\d{1,2}\.\s*$")
_LETTERED = re.compile(r"^\s*\(?[a-h]\)\s+(\S.*)$")  # "a) cyber security;" sub-items
_BULLET = re.compile(r"^\s*[•●▪■◦○·\-–—*➢✓]\s*(\S.*)$")
_LIST_CUE = re.compile(
    r"(?:namely|are|include|including|following|identified|sectors?)\s*:?\s+"
    r"((?:[^.;:]{2,60},\s+){2,}[^.;:]{2,80})(?:\.|;|$)",
    re.IGNORECASE,
)
_FOOTNOTE_LIST = re.compile(r"^\s*\d{1,2}\s+((?:[A-Z][^,.;]{1,40},\s*){3,}[^.;]{2,80})\.?\s*$")
_TOC = re.compile(r"\.{4,}|…{2,}|\s\d{1,3}\s*$")

DOMAIN_EXEMPLARS = [
    "information and communication technologies, digital, software",
    "health, life sciences, biotechnology and medical technology",
    "agri-food, food production and the bioeconomy",
    "energy, renewable energy and energy efficiency",
    "advanced manufacturing, new materials and production processes",
    "tourism, culture and creative industries",
    "transport, logistics and mobility",
    "water technology and environment",
    "chemicals and chemistry industry",
    "construction and smart buildings",
    "financial and business services",
    "inclusive and creative society, social innovation",
    "high-tech systems, sensors and electronics",
]
GENERIC_HEADINGS = [
    "introduction",
    "table of contents",
    "monitoring and evaluation of the strategy",
    "governance and management structure",
    "methodology and analysis",
    "SWOT analysis: strengths, weaknesses, opportunities, threats",
    "conclusions and recommendations",
    "budget, funding and financial instruments",
    "stakeholder consultation and entrepreneurial discovery process",
    "objectives and vision of the strategy",
    "action plan and implementation",
    "references and annexes",
    "policy mix and measures",
    "statistical indicators and figures",
]


@dataclass
class Candidate:
    """A proposed priority title with where and how it was found."""

    title: str
    page: int
    kind: str  # numbered / trailing-number / sub-item / bullet / enumeration / footnote-list
    context: str  # the line or sentence it came from
    score: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "page": self.page,
            "kind": self.kind,
            "score": round(self.score, 4),
            "context": self.context,
        }


def _clean_title(text: str) -> str:
    text = re.split(r"(?<=[a-z\)])\.\s|[:;]\s|\.$", text.strip(), maxsplit=1)[0]
    text = re.sub(r"\s+", " ", text).strip(" .,:;-–—•")
    return re.sub(r"^(and|or)\s+", "", text, flags=re.IGNORECASE)


MAX_TITLE_WORDS = 9
_DANGLING = {"the", "and", "of", "in", "for", "a", "an", "to", "on", "with", "by", "like", "as",
             "but", "or", "at", "from", "ample", "their", "its", "our", "be"}  # fmt: skip


def _plausible(title: str) -> bool:
    words = title.split()
    return (
        1 <= len(words) <= MAX_TITLE_WORDS
        and len(title) >= 3
        and not re.search(r"\d$", title)  # a contents line ("The Route 13")
        and words[-1].lower() not in _DANGLING  # the first line of a wrapped sentence
        and title[0].isupper()
        and sum(ch.isalpha() for ch in title) >= 0.6 * len(title)
        and not title.isupper()  # SHOUTED cover/heading lines are titles, not domains
    )


def _split_enumeration(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r",\s+", text.replace("\n", " ")) if p.strip()]
    if parts and " and " in parts[-1] and len(parts[-1].split()) > 3:
        head, _, tail = parts[-1].rpartition(" and ")
        parts[-1:] = [head, tail]
    return [_clean_title(p) for p in parts]


def page_candidates(page: PageText) -> list[Candidate]:
    """Short titles stated as numbered items, headings, bullets or enumerations on one page."""
    out: list[Candidate] = []
    text = normalise_chars(page.text)
    lines = text.split("\n")
    for line in lines:
        if _TOC.search(line) and "...." in line:
            continue
        if m := _NUMBERED.match(line):
            number, rest = m.groups()
            if len(number) <= 2 and not number.isdigit():
                continue
            out.append(Candidate(_clean_title(rest), page.page, "numbered", line.strip()))
        elif m := _TRAILING_NUMBER.match(line):
            out.append(Candidate(_clean_title(m.group(1)), page.page, "trailing-number", line))
        elif m := _LETTERED.match(line):
            sub = _clean_title(m.group(1))
            out.append(Candidate(sub[:1].upper() + sub[1:], page.page, "sub-item", line.strip()))
        elif m := _BULLET.match(line):
            out.append(Candidate(_clean_title(m.group(1)), page.page, "bullet", line.strip()))
        if m := _FOOTNOTE_LIST.match(line):
            for part in _split_enumeration(m.group(1)):
                out.append(Candidate(part, page.page, "footnote-list", line.strip()))
    joined = re.sub(r"\s*\n\s*", " ", text)
    for m in _LIST_CUE.finditer(joined):
        for part in _split_enumeration(m.group(1)):
            out.append(Candidate(part, page.page, "enumeration", m.group(0)[:300]))
    return [c for c in out if _plausible(c.title)]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


_STOP = {"the", "and", "of", "in", "for", "a", "an", "to", "on", "with", "incl", "including"}


def title_tokens(text: str) -> set[str]:
    """Normalised content tokens: folded, stop words dropped, a plural 's' stripped."""
    words = re.findall(r"[a-z0-9]+", _fold(text))
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if w not in _STOP}


def token_dice(a: str, b: str) -> float:
    ta, tb = title_tokens(a), title_tokens(b)
    return 2 * len(ta & tb) / (len(ta) + len(tb)) if ta and tb else 0.0


class Extractor:
    """Rule-based candidates, kept when MiniLM says they read like a domain."""

    def __init__(self, embedder: Any, min_score: float = 0.1, cue_bonus: float = 0.08):
        self.embedder = embedder
        self.min_score = min_score
        self.cue_bonus = cue_bonus
        self._proto: tuple[np.ndarray, np.ndarray] | None = None

    def _vectors(self, texts: list[str]) -> np.ndarray:
        vecs = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-9)

    def _prototypes(self) -> tuple[np.ndarray, np.ndarray]:
        if self._proto is None:
            self._proto = (self._vectors(DOMAIN_EXEMPLARS), self._vectors(GENERIC_HEADINGS))
        return self._proto

    def extract_pages(self, pages: Iterable[PageText]) -> list[Candidate]:
        pages = list(pages)
        cands = [c for p in pages for c in page_candidates(p)]
        if not cands:
            return []
        cue_pages = {p.page for p in pages if _CUE.search(p.text)}
        domain, generic = self._prototypes()
        vecs = self._vectors([c.title for c in cands])
        scores = (vecs @ domain.T).max(axis=1) - (vecs @ generic.T).max(axis=1)
        best: dict[str, Candidate] = {}
        for cand, score in zip(cands, scores, strict=True):
            cand.score = float(score) + (self.cue_bonus if cand.page in cue_pages else 0.0)
            if cand.score < self.min_score:
                continue
            key = " ".join(sorted(title_tokens(cand.title)))
            if key not in best or cand.score > best[key].score + 1e-6:
                best[key] = cand
        return sorted(best.values(), key=lambda c: (c.page, -c.score))

    def extract_file(self, path: Path, limits: LoadLimits | None = None) -> list[Candidate]:
        limits = limits or LoadLimits(max_bytes=500_000_000, max_pages=5000, min_text_chars=0)
        return self.extract_pages(load_file(path, limits).pages)


# -- measuring ---------------------------------------------------------------------------
def match_score(gold: str, extracted: str, cosine: float | None = None) -> float:
    """How well an extracted title names a gold priority: the higher of token Dice (folded,
    stop words and plural 's' dropped) and, when given, MiniLM cosine minus 0.25 (so cosine
    0.75 counts like Dice 0.5). A gold priority counts as found at >= MATCH_THRESHOLD."""
    score = token_dice(gold, extracted)
    return max(score, cosine - 0.25) if cosine is not None else score


MATCH_THRESHOLD = 0.5


@dataclass
class RecallRow:
    doc: str
    gold: int
    found: int
    extracted: int
    page_agree: int
    missed: list[str]

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "doc": self.doc,
            "gold": self.gold,
            "found": self.found,
            "recall": round(self.recall, 4),
            "extracted": self.extracted,
            "page_agree": self.page_agree,
            "missed": self.missed,
        }


def load_gold(path: Path) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.setdefault(Path(row["doc"]).name, []).append(row)
    return rows


def recall_against(
    gold: list[dict[str, Any]], extracted: list[tuple[str, int | None]], doc: str,
    embedder: Any | None = None,
) -> RecallRow:  # fmt: skip
    """Recall of one document's gold priorities among (title, page) extracted from it."""
    found = page_agree = 0
    missed = []
    cos: np.ndarray | None = None
    if embedder is not None and gold and extracted:
        vecs = np.asarray(
            embedder.embed_documents([g["title"] for g in gold] + [t for t, _ in extracted])
        )
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
        cos = vecs[: len(gold)] @ vecs[len(gold) :].T
    for i, g in enumerate(gold):
        hits = [
            p
            for j, (t, p) in enumerate(extracted)
            if match_score(g["title"], t, None if cos is None else float(cos[i, j]))
            >= MATCH_THRESHOLD
        ]
        if hits:
            found += 1
            page_agree += g.get("page") in hits
        else:
            missed.append(g["title"])
    return RecallRow(doc, len(gold), found, len(extracted), page_agree, missed)
