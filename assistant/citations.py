"""Citation checking after generation: every ``[n]`` must point at a source that supports it.

The local 1.5B model states facts from its sources but mis-numbers citations, so numbers are
never trusted: each sentence is scored against every source; a citation to a source that does
not support the sentence is moved to the one that does (repair), a number with no source is
dropped, and a sentence no source supports is removed and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.answer import SentenceCheck, Source
from assistant.evidence import SentenceScorer
from assistant.rescoring import content_terms

_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\])*\s+(?=\S)")


def parse_citations(sentence: str) -> list[int]:
    numbers: list[int] = []
    for group in _CITATION.findall(sentence):
        for part in re.split(r"[,;]", group):
            n = int(part.strip())
            if n not in numbers:
                numbers.append(n)
    return numbers


def strip_citations(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITATION.sub("", sentence)).strip()


def split_answer(text: str) -> list[str]:
    """Answer sentences, each keeping the citation markers that follow its full stop."""
    sentences: list[str] = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        start = 0
        for m in _SENTENCE.finditer(line):
            end = m.start() + len(m.group(0).rstrip())
            sentences.append(line[start:end].strip())
            start = m.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if strip_citations(s)]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MIN_CLAIM_TERMS = 3
"""A sentence needs this many content words to state anything checkable."""


def _numbers(text: str) -> set[str]:
    """Numbers as digit strings ("3 000" and "3,000" -> "3000"; "2.3" -> "23")."""
    text = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)", "", text)
    return {re.sub(r"[.,]", "", m) for m in _NUMBER.findall(text)}


def numbers_consistent(claim: str, passage: str) -> bool:
    """Every number the claim states occurs in the passage.

    Similarity cannot see a changed figure: on the hand-labelled support pairs, all 20 claims
    with a wrong number, name or year scored as "supported" (0.54-0.86). Numbers are the part of
    that error this check can catch exactly.
    """
    return _numbers(claim) <= _numbers(passage)


def support_matrix(
    scorer: SentenceScorer, claims: list[str], passages: list[str], cross_lingual: bool
) -> Any:
    """Support of each claim by each passage: similarity, zeroed where numbers disagree."""
    sim = scorer.similarity(claims, passages, cross_lingual)
    for i, claim in enumerate(claims):
        for j, passage in enumerate(passages):
            if not numbers_consistent(claim, passage):
                sim[i, j] = 0.0
    return sim


@dataclass
class CheckedAnswer:
    text: str
    sentences: list[SentenceCheck]
    dropped_numbers: int
    repaired: int
    removed: list[str]


def check_answer(
    text: str,
    sources: list[Source],
    scorer: SentenceScorer,
    threshold: float,
    cross_lingual: bool = False,
) -> CheckedAnswer:
    """Verify, repair and filter the citations of a generated answer."""
    sentences = split_answer(text)
    by_n = {s.n: s for s in sources}
    claims = [strip_citations(s) for s in sentences]
    support = support_matrix(scorer, claims, [s.text for s in sources], cross_lingual)
    checks: list[SentenceCheck] = []
    removed: list[str] = []
    dropped = repaired = 0
    for i, (raw, claim) in enumerate(zip(sentences, claims, strict=True)):
        cited = parse_citations(raw)
        valid = [n for n in cited if n in by_n]
        if len(content_terms(claim)) < MIN_CLAIM_TERMS:
            # "The priorities of Bavaria are [1] and [3]." says nothing once the markers go.
            dropped += len(cited) - len(valid)
            removed.append(claim)
            continue
        dropped += len(cited) - len(valid)
        scores = {src.n: float(support[i, j]) for j, src in enumerate(sources)}
        good = [n for n in valid if scores[n] >= threshold]
        was_repaired = False
        if not good:
            best = max(scores, key=lambda n: scores[n]) if scores else None
            if best is not None and scores[best] >= threshold:
                good = [best]
                was_repaired = True
                repaired += 1
        if not good:
            removed.append(claim)
            continue
        best_support = max(scores[n] for n in good)
        checks.append(SentenceCheck(claim, good, best_support, True, was_repaired))
    return CheckedAnswer(render(checks), checks, dropped, repaired, removed)


def render(checks: list[SentenceCheck]) -> str:
    """Sentences with their citation markers before the final punctuation, as shown."""
    out = []
    for c in checks:
        marks = "".join(f"[{n}]" for n in c.cited)
        text = c.text.rstrip()
        if text and text[-1] in ".!?:;":
            out.append(f"{text[:-1].rstrip()} {marks}{text[-1]}")
        else:
            out.append(f"{text} {marks}")
    return " ".join(out)
