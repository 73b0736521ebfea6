"""A NUTS gazetteer: finds the country/region a document is about from its name and text.

Names come from NUTS 2021 labels (native, "A/B" bilingual labels split) and the English NUTS
2013 names of the ONLINE S3 file ("South Ostrobothnia", "North Netherlands"). Matching works on
folded text (lower case, no accents, "southern" -> "south"), longest name first, so
"South Ostrobothnia" beats "Ostrobothnia"; among equal names the lowest NUTS level wins
("Luxembourg" is the country, not the Belgian province).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
_DIRECTIONS = {
    "southern": "south",
    "northern": "north",
    "western": "west",
    "eastern": "east",
    "central": "central",
    "south-east": "southeast",
    "north-east": "northeast",
    "south-west": "southwest",
    "north-west": "northwest",
}
_MIN_NAME_CHARS = 4
_MIN_TEXT_NAME_CHARS = 6


@dataclass(frozen=True)
class Region:
    nuts_code: str
    country: str
    level: int
    name: str
    name_en: str
    lat: float | None = None
    lon: float | None = None

    @property
    def territorial_level(self) -> str:
        return "national" if self.level == 0 else "regional"


def fold_keep_case(text: str) -> str:
    """Accents stripped, case kept (for proper-noun checks)."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case, accents stripped, punctuation to spaces, direction adjectives unified."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    words = [_DIRECTIONS.get(w, w) for w in text.split()]
    return " ".join(words)


class Gazetteer:
    def __init__(self, regions: list[Region]):
        self.by_code = {r.nuts_code: r for r in regions}
        self._names: dict[str, list[Region]] = {}
        self._spellings: dict[str, set[str]] = {}
        for region in regions:
            for name in {region.name, region.name_en, *region.name.split("/")}:
                key = fold(name)
                if len(key) >= _MIN_NAME_CHARS and not key.startswith("extra regio"):
                    self._names.setdefault(key, []).append(region)
                    self._spellings.setdefault(key, set()).add(name.strip())
        # Longest names first so the first match is the most specific one.
        self._ordered = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in self._ordered) + r")\b")

    def country(self, code: str) -> Region | None:
        return self.by_code.get(code.upper())

    def _as_proper_noun(self, key: str, text: str) -> bool:
        """The text spells the name as a name: "cross border" is not Border (IE041).

        Either an exact registered spelling occurs, or the name's longest word occurs
        capitalised ("South Ostrobothnia" for the registered "Southern Ostrobothnia").
        """
        if any(sp in text for sp in self._spellings[key]):
            return True
        word = max(key.split(), key=len).capitalize()
        return re.search(rf"\b{re.escape(word)}\b", fold_keep_case(text)) is not None

    def _pick(self, name: str, country: str | None) -> Region | None:
        candidates = [
            r for r in self._names.get(name, []) if country is None or r.country == country
        ]
        return min(candidates, key=lambda r: r.level) if candidates else None

    def match_name(self, text: str, country: str | None = None) -> Region | None:
        """The most specific region named in a short text such as a file name or title."""
        folded = f" {fold(text)} "
        best: Region | None = None
        best_len = 0
        for m in self._pattern.finditer(folded):
            name = m.group(1)
            if not self._as_proper_noun(name, text.replace("_", " ")):
                continue
            region = self._pick(name, country)
            if region and len(name) > best_len:
                best, best_len = region, len(name)
        return best

    def most_mentioned(self, text: str, country: str | None = None) -> Region | None:
        """The region named most often (at least twice) in body text."""
        counts: dict[str, int] = {}
        for m in self._pattern.finditer(fold(text)):
            name = m.group(1)
            if len(name) >= _MIN_TEXT_NAME_CHARS and self._pick(name, country):
                counts[name] = counts.get(name, 0) + 1
        counts = {n: c for n, c in counts.items() if self._as_proper_noun(n, text)}
        if not counts:
            return None
        name, n = max(counts.items(), key=lambda kv: (kv[1], len(kv[0])))
        return self._pick(name, country) if n >= 2 else None


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    labels_2021: dict[str, tuple[str, int, str]] = {}
    with (DATA / "nuts2021_regions.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels_2021[row["nuts_code_2021"]] = (
                row["country_code"],
                int(row["nuts_level"]),
                row["label"],
            )
    data = json.loads((DATA / "onlines3_regions_nuts2013.json").read_text(encoding="utf-8"))
    regions: dict[str, Region] = {}
    for level, units in enumerate(data["levels"]):
        for unit in units:
            code = unit["id"]
            country = code[:2]
            label = labels_2021.get(code, (country, level, unit["name"]))[2] or unit["name"]
            regions[code] = Region(
                nuts_code=code,
                country=country,
                level=level,
                name=label,
                name_en=unit.get("en") or unit["name"],
                lat=unit.get("lat"),
                lon=unit.get("lon"),
            )
    for code, (country, level, label) in labels_2021.items():
        if code not in regions and label and not code.endswith("Z"):
            regions[code] = Region(code, country, level, label, label)
    return Gazetteer(list(regions.values()))
