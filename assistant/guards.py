"""Answerability guards decided in code, before and after the model.

The evidence score (best question-sentence similarity) catches questions the corpus is silent
on; it cannot catch near misses ("the 2021-2027 budget" when the pages hold 2014-2020, "Galicia"
when only other regions are covered), which score as high as answerable ones. So the question's
*key terms* — numbers and years, and proper names in English questions — must occur somewhere in
the evidence (text, title or region), or the assistant refuses instead of answering about
something else.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.answer import Source

_NUMBER = re.compile(r"\b\d{2,4}(?:[.,]\d+)?(?:\s*[-–/]\s*\d{2,4})?\b")
_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][\w'’-]+(?:\s+(?:of|the|de|and)?\s*[A-Z][\w'’-]+)*)")
_COMMON_CAPS = {
    "RIS3", "S3", "EU", "ERDF", "ESIF", "EDP", "R&D", "RDI", "ICT", "KETs", "SME", "SMEs",
    "Online", "ONLINE", "Community", "Practice", "Smart", "Specialisation", "Strategy",
    "European", "Commission", "Union", "Regional", "Development", "Fund", "I", "What",
    "Which", "Who", "How", "When", "Where", "Why", "Is", "Are", "Does", "Do", "Can",
    "of", "the", "de", "and", "In", "For", "On", "By", "To", "A", "An", "The",
}  # fmt: skip
STEM_CHARS = 6
"""Names match on their first characters, so "Estonian" finds "Estonia", "Dutch" does not."""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def key_terms(question: str, language: str) -> list[str]:
    """Numbers for every language; capitalised names for English questions."""
    terms = [m.group(0) for m in _NUMBER.finditer(question)]
    if language == "en":
        for m in _NAME.finditer(question):
            words = [re.sub(r"['’]s$", "", w).strip("'’") for w in m.group(1).split()]
            name = " ".join(w for w in words if w and w not in _COMMON_CAPS)
            if len(name) >= 3:
                terms.append(name)
    return list(dict.fromkeys(terms))


def _present(term: str, haystack: str) -> bool:
    term = _fold(term)
    if term[:1].isdigit():
        parts = re.split(r"\s*[-–/]\s*", term)
        return all(p in haystack for p in parts)
    words = [w[:STEM_CHARS] for w in re.findall(r"[\w]+", term)]
    return all(re.search(rf"\b{re.escape(w)}", haystack) for w in words)


def missing_key_terms(question: str, language: str, sources: list[Source]) -> list[str]:
    """Key terms of the question that no source mentions (text, title, file or region)."""
    haystack = _fold(" ".join(f"{s.text} {s.title} {s.file} {s.region}" for s in sources)).replace(
        "_", " "
    )
    return [t for t in key_terms(question, language) if not _present(t, haystack)]
