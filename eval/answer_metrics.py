"""Answer-quality metrics: facts, similarity to the reference, citations, refusals.

Each metric is one function; its docstring says how it is computed and what it cannot see.
Conventions shared by all of them:

- a *refused* answer (the system's refusal flag, or a refusal in its text, see
  :func:`is_refusal_text`) has no content: it scores 0 on the content metrics and is left out
  of the citation metrics (its "related" passages are not citations);
- a metric that is undefined for an answer (no citations, nothing to score) returns ``None``,
  and means skip ``None`` (:func:`mean`), so "undefined" never reads as "0";
- citation markers (``[1]``, ``[1, 3]``) are removed before a text is compared with anything.

Models: MiniLM (the packaged all-MiniLM-L6-v2, normalised vectors) for the semantic fallback and
answer similarity; the assistant's own :class:`assistant.evidence.SentenceScorer` for citation
support, so "supported" here means what it means in the answer pipeline's guards.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

FACT_THRESHOLD = 0.85
"""MiniLM cosine at or above which a key fact not found literally may still count as found.

Facts are short phrases ("Health sciences", "performance contracts"), so they are compared
with *spans* of the answer (runs of n-1 .. n+2 words within a sentence, n = the fact's words)
and whole sentences. A fact against a whole sentence stating it scores only 0.3-0.7 with
MiniLM ("Logistics" in "... ICT and logistics." 0.40), which is why sentences alone cannot
work. Measured on spans: paraphrases and reorderings score 0.85-0.99 ("yearly reports" /
"annual reports" 0.94, "about ten indicators" / "ten or so indicators" 0.92, "sustainability
and knowledge valorisation" / the reverse 0.99); related-but-different phrases 0.6-0.8
("opportunities and risks" / "opportunities and threats" 0.75, "Facebook" / "Twitter" 0.60).
But one swapped word in a shared phrase also scores 0.8-0.95 ("total" / "business
expenditure for R&D" 0.92, "public" / "private R&D expenditure" 0.89, "internal" / "external
factors" 0.82), hence the second gate, :data:`WORD_THRESHOLD`.
"""
WORD_THRESHOLD = 0.7
"""The words that differ between fact and span must themselves score at least this.

Measured (MiniLM, single words): synonyms 0.72-0.82 ("annual" / "yearly" 0.82, "agreements" /
"contracts" 0.72); opposites and siblings 0.26-0.69 ("top" / "bottom" 0.69, "internal" /
"external" 0.68, "private" / "public" 0.67, "business" / "total" 0.30, "preparation" /
"implementation" 0.26). A span that lacks some of the fact's content words and has none of
its own in their place (part of the fact only) never matches.
"""
SPAN_EXTRA_WORDS = 2
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "for", "and", "or", "so", "in", "on", "to", "with", "by", "as", "at",
    "from", "its", "their", "is", "are", "be", "this", "that", "these", "those", "about", "some",
})  # fmt: skip

_NUMBER_WORD = re.compile(r"(?<!\w)\d")
_CITATION = re.compile(r"\s*\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\]")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:[ ,.'’](?:\d{3}))+)(?![\d]|[.,]\d)")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_RANGE_DASH = re.compile(r"(?<=[\d%])\s*[-‐‑‒–—]\s*(?=[€$£]?\d)")
_NOT_KEPT = re.compile(r"(?!(?<=\d)\.(?=\d))[^\w%€$£]")

_REFUSAL_PATTERNS = re.compile(
    r"\b("
    r"(do|does|did) not (answer|contain|mention|provide|include|say|state|specify|cover)"
    r"|(don't|doesn't|didn't) (answer|contain|mention|provide|include|say|state|specify|cover)"
    r"|(is|are) not (mentioned|provided|specified|stated|given|available|included|covered)"
    r"|no (information|mention|data|details?) (is |are )?(available |provided |given )?"
    r"(on|about|regarding|in|for)"
    r"|(cannot|can't|can not|unable to) (answer|find|determine|be determined|provide)"
    r"|not (possible|able) to (answer|determine)"
    r"|i (do not|don't) know"
    r")\b"
)
REFUSAL_TEXT_CHARS = 400
"""A refusal is short: longer answers that say "not mentioned" once are answers."""


class Embedder(Protocol):
    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...


class Scorer(Protocol):
    """What :class:`assistant.evidence.SentenceScorer` offers: a [queries x texts] matrix."""

    def similarity(
        self, queries: list[str], texts: list[str], cross_lingual: bool = False
    ) -> np.ndarray: ...


# --- text helpers ----------------------------------------------------------------------------
def strip_citations(text: str) -> str:
    """``text`` without ``[n]`` citation markers (and the space before them)."""
    return _CITATION.sub("", text).strip()


def normalise(text: str) -> str:
    """The form key facts and answers are compared in.

    NFKC (ligatures, thin and no-break spaces), accents stripped, casefolded; ``&`` -> ``and``;
    ``per cent``/``percent`` -> ``%``; ``EUR 5`` -> ``€5``; digit groups joined (``3 000``,
    ``3,000``, ``3.000`` -> ``3000``); a decimal comma becomes a point (``0,24`` -> ``0.24``); a
    dash between numbers becomes `` to `` (``1.5%–1.9%`` -> ``1.5 % to 1.9 %``); every other
    punctuation mark becomes a space (a point between digits is kept); ``%`` and currency signs
    are words of their own (``87%`` -> ``87 %``, ``€228m`` -> ``€ 228m``, so the fact "1.9" is
    found in "1.9% of GDP" and "3.6 billion" in "€3.6 billion"); whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"\bper\s*cent\b", "%", text)
    text = re.sub(r"\beur(?:o|os)?\s*(?=\d)", "€", text)
    text = _THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), text)
    text = _DECIMAL_COMMA.sub(".", text)
    text = _RANGE_DASH.sub(" to ", text)
    text = _NOT_KEPT.sub(" ", text)
    text = re.sub(r"\s*([%€$£])\s*", r" \1 ", text)
    return " ".join(text.split())


