"""Answerability guards decided in code, before and after the model.

The evidence score (best question-sentence similarity) catches questions the corpus is silent
on; it cannot catch near misses ("the 2021-2027 budget" when the pages hold 2014-2020, "Galicia"
when only other regions are covered), which score as high as answerable ones. So the question's
*key terms* — numbers and years, and proper names in English questions — must occur somewhere in
the evidence (text, title or region), or the assistant refuses instead of answering about
something else.

Passages can also carry *prompt injection* (text addressed to the assistant); see
:func:`quarantine` below.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

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


# -- prompt injection ------------------------------------------------------------------------
# Passages are data, never instructions. A sentence in a passage that addresses the assistant
# (or a model, or "the reader" with orders about answering), fakes the citation markup, asks
# for the system prompt, or hides text is *set aside* before answering: it is removed from the
# passage text the model sees, the extractive answer can quote and the citation check can
# credit, so it can neither steer the answer nor become the cited support for a claim. The
# rest of the passage stays usable. Patterns are deliberately specific (measured: no sentence
# of the shared corpus matches, see eval/datasets/injection/README.md).
_INJECTION_PATTERNS: dict[str, re.Pattern[str]] = {
    "override": re.compile(
        r"\b(ignore|disregard|forget|override)\b[^.]{0,40}\b(previous|prior|above|earlier|all|"
        r"other|your)\b[^.]{0,30}\b(instructions?|prompts?|rules|sources|context|directions)\b",
        re.I,
    ),
    "addressed_to_model": re.compile(
        r"\b(AI|language model|LLM|chatbot|assistant|GPT)s?\b[^.]{0,60}\b(must|should|shall|"
        r"are required to|always|never|reading this|processing this)\b",
        re.I,
    ),
    "answer_order": re.compile(
        r"\b(when|if)\b[^.]{0,40}\b(asked|answering|responding|summari[sz]ing)\b[^.]{0,80}"
        r"\b(say|state|reply|respond|answer|tell|claim|write)\b",
        re.I,
    ),
    "say_order": re.compile(
        r"\b(respond|reply|answer|say|write|output|print)\b[^.]{0,20}\b(only|exactly|in pirate|"
        r"like a pirate|with the words?)\b",
        re.I,
    ),
    "reveal_prompt": re.compile(
        r"\b(reveal|print|repeat|show|output|disclose)\b[^.]{0,40}\b(system prompt|your "
        r"(instructions|prompt|rules)|hidden instructions)\b",
        re.I,
    ),
    "role_markup": re.compile(
        r"(<\|im_start\|>|<\|im_end\|>|\[/?INST\]|<<SYS>>|^\s*(system|assistant|user)\s*:|"
        r"###\s*(instruction|system))",
        re.I | re.M,
    ),
    "fake_citation": re.compile(r"^\s*\[\d{1,3}\]\s+\S|\(\s*source\s*:?\s*\[\d{1,3}\]\s*\)", re.I),
    "authority_override": re.compile(
        r"\b(overrides?|supersedes?|takes precedence over)\b[^.]{0,20}\b(all|any|other|"
        r"previous)\b[^.]{0,20}\b(sources?|documents?|information|instructions)\b",
        re.I,
    ),
    "hidden_text": re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff]|<!--|display\s*:\s*none"),
}
_PASSAGE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_KEPT_CHARS = 40
"""A passage with less text left after setting sentences aside is dropped altogether."""


def injection_signals(text: str) -> list[str]:
    """Names of the injection patterns ``text`` matches (empty: none)."""
    return [name for name, pattern in _INJECTION_PATTERNS.items() if pattern.search(text)]


@dataclass
class Quarantine:
    sources: list[Source]
    removed: list[tuple[str, int, str, list[str]]]
    """(file, page, sentence, signals) of each sentence set aside."""
    dropped: int


def quarantine(sources: list[Source]) -> Quarantine:
    """The sources with instruction-like sentences removed (renumbered [1..n] if a passage
    had nothing else and was dropped)."""
    kept: list[Source] = []
    removed: list[tuple[str, int, str, list[str]]] = []
    dropped = 0
    for src in sources:
        parts = [p for p in _PASSAGE_SENTENCE.split(src.text) if p.strip()]
        clean: list[str] = []
        for part in parts:
            signals = injection_signals(part)
            if signals:
                removed.append((src.file, src.page, part.strip(), signals))
            else:
                clean.append(part.strip())
        if len(clean) == len(parts):
            kept.append(src)
            continue
        text = " ".join(clean)
        if len(text) < MIN_KEPT_CHARS:
            dropped += 1
            continue
        kept.append(replace(src, text=text))
    renumbered = [replace(s, n=i) for i, s in enumerate(kept, start=1)]
    return Quarantine(renumbered, removed, dropped)
