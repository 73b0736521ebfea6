"""Partner finder: which regions have similar, or complementary, S3 priorities?

A region's profile is its priorities (text + effective labels, reviews included). For a query
region (or one priority) every other region gets:

- **similarity**: symmetric best-match cosine of priority texts (each priority's best partner
  priority, averaged both ways) — MiniLM when both sides are English, the multilingual USE
  encoder otherwise — blended with **taxonomy overlap** (mean Jaccard of NACE divisions and
  ecosystems, over the fields either side has);
- **complementarity**: ecosystems both share where the partner holds a value-chain position
  the query lacks (primary / manufacturing / services / research, from the NACE sections and
  divisions of the priorities in that ecosystem) — e.g. a region that makes medical devices and
  one that does clinical research in Health.

Every match lists the best matching priority pairs and the shared labels, and flags neighbours:
same NUTS-1 parent, same country, or countries that share a land border.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.regions import fold
from observatory.models import LabelField, Priority

SIMILARITY_WEIGHT = 0.6  # text similarity vs taxonomy overlap in the "similar" score
OVERLAP_FIELDS: tuple[LabelField, ...] = ("nace_divisions", "ecosystems")

# Land borders between EU/EEA countries, CH and UK (ISO/NUTS codes: EL = Greece, UK).
_BORDERS = {
    "AT": "CH CZ DE HU IT LI SI SK",
    "BE": "DE FR LU NL",
    "BG": "EL RO",
    "CH": "AT DE FR IT LI",
    "CZ": "AT DE PL SK",
    "DE": "AT BE CH CZ DK FR LU NL PL",
    "DK": "DE",
    "EE": "LV",
    "EL": "BG",
    "ES": "FR PT",
    "FI": "NO SE",
    "FR": "BE CH DE ES IT LU",
    "HR": "HU SI",
    "HU": "AT HR RO SI SK",
    "IE": "UK",
    "IT": "AT CH FR SI",
    "LI": "AT CH",
    "LT": "LV PL",
    "LU": "BE DE FR",
    "LV": "EE LT",
    "NL": "BE DE",
    "NO": "FI SE",
    "PL": "CZ DE LT SK",
    "PT": "ES",
    "RO": "BG HU",
    "SE": "FI NO",
    "SI": "AT HR HU IT",
    "SK": "AT CZ HU PL",
    "UK": "IE",
}
ADJACENT = {c: set(v.split()) for c, v in _BORDERS.items()}


def value_chain_positions(p: Priority) -> set[str]:
    """Where in the value chain a priority sits, from its NACE labels."""
    sections = {lab.code for lab in p.labels.get("nace_sections", [])}
    divisions = {lab.code for lab in p.labels.get("nace_divisions", [])}
    out = set()
    if sections & {"A", "B"}:
        out.add("primary")
    if sections & {"C", "D", "E", "F"}:
        out.add("manufacturing")
    if divisions & {"72", "85"} or "P" in sections:
        out.add("research")
    if sections - {"A", "B", "C", "D", "E", "F", "P"} and not divisions <= {"72", "85"}:
        out.add("services")
    return out


@dataclass
class RegionProfile:
    key: str  # NUTS code when known, else country code or region name
    name: str
    country: str | None
    priorities: list[Priority]

    def codes(self, name: LabelField) -> set[str]:
        return {lab.code for p in self.priorities for lab in p.labels.get(name, [])}

    @property
    def english(self) -> bool:
        return all((p.language or "en") == "en" for p in self.priorities)

    def positions(self, ecosystem: str) -> set[str]:
        return set().union(
            *(value_chain_positions(p) for p in self.priorities if ecosystem in _ecos(p))
        )


def _ecos(p: Priority) -> set[str]:
    return {lab.code for lab in p.labels.get("ecosystems", [])}


def region_key(p: Priority) -> str:
    return p.nuts_code or p.country or p.region or "?"


def profiles(priorities: Sequence[Priority]) -> dict[str, RegionProfile]:
    out: dict[str, RegionProfile] = {}
    for p in priorities:
        key = region_key(p)
        if key not in out:
            out[key] = RegionProfile(key, p.region or key, p.country, [])
        out[key].priorities.append(p)
    return out


@dataclass
class PriorityPair:
    mine: str
    theirs: str
    similarity: float
    theirs_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "mine": self.mine,
            "theirs": self.theirs,
            "theirs_id": self.theirs_id,
            "similarity": round(self.similarity, 4),
        }


@dataclass
class PartnerMatch:
    nuts_code: str
    region: str
    country: str | None
    score: float
    similarity: float
    taxonomy_overlap: float
    complementarity: float
    encoder: str
    shared_labels: dict[str, list[str]] = field(default_factory=dict)
    complementary: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[PriorityPair] = field(default_factory=list)
    neighbour: str | None = None

    @property
    def explanation(self) -> str:
        parts = []
        if self.pairs:
            best = self.pairs[0]
            parts.append(f"'{best.mine}' ~ '{best.theirs}' ({best.similarity:.2f})")
        for name, codes in self.shared_labels.items():
            if codes:
                parts.append(f"shared {name}: {', '.join(codes[:5])}")
        for comp in self.complementary[:2]:
            parts.append(
                f"{comp['ecosystem']}: they add {', '.join(comp['they_add'])} "
                f"to your {', '.join(comp['mine']) or 'priorities'}"
            )
        if self.neighbour:
            parts.append(self.neighbour)
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "nuts_code": self.nuts_code,
            "region": self.region,
            "country": self.country,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "taxonomy_overlap": round(self.taxonomy_overlap, 4),
            "complementarity": round(self.complementarity, 4),
            "encoder": self.encoder,
            "shared_labels": self.shared_labels,
            "complementary": self.complementary,
            "pairs": [p.as_json() for p in self.pairs],
            "neighbour": self.neighbour,
            "explanation": self.explanation,
        }


def neighbour_flag(a: RegionProfile, b: RegionProfile) -> str | None:
    """Cross-border / nearby flag from NUTS codes: same NUTS-1, same country, or adjacent."""
    if a.country and b.country:
        if a.country == b.country:
            if len(a.key) >= 3 and len(b.key) >= 3 and a.key[:3] == b.key[:3]:
                return f"same NUTS-1 region ({a.key[:3]})"
            return f"same country ({a.country})"
        if b.country in ADJACENT.get(a.country, set()):
            return f"cross-border neighbour ({a.country}-{b.country})"
    return None


def _jaccard(a: set[str], b: set[str]) -> float | None:
    return len(a & b) / len(a | b) if a or b else None


class PartnerFinder:
    def __init__(self, dense: Any, multilingual: Any, max_pairs: int = 3):
        self.dense = dense
        self.multilingual = multilingual
        self.max_pairs = max_pairs

    @staticmethod
    def _unit(vectors: Any) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    def rank(
        self,
        query: RegionProfile,
        others: Sequence[RegionProfile],
        k: int = 10,
        complementary: bool = False,
    ) -> list[PartnerMatch]:
        """Other regions, best first (by similarity, or by complementarity)."""
        others = [o for o in others if o.key != query.key and o.priorities]
        if not others or not query.priorities:
            return []
        all_ps = query.priorities + [p for o in others for p in o.priorities]
        texts = [p.text for p in all_ps]
        use = self._unit(self.multilingual.embed_documents(texts))
        english = [i for i, p in enumerate(all_ps) if (p.language or "en") == "en"]
        dense: dict[int, np.ndarray] = {}
        if query.english and english:
            vecs = self._unit(self.dense.embed_documents([texts[i] for i in english]))
            dense = {i: vecs[j] for j, i in enumerate(english)}
        nq = len(query.priorities)
        out = []
        start = nq
        for other in others:
            idx = list(range(start, start + len(other.priorities)))
            start += len(other.priorities)
            both_en = query.english and other.english
            if both_en:
                qa = np.stack([dense[i] for i in range(nq)])
                ob = np.stack([dense[i] for i in idx])
            else:
                qa, ob = use[:nq], use[idx]
            out.append(self._match(query, other, qa @ ob.T, "minilm" if both_en else "use"))
        key = (
            (lambda m: (m.complementarity, m.score))
            if complementary
            else (lambda m: (m.score, m.complementarity))
        )
        return sorted(out, key=key, reverse=True)[:k]

    def _match(
        self, query: RegionProfile, other: RegionProfile, sims: np.ndarray, encoder: str
    ) -> PartnerMatch:
        similarity = float((sims.max(axis=1).mean() + sims.max(axis=0).mean()) / 2)
        shared: dict[str, list[str]] = {}
        overlaps = []
        for name in OVERLAP_FIELDS:
            a, b = query.codes(name), other.codes(name)
            j = _jaccard(a, b)
            if j is not None:
                overlaps.append(j)
            if a & b:
                shared[name] = sorted(a & b)
        for name in ("nace_sections", "nabs_chapters"):
            if common := query.codes(name) & other.codes(name):
                shared[name] = sorted(common)
        overlap = float(np.mean(overlaps)) if overlaps else 0.0
        comps = []
        for eco in sorted(query.codes("ecosystems") & other.codes("ecosystems")):
            mine, theirs = query.positions(eco), other.positions(eco)
            if theirs - mine:
                comps.append(
                    {"ecosystem": eco, "mine": sorted(mine), "they_add": sorted(theirs - mine)}
                )
        n_eco = len(query.codes("ecosystems"))
        complementarity = len(comps) / n_eco if n_eco else 0.0
        pairs: list[PriorityPair] = []
        order = np.dstack(np.unravel_index(np.argsort(-sims, axis=None), sims.shape))[0]
        used_mine: set[int] = set()
        for i, j in order:
            if len(pairs) >= self.max_pairs:
                break
            if i in used_mine:
                continue
            used_mine.add(int(i))
            pairs.append(
                PriorityPair(
                    query.priorities[i].title,
                    other.priorities[j].title,
                    float(sims[i, j]),
                    other.priorities[j].priority_id,
                )
            )
        return PartnerMatch(
            nuts_code=other.key,
            region=other.name,
            country=other.country,
            score=SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * overlap,
            similarity=similarity,
            taxonomy_overlap=overlap,
            complementarity=complementarity,
            encoder=encoder,
            shared_labels=shared,
            complementary=comps,
            pairs=pairs,
            neighbour=neighbour_flag(query, other),
        )


def resolve_query(
    query: str, priorities: Sequence[Priority]
) -> tuple[RegionProfile, list[RegionProfile]]:
    """A region (NUTS code, country code or name) or a priority id -> (query profile, others).

    Raises LookupError when nothing matches."""
    regions = profiles(priorities)
    by_id = {p.priority_id: p for p in priorities}
    if query in by_id:
        p = by_id[query]
        own = region_key(p)
        q = RegionProfile(own, p.region or own, p.country, [p])
        return q, [r for k, r in regions.items() if k != own]
    wanted = query.strip().upper()
    if wanted in regions:
        return regions[wanted], [r for k, r in regions.items() if k != wanted]
    folded = fold(query)
    for key, r in regions.items():
        if folded and folded in (fold(r.name), fold(key)):
            return r, [o for k, o in regions.items() if k != key]
    country = [p for p in priorities if (p.country or "").upper() == wanted]
    if country:
        q = RegionProfile(wanted, wanted, wanted, country)
        return q, [r for r in regions.values() if r.country != wanted]
    raise LookupError(f"no priorities for region or priority {query!r}")