def answer_sentences(text: str) -> list[str]:
    """Sentences of an answer (citation markers removed), for the semantic fallback."""
    parts = (strip_citations(p).strip() for p in _SENTENCE.split(text))
    return [p for p in parts if p]


def is_refusal_text(text: str) -> bool:
    """Whether a (short) answer says that the documents or context do not hold the answer.

    For backends without a refusal flag (the naive baseline) and for generated answers that
    refuse in their own words instead of the fixed sentence. English phrasing only; an answer
    longer than :data:`REFUSAL_TEXT_CHARS` is never a refusal.
    """
    body = strip_citations(text)
    if not body:
        return False
    if len(body) > REFUSAL_TEXT_CHARS:
        return False
    return bool(_REFUSAL_PATTERNS.search(body.casefold().replace("’", "'")))


def _cosines(embedder: Embedder, queries: list[str], texts: list[str]) -> np.ndarray:
    raw = np.asarray(embedder.embed_documents(queries + texts), dtype=np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    vecs = raw / np.where(norms == 0, 1.0, norms)
    return np.asarray(vecs[: len(queries)] @ vecs[len(queries) :].T)


# --- key facts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactMatch:
    fact: str
    found: bool
    how: str  # "literal", "stemmed", "semantic", "missing"
    score: float  # 1.0 literal/stemmed, else the best span cosine (0.0 when not computed)


@lru_cache(maxsize=1)
def _stem_word() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def _stemmed(normalised: str) -> str:
    stem = _stem_word()
    return " ".join(stem(w) for w in normalised.split())


def answer_spans(sentences: Sequence[str], sizes: Iterable[int]) -> list[str]:
    """Distinct runs of ``sizes`` words within each sentence (edge punctuation trimmed), then
    the sentences themselves."""
    spans: dict[str, None] = {}
    for sentence in sentences:
        words = sentence.split()
        for size in sorted(set(sizes)):
            for i in range(max(1, len(words) - size + 1)):
                span = " ".join(words[i : i + size]).strip(" .,;:!?()[]\"'“”‘’")
                if span:
                    spans[span] = None
        spans[sentence] = None
    return list(spans)


def match_key_facts(
    answer_text: str,
    key_facts: Sequence[str],
    embedder: Embedder | None = None,
    threshold: float = FACT_THRESHOLD,
    refused: bool = False,
) -> list[FactMatch]:
    """Per key fact: found literally, stemmed or semantically, or missing (see
    :func:`key_fact_recall`)."""
    body = "" if refused else strip_citations(answer_text)
    if not body.strip():
        return [FactMatch(f, False, "missing", 0.0) for f in key_facts]
    norm_body = normalise(body)
    haystack = f" {norm_body} "
    stemmed = f" {_stemmed(norm_body)} "
    matches: list[FactMatch | None] = []
    pending: list[int] = []
    for i, fact in enumerate(key_facts):
        norm = normalise(fact)
        if norm and f" {norm} " in haystack:
            matches.append(FactMatch(fact, True, "literal", 1.0))
        elif norm and f" {_stemmed(norm)} " in stemmed:
            matches.append(FactMatch(fact, True, "stemmed", 1.0))
        else:
            matches.append(None)
            if embedder is not None and norm and not _NUMBER_WORD.search(norm):
                pending.append(i)
    best: dict[int, float] = {}
    found_semantic: set[int] = set()
    if pending and embedder is not None:
        sizes: set[int] = set()
        for i in pending:
            n = len(key_facts[i].split())
            sizes.update(range(max(1, n - 1), n + SPAN_EXTRA_WORDS + 1))
        spans = answer_spans(answer_sentences(body), sizes)
        if spans:
            cos = _cosines(embedder, [key_facts[i] for i in pending], spans)
            best = {i: float(cos[row].max()) for row, i in enumerate(pending)}
            candidates = {
                i: [spans[j] for j in np.argsort(-cos[row]) if cos[row, j] >= threshold]
                for row, i in enumerate(pending)
            }
            found_semantic = _word_gate(embedder, key_facts, candidates)
    out: list[FactMatch] = []
    for i, fact in enumerate(key_facts):
        m = matches[i]
        if m is None:
            found = i in found_semantic
            m = FactMatch(fact, found, "semantic" if found else "missing", best.get(i, 0.0))
        out.append(m)
    return out


def _content(text: str) -> list[tuple[str, str]]:
    """(word, stem) of the normalised text's words that are not function words."""
    stem = _stem_word()
    return [(w, stem(w)) for w in normalise(text).split() if w not in _FUNCTION_WORDS]


def differing_words(fact: str, span: str) -> tuple[str, str]:
    """The fact's content words whose stem the span lacks, and the span's the fact lacks."""
    f, s = _content(fact), _content(span)
    f_stems, s_stems = {st for _, st in f}, {st for _, st in s}
    return (
        " ".join(w for w, st in f if st not in s_stems),
        " ".join(w for w, st in s if st not in f_stems),
    )


def _word_gate(
    embedder: Embedder, facts: Sequence[str], candidates: dict[int, list[str]]
) -> set[int]:
    """Facts with a candidate span whose differing words are close enough (WORD_THRESHOLD)."""
    found: set[int] = set()
    to_embed: dict[int, list[tuple[str, str]]] = {}
    for i, spans in candidates.items():
        for span in spans:
            mine, theirs = differing_words(facts[i], span)
            if not mine:  # every content word of the fact is in the span (reordered, split)
                found.add(i)
                break
            if theirs:  # a word in place of another: judged below
                to_embed.setdefault(i, []).append((mine, theirs))
    pairs = [(i, a, b) for i, ab in to_embed.items() if i not in found for a, b in ab]
    if pairs:
        cos = _cosines(embedder, [a for _, a, _ in pairs], [b for _, _, b in pairs])
        for k, (i, _, _) in enumerate(pairs):
            if cos[k, k] >= WORD_THRESHOLD:
                found.add(i)
    return found


def key_fact_recall(
    answer_text: str,
    key_facts: Sequence[str],
    embedder: Embedder | None = None,
    threshold: float = FACT_THRESHOLD,
    refused: bool = False,
) -> float | None:
    """Share of the question's key facts that the answer states.

    Three ways to find a fact, in order. *Literal*: its :func:`normalise` form occurs in the
    normalised answer as whole words ("3 000" matches "3,000" and "3000", "Economy & Labour"
    matches "economy and labour", "art" does not match "partial"). *Stemmed*: the same with
    every word Snowball-stemmed ("Health sciences" matches "health science", "biotechnology"
    matches "biotechnologies"). *Semantic*, only with ``embedder`` and only for facts without
    a number ("RIS3" is a name, "5-star" holds a number; MiniLM scores "2006" and "2016" as
    near-identical): some span of the answer (runs of n-1 .. n+2 words, or a sentence) has
    MiniLM cosine >= ``threshold`` with the fact (:data:`FACT_THRESHOLD`, 0.85) *and* either
    holds every content word of the fact (reordered: "sustainability and knowledge
    valorisation"; split: "interim and final evaluations" for "interim evaluation") or
    replaces the missing ones with words scoring >= :data:`WORD_THRESHOLD` against them
    ("yearly" for "annual", not "total" for "business"). Refused or empty answers score 0.0;
    no key facts (unanswerable): None.

    Cannot see: whether the fact is stated *correctly in context* (a fact quoted as something
    else, or negated, still counts); close synonyms the word gate rejects ("The RIS3 Steering
    Group" for "steering committee": "group" / "committee" 0.52); facts in another
    language (the non-English questions have English key facts: an answer written in Spanish
    is credited only for names and numbers it shares); numbers written differently beyond the
    normalisation ("€228m" vs "228 million euros"); facts the reference did not list (an
    answer may be right in other terms).
    """
    if not key_facts:
        return None
    found = match_key_facts(answer_text, key_facts, embedder, threshold, refused)
    return sum(m.found for m in found) / len(key_facts)


# --- similarity ------------------------------------------------------------------------------
def answer_similarity(
    answer: str, reference: str, embedder: Embedder, refused: bool = False
) -> float | None:
    """MiniLM cosine between the answer (citation markers removed) and the reference answer.

    0.0 when the answer is empty or refused; None when there is no reference (unanswerable).
    MiniLM reads at most 256 word pieces of each text (longer ones are truncated).

    Cannot see: correctness (a fluent answer on the right topic with wrong numbers scores about
    as high as the right one; 0.6-0.8 is typical for any on-topic answer); answers in another
    language than the English reference (MiniLM is English-only, so those score low whatever
    they say); length (a terse correct answer may score below a long padded one).
    """
    if not reference.strip():
        return None
    body = "" if refused else strip_citations(answer)
    if not body.strip():
        return 0.0
    return float(_cosines(embedder, [body], [reference])[0, 0])


# --- citations vs gold pages -----------------------------------------------------------------
def _pages(citations: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((str(f), int(p)) for f, p in citations))


def citation_gold_share(
    citations: Iterable[tuple[str, int]], gold: Iterable[tuple[str, int]]
) -> float | None:
    """Share of the distinct cited pages ``(file, page)`` that are gold pages.

    Citing the same page twice counts once. None when nothing is cited (undefined: a refusal,
    an answer without citations). Cannot see: whether the cited passage on a gold page is
    the one holding the answer; non-gold pages that also hold it (the dataset lists every page
    its authors found with the answer, but a page saying it in other words may be missing).
    """
    pages = _pages(citations)
    if not pages:
        return None
    wanted = set(_pages(gold))
    return sum(p in wanted for p in pages) / len(pages)


def any_citation_on_gold(
    citations: Iterable[tuple[str, int]], gold: Iterable[tuple[str, int]]
) -> bool:
    """Whether at least one cited page is a gold page (False when nothing is cited).

    The share of answers a reader can verify by opening one cited page. Cannot see how many
    of several gold pages are cited, nor citations to non-gold pages beside the gold one.
    """
    wanted = set(_pages(gold))
    return any(p in wanted for p in _pages(citations))


# --- refusals --------------------------------------------------------------------------------
def correct_refusal_rate(outcomes: Iterable[tuple[bool, bool]]) -> float | None:
    """Share of *unanswerable* questions that were refused; ``outcomes`` = (answerable, refused).

    None when there is no unanswerable question. Cannot see why a refusal happened (a refusal
    for the wrong reason counts as correct), nor a partial answer that says the part asked for
    is not in the documents.
    """
    flags = [refused for answerable, refused in outcomes if not answerable]
    return sum(flags) / len(flags) if flags else None


def false_refusal_rate(outcomes: Iterable[tuple[bool, bool]]) -> float | None:
    """Share of *answerable* questions that were refused; ``outcomes`` = (answerable, refused).

    None when there is no answerable question. Cannot see whether the answer given instead of
    a refusal was right (that is what key-fact recall measures).
    """
    flags = [refused for answerable, refused in outcomes if answerable]
    return sum(flags) / len(flags) if flags else None


# --- citation recall / precision (ALCE style) ------------------------------------------------
@dataclass(frozen=True)
class CitedSentence:
    """One answer sentence and the passages it cites; None stands for a citation number that
    points at no passage (it counts as a citation, and never supports)."""

    text: str
    passages: tuple[str | None, ...]


@dataclass(frozen=True)
class CitationScores:
    recall: float | None
    precision: float | None
    sentences: int
    citations: int
    supported_sentences: int
    supporting_citations: int
    support: tuple[tuple[float, ...], ...] = ()
    """Per sentence, the support score of each (deduplicated) citation."""


def citation_scores(
    sentences: Sequence[CitedSentence],
    scorer: Scorer,
    threshold: float,
    cross_lingual: bool = False,
    refused: bool = False,
) -> CitationScores:
    """Citation recall and precision after ALCE (Gao et al. 2023, "Enabling Large Language
    Models to Generate Text with Citations"), with the assistant's support score for NLI.

    A citation *supports* its sentence when ``scorer.similarity([sentence], [passage])`` >=
    ``threshold`` (``settings.support_threshold``; for English that score is 0.6 MiniLM cosine
    + 0.4 lexical recall of the sentence's content words in the passage; with
    ``cross_lingual`` the multilingual encoder's cosine). Citation markers are stripped from
    the sentence before scoring. Within a sentence a passage cited twice counts once;
    the same passage cited by two sentences counts for each.

    - recall = sentences with at least one supporting citation / sentences;
    - precision = supporting citations / citations.

    Differences from ALCE: no NLI model, and no joint support (ALCE concatenates a sentence's
    passages and also counts a citation as precise when it is needed jointly with the others;
    here each citation must support alone). Edge cases: a refused answer or one without
    sentences scores None/None (nothing claimed; a refusal's related passages are not
    citations); an answer with sentences but no citation scores recall 0 and precision 0, as
    in ALCE.

    Cannot see: whether the sentence is *true* (a sentence copied from a passage is supported
    even when it does not answer the question); support that needs two passages together;
    a paraphrase the similarity underrates, or a contradiction with high word overlap it
    overrates (the score is similarity, not entailment).
    """
    claims = [strip_citations(s.text) for s in sentences]
    kept = [(c, s) for c, s in zip(claims, sentences, strict=True) if c]
    if refused or not kept:
        return CitationScores(None, None, 0, 0, 0, 0)
    cited = [list(dict.fromkeys(s.passages)) for _, s in kept]
    texts = list(dict.fromkeys(p for ps in cited for p in ps if p is not None))
    index = {t: j for j, t in enumerate(texts)}
    matrix = scorer.similarity([c for c, _ in kept], texts, cross_lingual) if texts else None
    supported = supporting = total = 0
    support: list[tuple[float, ...]] = []
    for i, passages in enumerate(cited):
        scores = tuple(
            0.0 if p is None or matrix is None else float(matrix[i, index[p]]) for p in passages
        )
        support.append(scores)
        good = sum(s >= threshold for s in scores)
        supporting += good
        total += len(scores)
        supported += good > 0
    precision = supporting / total if total else 0.0
    return CitationScores(
        supported / len(kept), precision, len(kept), total, supported, supporting, tuple(support)
    )


def citation_recall(
    sentences: Sequence[CitedSentence],
    scorer: Scorer,
    threshold: float,
    cross_lingual: bool = False,
    refused: bool = False,
) -> float | None:
    """Share of answer sentences with at least one supporting citation (see
    :func:`citation_scores` for support, edge cases and what it cannot see)."""
    return citation_scores(sentences, scorer, threshold, cross_lingual, refused).recall


def citation_precision(
    sentences: Sequence[CitedSentence],
    scorer: Scorer,
    threshold: float,
    cross_lingual: bool = False,
    refused: bool = False,
) -> float | None:
    """Share of citations whose passage supports their sentence (see :func:`citation_scores`)."""
    return citation_scores(sentences, scorer, threshold, cross_lingual, refused).precision


# --- aggregation -----------------------------------------------------------------------------
def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the defined values (None skipped); None when none is defined."""
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def as_cited_sentences(
    sentences: Iterable[Any], passages_by_n: dict[int, str]
) -> list[CitedSentence]:
    """:class:`assistant.answer.SentenceCheck`-like objects (``.text``, ``.cited``) ->
    :class:`CitedSentence` with each number resolved to its passage text (None if unknown)."""
    return [
        CitedSentence(str(s.text), tuple(passages_by_n.get(int(n)) for n in s.cited))
        for s in sentences
    ]
