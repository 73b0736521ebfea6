"""Follow-up questions -> standalone questions, so retrieval sees what the user means.

With a generator, the condense prompt rewrites the question; without one (extractive backend),
or when the model's rewrite is unusable, a rule keeps short or anaphoric follow-ups anchored to
the previous question ("And its monitoring?" -> "And its monitoring? (Luxembourg RIS3
governance)").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.backends.base import BackendUnavailable, Generator
from assistant.prompts import load_prompt

Turn = tuple[str, str]
"""(question, answer) of an earlier exchange."""

_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|this|these|those|there|the same|"
    r"ella|ello|esto|eso|sus|sie|ihr|ihre|dies|elle|ils|leur|cela|esso|essa|"
    r"questo|quello|loro|jego|jej|ich|isso|seu|sua)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(
    r"^(and|what about|how about|also|y|e|und|et|ed|i|oraz|a|en|og|och)\b", re.IGNORECASE
)
MAX_STANDALONE_CHARS = 400


def looks_like_follow_up(question: str) -> bool:
    """Short questions, ones opening with "and / what about", or short ones with a pronoun."""
    words = re.findall(r"\w+", question)
    if len(words) <= 6 or _CONTINUATION.match(question.strip()):
        return True
    return len(words) <= 12 and bool(_ANAPHORA.search(question))


def rule_condense(question: str, history: Sequence[Turn]) -> str:
    if not history or not looks_like_follow_up(question):
        return question
    previous = history[-1][0]
    return f"{question} ({previous})"


def condense(question: str, history: Sequence[Turn], generator: Generator | None) -> str:
    if not history:
        return question
    if generator is None:
        return rule_condense(question, history)
    system, user = load_prompt("condense").render(
        history="\n".join(f"User: {q}\nAssistant: {a[:300]}" for q, a in history[-3:]),
        question=question,
    )
    try:
        text = "".join(generator.stream(system, user)).strip().strip('"').splitlines()
    except BackendUnavailable:
        return rule_condense(question, history)
    rewritten = text[0].strip() if text else ""
    if not rewritten or len(rewritten) > MAX_STANDALONE_CHARS:
        return rule_condense(question, history)
    return rewritten
