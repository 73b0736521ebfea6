"""Prompt templates from ``prompts/``: checked when loaded, shared phrases defined once."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
USER_MARKER = "=== user ==="
TASK_VARIABLES: dict[str, frozenset[str]] = {
    "answer": frozenset({"sources", "question", "language"}),
    "condense": frozenset({"history", "question"}),
}
"""The variables the code passes to each task; shared phrases are filled in automatically."""


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str

    def render(self, **values: str) -> tuple[str, str]:
        return self.system.format(**values), self.user.format(**values)


def _variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def read_table(name: str) -> dict[str, str]:
    """A ``code: sentence`` file (``#`` comments allowed)."""
    table: dict[str, str] = {}
    for line in (PROMPTS_DIR / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            code, _, text = line.partition(":")
            table[code.strip()] = text.strip()
    return table


def refusal_sentence(language: str) -> str:
    table = read_table("refuse.txt")
    return table.get(language, table["en"])


def intro_sentence(language: str) -> str:
    return read_table("intro.txt").get(language, "")


@cache
def load_prompt(task: str, language: str = "en") -> Prompt:
    """Load ``prompts/<task>.txt``, fill the shared phrases, check the variables."""
    if task not in TASK_VARIABLES:
        raise PromptError(f"unknown prompt task {task!r}; known: {sorted(TASK_VARIABLES)}")
    text = (PROMPTS_DIR / f"{task}.txt").read_text(encoding="utf-8")
    if USER_MARKER not in text:
        raise PromptError(f"prompts/{task}.txt: missing the line '{USER_MARKER}'")
    system, user = (part.strip() for part in text.split(USER_MARKER, 1))
    shared = {
        "citation_rules": (PROMPTS_DIR / "shared" / "citation_rules.txt")
        .read_text(encoding="utf-8")
        .strip(),
        "refusal_sentence": refusal_sentence(language),
    }
    found = _variables(system) | _variables(user)
    expected = TASK_VARIABLES[task] | (found & shared.keys())
    if found != expected or not TASK_VARIABLES[task] <= found:
        raise PromptError(
            f"prompts/{task}.txt uses variables {sorted(found)}, but the code passes "
            f"{sorted(TASK_VARIABLES[task])} (+ shared {sorted(shared)})"
        )
    fill = {k: v for k, v in shared.items() if k in found}
    keep = {v: "{" + v + "}" for v in TASK_VARIABLES[task]}
    return Prompt(task, system.format(**fill, **keep), user.format(**fill, **keep))
