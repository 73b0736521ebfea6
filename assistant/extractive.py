"""The extractive answerer: quotes the most relevant evidence sentences, each with its citation.

It cannot state anything the documents do not say, needs no model, and answers in well under a
second, so it is the default and the fallback whenever a generated answer fails its checks.
"""

from __future__ import annotations

from assistant.answer import SentenceCheck
from assistant.citations import render
from assistant.evidence import ScoredSentence, lexical_recall
from assistant.prompts import intro_sentence

MAX_SENTENCES = 3
RELATIVE_FLOOR = 0.12
"""Quote sentences scoring within this much of the best one; further ones are padding."""
DUPLICATE_OVERLAP = 0.7


LIST_ITEMS = 6


def _with_list_items(
    chosen: list[ScoredSentence], ranked: list[ScoredSentence]
) -> list[ScoredSentence]:
    """A quoted sentence that introduces a list (ends with ':') brings the list with it."""
    by_pos = {(s.source, s.position): s for s in ranked}
    out = list(chosen)
    have = {(s.source, s.position) for s in chosen}
    for sent in chosen:
        if not sent.text.rstrip().endswith(":"):
            continue
        for pos in range(sent.position + 1, sent.position + 1 + LIST_ITEMS):
            item = by_pos.get((sent.source, pos))
            if item is None:
                break
            if (item.source, pos) not in have:
                out.append(ScoredSentence(item.source, pos, item.text, sent.score))
                have.add((item.source, pos))
    return out


def extractive_answer(
    ranked: list[ScoredSentence], language: str, max_sentences: int = MAX_SENTENCES
) -> tuple[str, list[SentenceCheck]]:
    """(answer text, checked sentences) from sentences ranked by relevance to the question."""
    if not ranked:
        return "", []
    best = ranked[0].score
    chosen: list[ScoredSentence] = []
    for sent in ranked:
        if len(chosen) >= max_sentences or sent.score < best - RELATIVE_FLOOR:
            break
        if any(
            lexical_recall(sent.text, c.text) > DUPLICATE_OVERLAP
            or lexical_recall(c.text, sent.text) > DUPLICATE_OVERLAP
            for c in chosen
        ):
            continue
        chosen.append(sent)
    chosen = _with_list_items(chosen, ranked)
    chosen.sort(key=lambda s: (s.source, s.position))
    checks = [SentenceCheck(s.text, [s.source], s.score, True) for s in chosen]
    text = render(checks)
    if language != "en" and (intro := intro_sentence(language)):
        text = f"{intro} {text}"
    return text, checks
