"""Evidence for the prompt: whole passages within a budget, or the best sentences of them."""

from __future__ import annotations

from assistant.answer import Source
from assistant.evidence import (
    ScoredSentence,
    count_tokens,
    format_best_sentences,
    format_sources,
    split_sentences,
)

PASSAGES = [
    "Lithuania sets six priority areas for smart specialisation. The strategy was adopted in "
    "2014 by the government. Agro-innovation and food technologies form one of the areas.",
    "Monitoring relies on a dashboard of output indicators. The dashboard is updated every "
    "year by the agency. Evaluation reports are published online.",
]


def _sources() -> list[Source]:
    return [
        Source(n=i + 1, chunk_id=f"c{i}", file=f"doc{i}.pdf", page=i + 3, text=t, score=1.0)
        for i, t in enumerate(PASSAGES)
    ]


def _ranked(order: list[tuple[int, int]]) -> list[ScoredSentence]:
    """Sentences (source n, position) ranked in the given order, best first."""
    return [
        ScoredSentence(n, pos, split_sentences(PASSAGES[n - 1])[pos], 1.0 - 0.1 * i)
        for i, (n, pos) in enumerate(order)
    ]


def test_best_sentences_keep_numbers_and_passage_order() -> None:
    ranked = _ranked([(1, 2), (2, 0), (1, 0), (2, 2), (1, 1), (2, 1)])
    first_three = sum(count_tokens(s.text) for s in ranked[:3])
    block = format_best_sentences(_sources(), ranked, first_three)
    one, two = block.split("\n\n")
    # source 1: positions 0 and 2 chosen, shown in passage order; position 1 left out
    assert one.startswith("[1] (doc0, p. 3)\n")
    assert one.index("six priority areas") < one.index("Agro-innovation")
    assert "adopted in 2014" not in one
    assert two == "[2] (doc1, p. 4)\n" + split_sentences(PASSAGES[1])[0]
    assert count_tokens(block) < count_tokens(format_sources(_sources()))


def test_sources_without_a_chosen_sentence_are_left_out() -> None:
    ranked = _ranked([(2, 1), (1, 0)])
    block = format_best_sentences(_sources(), ranked, count_tokens(ranked[0].text))
    assert block.startswith("[2] ")
    assert "[1]" not in block


def test_best_sentence_kept_even_over_budget_and_shorter_ones_fill_the_rest() -> None:
    long = ScoredSentence(1, 0, "word " * 200, 0.9)
    short = ScoredSentence(2, 0, split_sentences(PASSAGES[1])[0], 0.8)
    longer = ScoredSentence(2, 1, "x " * 100, 0.7)
    block = format_best_sentences(_sources(), [long, longer, short], 10)
    assert "word word" in block  # the best sentence always stays
    assert "x x" not in block
    block = format_best_sentences(_sources(), [short, longer, long], count_tokens(short.text) + 5)
    assert split_sentences(PASSAGES[1])[0] in block and "x x" not in block


def test_empty_ranking_gives_an_empty_block() -> None:
    assert format_best_sentences(_sources(), [], 300) == ""
