"""Answer metrics on hand-computed examples, the answer-eval runner's pieces, and one slow run."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.answer import SentenceCheck
from eval.answer_metrics import (
    FACT_THRESHOLD,
    WORD_THRESHOLD,
    CitedSentence,
    answer_similarity,
    answer_spans,
    any_citation_on_gold,
    as_cited_sentences,
    citation_gold_share,
    citation_precision,
    citation_recall,
    citation_scores,
    correct_refusal_rate,
    differing_words,
    false_refusal_rate,
    is_refusal_text,
    key_fact_recall,
    match_key_facts,
    mean,
    normalise,
    strip_citations,
)
from eval.answers import (
    NAIVE_K,
    NAIVE_PROMPT,
    Outcome,
    naive_runner,
    render_markdown,
    score_outcome,
    select_records,
    summarise,
)
from eval.datasets import AnswerQuery, GoldPage, load_answer_dataset
from s3assist.settings import Settings
from tests.conftest import CORPUS, REPO

ANSWERS_DEV = REPO / "eval" / "datasets" / "answers_dev.jsonl"
LU = "strategies/LU_Luxembourg_S3_2014.pdf"


# --- fakes -----------------------------------------------------------------------------------
class VectorEmbedder:
    """Texts -> fixed vectors; each unknown text gets its own axis (orthogonal to all others)."""

    def __init__(self, vectors: dict[str, Sequence[float]], dim: int = 4, spare: int = 512):
        self.vectors = {k: list(v) + [0.0] * (dim + spare - len(v)) for k, v in vectors.items()}
        self.dim = dim
        self.size = dim + spare
        self.unknown: dict[str, int] = {}
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        out = []
        for t in texts:
            if t not in self.vectors:
                axis = self.dim + self.unknown.setdefault(t, len(self.unknown))
                vec = [0.0] * self.size
                vec[axis] = 1.0
                self.vectors[t] = vec
            out.append(self.vectors[t])
        return out


def _unit(cos: float) -> list[float]:
    """A 2-d unit vector whose cosine with (1, 0) is ``cos``."""
    return [cos, math.sqrt(1 - cos * cos)]


class TableScorer:
    """similarity() from a {(claim, passage): score} table (0.0 when absent)."""

    def __init__(self, table: dict[tuple[str, str], float], embedder: Any = None):
        self.table = table
        self.embedder = embedder
        self.calls: list[tuple[list[str], list[str], bool]] = []

    def similarity(
        self, queries: list[str], texts: list[str], cross_lingual: bool = False
    ) -> np.ndarray:
        self.calls.append((list(queries), list(texts), cross_lingual))
        return np.array(
            [[self.table.get((q, t), 0.0) for t in texts] for q in queries], dtype=np.float32
        ).reshape(len(queries), len(texts))


# --- normalisation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("3 000", "3,000"),
        ("3 000", "3000"),
        ("3\u202f000 new jobs", "3.000 new jobs"),
        ("1.5 % to 1.9 %", "1.5%–1.9%"),
        ("1.5 % to 1.9 %", "1.5 per cent to 1.9 percent"),
        ("0.24", "0,24"),
        ("Economy & Labour", "economy and labour"),
        ("Skåne", "SKANE"),
        ("ﬁnancial", "financial"),
        ("€228m", "EUR 228m"),
        ("€228m", "€ 228m"),
        ("e-health", "e health"),
    ],
)
def test_normalise_equates(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


def test_normalise_keeps_what_matters() -> None:
    assert normalise("1.9") != normalise("19")  # decimal point kept between digits
    assert normalise("The rate is 1.9.") == "the rate is 1.9"
    assert normalise("  Many   spaces\n") == "many spaces"
    assert normalise("2014, 2020") == "2014 2020"  # a list of years is not a digit group


def test_strip_citations() -> None:
    assert strip_citations("Luxinnovation sits on it [1][2].") == "Luxinnovation sits on it."
    assert strip_citations("A [1, 3] b [2; 4]") == "A b"


# --- key-fact recall -------------------------------------------------------------------------
ANSWER = (
    "Luxembourg's KETs are advanced materials and nanotechnologies [1] and biotechnology [2]. "
    "They will be applied in ecotechnologies and health science [1]."
)
FACTS = [
    "advanced materials and nanotechnologies",
    "biotechnologies",
    "Health sciences",
    "Logistics",
]


def test_key_fact_recall_literal_and_stemmed() -> None:
    # literal: the first; stemmed: biotechnology~biotechnologies, health science~sciences;
    # "Logistics" is missing -> 3 / 4
    assert key_fact_recall(ANSWER, FACTS) == pytest.approx(0.75)
    how = [m.how for m in match_key_facts(ANSWER, FACTS)]
    assert how == ["literal", "stemmed", "stemmed", "missing"]


def test_key_fact_recall_whole_words_and_numbers() -> None:
    assert key_fact_recall("The data are partial.", ["art"]) == 0.0  # not inside a word
    assert key_fact_recall("Data are indexed [1].", ["index"]) == 1.0  # the same stem
    assert key_fact_recall("Target: 3,000 new jobs.", ["3 000"]) == 1.0
    assert key_fact_recall("It rose to 21.9 %.", ["1.9"]) == 0.0
    assert key_fact_recall("From 1.5%–1.9% of GDP.", ["1.5 % to 1.9 %"]) == 1.0
    assert key_fact_recall("Economy and Labour [2].", ["Economy & Labour", "Geography"]) == 0.5
    assert key_fact_recall("€ 3.6 billion in private funding", ["3.6 billion", "€3.6"]) == 1.0
    assert key_fact_recall("1.9% of GDP.", ["1.9", "9%"]) == 0.5


def test_key_fact_recall_refused_empty_and_no_facts() -> None:
    assert key_fact_recall(ANSWER, FACTS, refused=True) == 0.0
    assert key_fact_recall("", FACTS) == 0.0
    assert key_fact_recall("[1]", FACTS) == 0.0  # only a citation marker: empty
    assert key_fact_recall(ANSWER, []) is None


def _synonyms(span_cos: float, word_cos: float) -> VectorEmbedder:
    """Fact "annual reports" vs span "yearly reports" (cosine ``span_cos``), and the differing
    words "annual" vs "yearly" (cosine ``word_cos``); every other text is orthogonal."""
    return VectorEmbedder(
        {
            "annual reports": [1.0, 0.0, 0.0, 0.0],
            "yearly reports": [*_unit(span_cos), 0.0, 0.0],
            "annual": [0.0, 0.0, 1.0, 0.0],
            "yearly": [0.0, 0.0, *_unit(word_cos)],
        }
    )


TEXT = "Monitoring uses yearly reports [1]."


def test_semantic_fallback_both_sides_of_the_threshold() -> None:
    assert (FACT_THRESHOLD, WORD_THRESHOLD) == (0.85, 0.7)
    assert key_fact_recall(TEXT, ["annual reports"], _synonyms(0.86, 0.8)) == 1.0
    found = match_key_facts(TEXT, ["annual reports"], _synonyms(0.86, 0.8))[0]
    assert (found.how, round(found.score, 2)) == ("semantic", 0.86)
    below = match_key_facts(TEXT, ["annual reports"], _synonyms(0.84, 0.8))[0]
    assert (below.found, below.how, round(below.score, 2)) == (False, "missing", 0.84)
    # the threshold is a parameter, inclusive
    assert key_fact_recall(TEXT, ["annual reports"], _synonyms(0.84, 0.8), threshold=0.84) == 1.0


def test_semantic_fallback_word_gate_both_sides() -> None:
    assert differing_words("annual reports", "yearly reports") == ("annual", "yearly")
    assert key_fact_recall(TEXT, ["annual reports"], _synonyms(0.95, 0.71)) == 1.0
    assert key_fact_recall(TEXT, ["annual reports"], _synonyms(0.95, 0.69)) == 0.0
    # all the fact's content words in the span (reordered, split): no word check needed
    assert differing_words("interim evaluation", "interim and final evaluations") == ("", "final")
    emb = VectorEmbedder({"interim evaluation": [1.0], "interim and final evaluations": [1.0]})
    text = "They organise interim and final evaluations."
    assert match_key_facts(text, ["interim evaluation"], emb)[0].how == "semantic"
    # a span holding only part of the fact never matches
    emb = VectorEmbedder({"EDP focus groups": [1.0], "Preparation for the EDP focus groups": [1.0]})
    assert differing_words("Preparation for the EDP focus groups", "EDP focus groups") == (
        "preparation",
        "",
    )
    assert key_fact_recall("EDP focus groups.", ["Preparation for the EDP focus groups"], emb) == 0


def test_semantic_fallback_never_for_numbers_nor_refusals() -> None:
    emb = VectorEmbedder({"2006": [1.0], "It started in 2016.": [1.0]})
    assert key_fact_recall("It started in 2016.", ["2006"], emb) == 0.0
    assert key_fact_recall("A 4-star rating.", ["5-star rating"], emb) == 0.0
    assert emb.calls == []  # numbers: not even embedded
    emb2 = _synonyms(0.99, 0.99)
    assert key_fact_recall(TEXT, ["annual reports"], emb2, refused=True) == 0.0
    assert emb2.calls == []


def test_answer_spans() -> None:
    spans = answer_spans(["Steering Group (FNR)."], [2, 1, 2])
    words = ["Steering", "Group", "FNR"]
    assert spans == [*words, "Steering Group", "Group (FNR", "Steering Group (FNR)."]
    assert answer_spans(["One."], [3]) == ["One", "One."]  # shorter than any span


def test_semantic_fallback_with_minilm(embedder) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Monitoring relies on yearly reports [1]. Facebook was analysed [2]. "
        "Total expenditure for R&D must reach 1.9% of GDP [3]."
    )
    facts = ["annual reports", "Twitter", "business expenditure for R&D", "1.9"]
    found = {m.fact: m for m in match_key_facts(text, facts, embedder)}
    assert found["annual reports"].how == "semantic"  # a paraphrase
    assert found["annual reports"].score >= FACT_THRESHOLD
    assert not found["Twitter"].found and found["Twitter"].score < 0.8  # another platform
    # one word swapped: the span scores above 0.85, the word gate says no
    swapped = found["business expenditure for R&D"]
    assert swapped.score >= FACT_THRESHOLD and not swapped.found
    assert found["1.9"].how == "literal"  # "1.9%" holds the number 1.9


# --- answer similarity -----------------------------------------------------------------------
def test_answer_similarity() -> None:
    emb = VectorEmbedder({"Luxinnovation sits on it.": [1.0, 0.0], "The reference.": [0.6, 0.8]})
    assert answer_similarity("Luxinnovation sits on it [1].", "The reference.", emb) == (
        pytest.approx(0.6)
    )
    assert emb.calls[0][0] == "Luxinnovation sits on it."  # citation marker stripped
    assert answer_similarity("", "The reference.", emb) == 0.0
    assert answer_similarity("Luxinnovation sits on it.", "The reference.", emb, True) == 0.0
    assert answer_similarity("Anything.", "", emb) is None


def test_answer_similarity_with_minilm(embedder) -> None:  # type: ignore[no-untyped-def]
    ref = "Multi-annual performance contracts are the main coordination and monitoring tool."
    close = answer_similarity(
        "Performance contracts are the main monitoring tool [1].", ref, embedder
    )
    far = answer_similarity("Tourism in national parks received one million euro.", ref, embedder)
    assert close is not None and far is not None
    assert 0.7 < close <= 1.0 and far < 0.3


# --- citations vs gold -----------------------------------------------------------------------
def test_citation_gold_share_and_any() -> None:
    gold = [(LU, 23), (LU, 24)]
    cited = [(LU, 23), (LU, 5), (LU, 23), ("guidance/x.pdf", 1)]
    # distinct cited pages: LU#23, LU#5, x#1 -> 1 of 3 is gold
    assert citation_gold_share(cited, gold) == pytest.approx(1 / 3)
    assert any_citation_on_gold(cited, gold) is True
    assert citation_gold_share([(LU, 5)], gold) == 0.0
    assert any_citation_on_gold([(LU, 5)], gold) is False
    assert citation_gold_share([], gold) is None
    assert any_citation_on_gold([], gold) is False
    assert citation_gold_share([(LU, 23)], []) == 0.0  # unanswerable: nothing is gold


# --- refusals --------------------------------------------------------------------------------
def test_refusal_rates() -> None:
    outcomes = [(True, False), (True, True), (False, True), (False, False), (False, True)]
    assert correct_refusal_rate(outcomes) == pytest.approx(2 / 3)
    assert false_refusal_rate(outcomes) == pytest.approx(1 / 2)
    assert correct_refusal_rate([(True, True)]) is None
    assert false_refusal_rate([(False, True)]) is None
    assert correct_refusal_rate([]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The documents I have do not answer this question.", True),
        ("The context does not provide information about the ERDF allocation.", True),
        ("There is no information about Galicia in the context.", True),
        ("I don't know.", True),
        ("The steering committee is chaired by the minister [1].", False),
        ("", False),
        ("The strategy does not mention tourism. " + "It lists many other domains. " * 20, False),
    ],
)
def test_is_refusal_text(text: str, expected: bool) -> None:
    assert is_refusal_text(text) is expected


# --- citation recall / precision -------------------------------------------------------------
P1, P2, P3 = "Passage one.", "Passage two.", "Passage three."


def test_citation_scores_hand_computed() -> None:
    scorer = TableScorer({("S1.", P1): 0.9, ("S1.", P2): 0.2, ("S2.", P2): 0.6, ("S3.", P3): 0.1})
    sentences = [
        CitedSentence("S1. [1][2]", (P1, P2)),  # supported (P1); P2 does not support
        CitedSentence("S2. [2]", (P2,)),  # supported
        CitedSentence("S3. [3]", (P3,)),  # unsupported
        CitedSentence("S4.", ()),  # no citation: unsupported
    ]
    got = citation_scores(sentences, scorer, threshold=0.5)
    assert got.recall == pytest.approx(2 / 4)
    assert got.precision == pytest.approx(2 / 4)  # P1@S1, P2@S2 of 4 citations
    assert (got.sentences, got.citations) == (4, 4)
    assert (got.supported_sentences, got.supporting_citations) == (2, 2)
    assert got.support[0] == pytest.approx((0.9, 0.2))
    assert scorer.calls[0][0] == ["S1.", "S2.", "S3.", "S4."]  # markers stripped
    assert citation_recall(sentences, scorer, 0.5) == pytest.approx(0.5)
    assert citation_precision(sentences, scorer, 0.5) == pytest.approx(0.5)


def test_citation_scores_threshold_inclusive_and_cross_lingual() -> None:
    scorer = TableScorer({("S1.", P1): 0.5})
    got = citation_scores([CitedSentence("S1.", (P1,))], scorer, 0.5, cross_lingual=True)
    assert (got.recall, got.precision) == (1.0, 1.0)
    assert scorer.calls[0][2] is True
    assert citation_scores([CitedSentence("S1.", (P1,))], scorer, 0.51).recall == 0.0


def test_citation_scores_duplicates() -> None:
    scorer = TableScorer({("S1.", P1): 0.9, ("S2.", P1): 0.3})
    # the same passage twice in one sentence counts once
    once = citation_scores([CitedSentence("S1.", (P1, P1))], scorer, 0.5)
    assert (once.citations, once.precision) == (1, 1.0)
    # the same passage cited by two sentences counts for each
    both = citation_scores([CitedSentence("S1.", (P1,)), CitedSentence("S2.", (P1,))], scorer, 0.5)
    assert (both.citations, both.recall, both.precision) == (2, 0.5, 0.5)


def test_citation_scores_invalid_number_counts_and_never_supports() -> None:
    scorer = TableScorer({("S1.", P1): 0.9})
    got = citation_scores([CitedSentence("S1.", (None, P1))], scorer, 0.5)
    assert (got.recall, got.precision, got.citations) == (1.0, 0.5, 2)
    only_invalid = citation_scores([CitedSentence("S1.", (None,))], scorer, 0.5)
    assert (only_invalid.recall, only_invalid.precision) == (0.0, 0.0)


def test_citation_scores_edge_cases() -> None:
    scorer = TableScorer({("S1.", P1): 0.9})
    # no citations at all: recall 0, precision 0 (ALCE), and no model call
    none = citation_scores([CitedSentence("S1.", ()), CitedSentence("S2.", ())], scorer, 0.5)
    assert (none.recall, none.precision, none.citations) == (0.0, 0.0, 0)
    assert scorer.calls == []
    # empty answer / only markers: nothing to score
    assert citation_scores([], scorer, 0.5).recall is None
    empty = citation_scores([CitedSentence("[1]", (P1,))], scorer, 0.5)
    assert (empty.recall, empty.precision) == (None, None)
    # a refusal that carries citations is not scored
    refusal = [CitedSentence("The documents I have do not answer this question. [1]", (P1,))]
    got = citation_scores(refusal, scorer, 0.5, refused=True)
    assert (got.recall, got.precision, got.citations) == (None, None, 0)


def test_citation_scores_with_the_assistant_scorer(embedder) -> None:  # type: ignore[no-untyped-def]
    from assistant.evidence import SentenceScorer

    passage = (
        "Multi-annual performance contracts with the public research stakeholders are the "
        "main coordination and monitoring tool. Each contract has ten or so indicators."
    )
    other = "The tourism EDP workshop gathered 121 participants, 16 of them international."
    sentences = [
        CitedSentence("Performance contracts are the main monitoring tool [1].", (passage,)),
        CitedSentence("Each contract has ten or so indicators [2].", (other,)),
    ]
    got = citation_scores(sentences, SentenceScorer(embedder), threshold=0.5)
    assert got.support[0][0] >= 0.5 > got.support[1][0]
    assert (got.recall, got.precision) == (0.5, 0.5)


def test_as_cited_sentences_and_mean() -> None:
    checks = [SentenceCheck("A.", [1, 3], 0.9, True), SentenceCheck("B.", [2], 0.6, True)]
    got = as_cited_sentences(checks, {1: P1, 2: P2})
    assert got == [CitedSentence("A.", (P1, None)), CitedSentence("B.", (P2,))]
    assert mean([1.0, None, 0.0, True]) == pytest.approx(2 / 3)
    assert mean([None]) is None


# --- the runner's pieces ---------------------------------------------------------------------
def _query(**over: Any) -> AnswerQuery:
    values: dict[str, Any] = {
        "id": "q1",
        "question": "Who sits on the RIS3 steering committee?",
        "lang": "en",
        "answerable": True,
        "reference_answer": "The ministries, the FNR and Luxinnovation.",
        "key_facts": ("Luxinnovation", "National Research Fund"),
        "gold": (GoldPage(LU, 14),),
        "topic": "governance",
    }
    values.update(over)
    return AnswerQuery(**values)


def _outcome(**over: Any) -> Outcome:
    values: dict[str, Any] = {
        "answer": "Luxinnovation sits on it [1].",
        "backend_used": "local",
        "refused_flag": False,
        "generated": True,
        "citations": [{"file": LU, "page": 14, "text": P1}, {"file": LU, "page": 2, "text": P2}],
        "sentences": [CitedSentence("Luxinnovation sits on it.", (P1, P2))],
        "first_token_s": 0.5,
        "total_s": 2.0,
        "tokens_in": 100,
        "tokens_out": 10,
        "retrieved": [(LU, 14), (LU, 2)],
    }
    values.update(over)
    return Outcome(**values)


def _fake_scorer() -> TableScorer:
    emb = VectorEmbedder(
        {"Luxinnovation sits on it.": [1.0], "The ministries, the FNR and Luxinnovation.": [1.0]}
    )
    return TableScorer({("Luxinnovation sits on it.", P1): 0.8}, embedder=emb)


def test_score_outcome() -> None:
    row = score_outcome(_query(), _outcome(), _fake_scorer(), support_threshold=0.5)
    assert row["key_fact_recall"] == 0.5
    assert row["similarity"] == pytest.approx(1.0)
    assert row["gold_share"] == 0.5 and row["citation_on_gold"] is True
    assert (row["citation_recall"], row["citation_precision"]) == (1.0, 0.5)
    assert row["refused"] is False and row["refused_by"] is None
    assert row["retrieved_gold"] is True
    assert row["tokens"]["in"] == 100 and row["tokens"]["answer"] > 0
    json.dumps(row)  # serialisable


def test_score_outcome_text_refusal_of_a_generated_answer() -> None:
    text = "The context does not mention who sits on the committee."
    out = _outcome(answer=text, sentences=[CitedSentence(text, (P1,))])
    row = score_outcome(_query(answerable=False, key_facts=(), gold=(), reference_answer=""), out,
                        _fake_scorer(), 0.5)  # fmt: skip
    assert (row["refused"], row["refused_by"]) == (True, "text")
    assert row["citation_recall"] is None and row["key_fact_recall"] is None
    assert row["citation_on_gold"] is None
    # the same words quoted by the extractive backend are not a refusal
    quoted = _outcome(answer=text, generated=False, backend_used="extractive")
    assert score_outcome(_query(), quoted, _fake_scorer(), 0.5)["refused"] is False


def test_score_outcome_non_english_answer_uses_the_multilingual_threshold() -> None:
    claim = "Luxinnovation siège au comité de pilotage avec le Fonds national de la recherche."
    scorer = TableScorer({(claim, P1): 0.5}, embedder=_fake_scorer().embedder)
    out = _outcome(answer=claim + " [1]", sentences=[CitedSentence(claim, (P1,))])
    row = score_outcome(_query(lang="fr"), out, scorer, 0.65, support_threshold_multilingual=0.45)
    assert row["cross_lingual_support"] is True and scorer.calls[-1][2] is True
    assert row["citation_recall"] == 1.0  # 0.5 >= 0.45
    strict = score_outcome(_query(lang="fr"), out, scorer, 0.65)  # no multilingual threshold
    assert strict["citation_recall"] == 0.0


class _FakeAssistant:
    def __init__(self, answer: Any, deltas: Sequence[str]):
        self.answer = answer
        self.deltas = deltas

    def stream(self, question: str, backend: str | None = None) -> Iterator[Any]:
        yield from self.deltas
        yield self.answer


def _answer(**over: Any) -> Any:
    from assistant.answer import Answer, Source

    values: dict[str, Any] = {
        "question": "q",
        "standalone_question": "q",
        "answer": "Luxinnovation sits on it [1].",
        "sources": [Source(1, "c1", LU, 14, P1, 0.9), Source(2, "c2", LU, 2, P2, 0.8)],
        "refused": False,
        "backend": "local",
        "language": "en",
        "sentences": [SentenceCheck("Luxinnovation sits on it.", [1], 0.8, True)],
    }
    values.update(over)
    return Answer(**values)


def test_assistant_runner() -> None:
    from eval.answers import assistant_runner

    out = assistant_runner(
        _FakeAssistant(_answer(), ["Luxinnovation ", "sits on it [1]."]), "local"
    )(_query())
    assert out.generated and out.backend_used == "local" and not out.refused_flag
    assert out.citations == [{"file": LU, "page": 14, "text": P1}]  # cited only, not all sources
    assert out.sentences == [CitedSentence("Luxinnovation sits on it.", (P1,))]
    assert out.retrieved == [(LU, 14), (LU, 2)]
    assert out.raw_text == "Luxinnovation sits on it [1]."
    assert 0 <= out.first_token_s <= out.total_s
    # a generated answer that failed its checks and was replaced by the extractive one
    notice = "the generated answer failed the citation checks (0 of 2 sentences supported); "
    fallback = _answer(notices=[notice + "extractive answer shown"])
    out = assistant_runner(_FakeAssistant(fallback, ["Made up."]), "local")(_query())
    assert (out.backend_used, out.generated, out.fallback) == ("extractive", False, True)
    row = score_outcome(_query(), out, _fake_scorer(), 0.5)
    assert row["fallback"] is True and summarise([row])["fallbacks_to_extractive"] == 1
    # no streamed text (extractive): the first token is the whole answer
    ext = assistant_runner(_FakeAssistant(_answer(backend="extractive"), []), "extractive")
    out = ext(_query())
    assert out.first_token_s == out.total_s and not out.generated and not out.fallback
    assert (
        summarise([score_outcome(_query(), out, _fake_scorer(), 0.5)])["fallbacks_to_extractive"]
        == 0
    )


class _FakeNaiveRetriever:
    def search_chunks(self, query: str, k: int) -> list[tuple[str, int, str]]:
        chunks = [(LU, 14, P1), (LU, 2, P2), (LU, 3, P3), (LU, 4, "Passage four."), (LU, 5, "x")]
        return chunks[:k]


class _FakeGenerator:
    name = "local"

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []

    def stream(self, system: str, user: str) -> Iterator[str]:
        self.prompts.append((system, user))
        yield "Luxinnovation sits on it. "
        yield "So does the FNR."


def test_naive_runner_prompt_and_citations() -> None:
    gen = _FakeGenerator()
    out = naive_runner(_FakeNaiveRetriever(), gen)(_query())
    user = gen.prompts[0][1]
    assert user == NAIVE_PROMPT.format(
        context=f"{P1}\n\n{P2}\n\n{P3}\n\nPassage four.", question=_query().question
    )
    assert user.startswith("Answer the question using the context.\n\nContext:\n")
    assert user.endswith("\nAnswer:")
    assert len(out.citations) == NAIVE_K == 4
    assert [len(s.passages) for s in out.sentences] == [4, 4]  # every sentence cites all 4
    assert out.answer == "Luxinnovation sits on it. So does the FNR."
    assert out.refused_flag is False and out.generated is True
    assert out.tokens_in > 0 and out.tokens_out > 0 and out.first_token_s <= out.total_s


def test_select_records() -> None:
    records = [_query(id=f"q{i}") for i in range(5)]
    assert [r.id for r in select_records(records, 2)] == ["q0", "q1"]
    assert [r.id for r in select_records(records, None, ["q3", "q1"])] == ["q1", "q3"]
    with pytest.raises(ValueError, match="unknown question id"):
        select_records(records, None, ["nope"])
    with pytest.raises(ValueError):
        select_records(records, 0)


def test_summarise_and_markdown() -> None:
    scorer = _fake_scorer()
    rows = [
        score_outcome(_query(), _outcome(), scorer, 0.5),
        score_outcome(
            _query(id="q2", lang="fr"),
            _outcome(answer="The documents I have do not answer this question.", sentences=[],
                     citations=[], refused_flag=True),
            scorer, 0.5,
        ),
        score_outcome(
            _query(id="q3", answerable=False, key_facts=(), gold=(), reference_answer=""),
            _outcome(answer="Nothing here.", sentences=[], citations=[], refused_flag=True),
            scorer, 0.5,
        ),
    ]  # fmt: skip
    s = summarise(rows)
    assert (s["n"], s["answerable"], s["unanswerable"]) == (3, 2, 1)
    assert s["key_fact_recall"] == pytest.approx(0.25)  # 0.5 and a refusal's 0
    assert s["key_fact_recall_answered"] == pytest.approx(0.5)
    assert s["false_refusal_rate"] == 0.5 and s["correct_refusal_rate"] == 1.0
    assert s["citation_on_gold"] == 0.5
    assert s["citation_recall"] == 1.0  # refusals are not scored
    assert s["first_token_s"]["p50"] == 0.5
    summary = {
        "date": "d",
        "settings_hash": "h",
        "corpus": "c",
        "dataset": "x.jsonl",
        "dataset_sha256": "0",
        "questions": 3,
        "fact_threshold": FACT_THRESHOLD,
        "support_threshold": 0.5,
        "naive_k": 4,
        "subsets": {"all": "All questions", "en": "English", "non_en": "Non-English"},
        "backends": {
            "local": {"all": s, "en": summarise(rows[::2]), "non_en": summarise(rows[1:2])}
        },
        "skipped": {"naive": "needs the local model"},
    }
    md = render_markdown(summary)
    assert "| local | 3 (2/1) | 0.250 |" in md
    assert "| local (Non-English) | 1 (1/0) |" in md
    assert "- naive: needs the local model" in md


def test_rescore_run(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from eval.answers import rescore_run

    record = {
        "id": "q1",
        "question": "What did the private sector invest?",
        "lang": "en",
        "answerable": True,
        "reference_answer": "EUR 3.6 billion of private funding.",
        "key_facts": ["3.6 billion"],
        "gold": [{"file": LU, "page": 14}],
        "topic": "funding",
    }
    dataset = tmp_path / "answers.jsonl"
    dataset.write_text(json.dumps(record) + "\n", encoding="utf-8")
    q = _query(key_facts=("3.6 billion",), reference_answer=record["reference_answer"])
    out = _outcome(answer="€3.6 billion in private funding [1].")
    row = score_outcome(q, out, _fake_scorer(), 0.5)
    row["backend"] = "naive"
    row["key_fact_recall"] = 0.0  # as scored by an older metric
    run = tmp_path / "run"
    run.mkdir()
    (run / "per_question.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    old = {
        "date": "d", "settings_hash": "h", "corpus": "c", "dataset": str(dataset),
        "dataset_sha256": "0", "questions": 1, "fact_threshold": 0.8, "support_threshold": 0.5,
        "naive_k": 4, "subsets": {"all": "All", "en": "English", "non_en": "Non-English"},
        "backends": {}, "skipped": {},
    }  # fmt: skip
    (run / "summary.json").write_text(json.dumps(old), encoding="utf-8")
    result = rescore_run(Settings(data_dir=tmp_path / "data"), run, dataset)
    rescored = json.loads((run / "per_question.jsonl").read_text())
    assert rescored["key_fact_recall"] == 1.0
    assert rescored["citation_recall"] == row["citation_recall"]  # kept as stored
    assert 0.5 < rescored["similarity"] <= 1.0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["backends"]["naive"]["all"]["key_fact_recall"] == 1.0
    assert summary["fact_threshold"] == FACT_THRESHOLD and summary["rescored"]
    assert "re-scored" in (run / "answers.md").read_text() and result.out_dir == run


def test_cli_rejects_unknown_backend(tmp_path: Path) -> None:
    from s3assist.cli import app

    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--corpus", str(CORPUS), "--out", str(tmp_path / "o"),
         "--backends", "extractive,gpt9", "--json"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "unknown backend(s) gpt9" in json.loads(result.stdout)["error"]


# --- a real run ------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_answer_eval_extractive_on_a_corpus_slice(tmp_path: Path) -> None:
    from eval.answers import run_answer_eval

    first = load_answer_dataset(ANSWERS_DEV)[:4]
    needed = sorted({g.file for r in first for g in r.gold})
    assert needed == [LU]  # the first four questions are all on the Luxembourg strategy
    root = tmp_path / "corpus"
    for rel in needed:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, root / rel)
        (root / rel).chmod(0o644)
    out = tmp_path / "run"
    result = run_answer_eval(
        Settings(data_dir=tmp_path / "data"), ANSWERS_DEV, ["extractive"], out, root, limit=4,
        quiet=True,
    )  # fmt: skip
    assert {p.name for p in out.iterdir()} >= {"summary.json", "per_question.jsonl", "answers.md"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 4 and summary["question_ids"] == ["a001", "a002", "a003", "a004"]
    assert result.skipped == {}
    s = summary["backends"]["extractive"]["all"]
    assert s["n"] == 4 and s["answerable"] == 4
    for key in ("key_fact_recall", "similarity", "citation_on_gold", "false_refusal_rate"):
        assert 0.0 <= s[key] <= 1.0, key
    assert s["correct_refusal_rate"] is None  # no unanswerable question among the four
    assert s["tokens"]["in"] == 0  # extractive: no model
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a001", "a002", "a003", "a004"]
    for r in rows:
        assert r["backend"] == "extractive" and r["timings"]["total_s"] > 0
        if not r["refused"]:
            assert r["citations"] and all(c["file"] == LU for c in r["citations"])
            assert 0.0 <= r["citation_recall"] <= 1.0
    # the Luxembourg questions are answered from the Luxembourg strategy
    assert s["citation_on_gold"] >= 0.5
    md = (out / "answers.md").read_text()
    assert "| extractive | 4 (4/0) |" in md
