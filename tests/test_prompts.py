"""Prompt files load, carry exactly the variables the code passes, and share their phrases."""

from __future__ import annotations

import pytest

from assistant import prompts
from assistant.prompts import PromptError, load_prompt, read_table, refusal_sentence


class TestPrompts:
    def test_answer_prompt_renders_with_shared_phrases(self):
        system, user = load_prompt("answer", "es").render(
            sources="[1] (a.pdf, page 2)\nText.", question="¿Qué?", language="Spanish"
        )
        assert "[2] or [1][3]" in system  # citation rules from prompts/shared/
        assert refusal_sentence("es") in system
        assert "Spanish" in system and "¿Qué?" in user and "[1] (a.pdf, page 2)" in user

    def test_condense_prompt(self):
        system, user = load_prompt("condense").render(history="User: a", question="and b?")
        assert "standalone" in system.lower() and "and b?" in user

    def test_unknown_task(self):
        with pytest.raises(PromptError, match="unknown prompt task"):
            load_prompt("summarise")

    def test_variable_mismatch_names_both_sets(self, tmp_path, monkeypatch):
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "citation_rules.txt").write_text("Cite.")
        (tmp_path / "refuse.txt").write_text("en: No.")
        (tmp_path / "answer.txt").write_text(
            "System {citation_rules}\n=== user ===\n{sources} {query}"
        )
        monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
        load_prompt.cache_clear()
        try:
            with pytest.raises(PromptError) as err:
                load_prompt("answer")
            assert "query" in str(err.value) and "question" in str(err.value)
        finally:
            load_prompt.cache_clear()

    def test_missing_user_marker(self, tmp_path, monkeypatch):
        (tmp_path / "condense.txt").write_text("no marker {history} {question}")
        monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
        load_prompt.cache_clear()
        try:
            with pytest.raises(PromptError, match="=== user ==="):
                load_prompt("condense")
        finally:
            load_prompt.cache_clear()

    def test_refusal_table_covers_the_question_languages(self):
        table = read_table("refuse.txt")
        assert {"en", "es", "de", "fr", "it", "pl", "pt"} <= set(table)
        assert refusal_sentence("xx") == table["en"]
