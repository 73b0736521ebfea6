"""The answer pipeline end to end on real PDFs, real MiniLM/USE and Chroma.

The LLM is replaced by a queued fake generator that enters by the same route as the real ones
(`Assistant(generators=...)`); the real local model and server are exercised in
tests/test_backends.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.answer import Answer
from assistant.pipeline import Assistant
from assistant.prompts import refusal_sentence
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.test_condense import QueuedGenerator

LT = "strategies/LT_Lithuania_RIS3_Implementation_Programme.pdf"
BENCH = "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder) -> Settings:  # type: ignore[no-untyped-def]
    from tests.conftest import GUIDANCE, SMALL_PDFS

    root = tmp_path_factory.mktemp("corpus")
    for pdf in SMALL_PDFS:
        (root / pdf.parent.name).mkdir(exist_ok=True)
        (root / pdf.parent.name / pdf.name).write_bytes(pdf.read_bytes())
    slides = GUIDANCE / "S3CoP_Clusters_Interregional_Cooperation_slides.md"
    (root / "guidance" / slides.name).write_bytes(slides.read_bytes())
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    Ingestor(settings, embedder).ingest([root])
    return settings


class TestExtractive:
    def test_cited_answer_points_at_the_right_page(self, indexed):
        answer = Assistant(indexed).ask(
            "In the Düsseldorf benchmarking case study, which variable was compared?"
        )
        assert not answer.refused and answer.backend == "extractive"
        cites = answer.citations()
        assert cites and cites[0]["file"] == BENCH
        assert all(c["text"] for c in cites)
        assert "[1]" in answer.answer or "[2]" in answer.answer
        assert answer.timings.retrieve_s > 0 and answer.timings.first_token_s is None

    def test_out_of_corpus_question_is_refused_with_related_material(self, indexed):
        answer = Assistant(indexed).ask(
            "What are the smart specialisation priorities of the Basque Country?"
        )
        assert answer.refused
        assert answer.answer == refusal_sentence("en")
        assert answer.citations() == [] and answer.related
        assert any("Basque Country" in n for n in answer.notices)

    def test_answer_language_follows_the_question(self, indexed):
        answer = Assistant(indexed).ask(
            "¿Qué variable se comparó en el caso de estudio de benchmarking de Düsseldorf?"
        )
        assert answer.language == "es"
        if answer.refused:
            assert answer.answer == refusal_sentence("es")
        else:
            assert answer.answer.startswith("Según los documentos")
            assert answer.citations()[0]["file"] == BENCH

    def test_follow_up_uses_history(self, indexed):
        assistant = Assistant(indexed)
        first = assistant.ask("Which government approved the RIS3 implementation programme?")
        follow = assistant.ask(
            "And its coordination group?", history=[(first.standalone_question, first.answer)]
        )
        assert "RIS3 implementation programme" in follow.standalone_question
        assert any(c["file"] == LT for c in follow.citations()) or follow.refused


class TestGeneratedAnswers:
    QUESTION = "In the Düsseldorf benchmarking case study, which variable was compared?"

    def _assistant(self, indexed, *replies: str) -> Assistant:
        return Assistant(indexed, generators={"local": QueuedGenerator(*replies)})

    def test_streaming_then_checked_answer(self, indexed):
        assistant = self._assistant(
            indexed,
            "The user benchmarks the region of Düsseldorf against a set of 20 EU regions [1].",
        )
        items = list(assistant.stream(self.QUESTION, backend="local"))
        deltas, final = items[:-1], items[-1]
        assert len(deltas) > 3 and all(isinstance(d, str) for d in deltas)
        assert isinstance(final, Answer) and not final.refused and final.backend == "local"
        assert final.timings.first_token_s is not None
        assert final.citations()[0]["file"] == BENCH
        assert final.tokens_in > 100 and final.tokens_out > 5

    def test_misnumbered_citation_repaired(self, indexed):
        assistant = self._assistant(
            indexed,
            "The user benchmarks the region of Düsseldorf against a set of 20 EU regions [7].",
        )
        answer = assistant.ask(self.QUESTION, backend="local")
        assert answer.citations() and answer.citations()[0]["file"] == BENCH
        assert any("citations repaired" in n for n in answer.notices)

    def test_unsupported_answer_falls_back_to_extractive(self, indexed):
        assistant = self._assistant(
            indexed,
            "Düsseldorf invested 12 billion euros in quantum computers [1]. "
            "The mayor opened three moon bases [2].",
        )
        answer = assistant.ask(self.QUESTION, backend="local")
        assert answer.backend == "extractive" and not answer.refused
        assert any("failed the citation checks" in n for n in answer.notices)
        assert "moon" not in answer.answer and "quantum" not in answer.answer
        assert answer.citations()[0]["file"] == BENCH

    def test_model_refusal_on_good_evidence_gives_extractive(self, indexed):
        """Refusing is decided in code: evidence passed the guards, so answer anyway."""
        assistant = self._assistant(indexed, refusal_sentence("en"))
        answer = assistant.ask(self.QUESTION, backend="local")
        assert not answer.refused and answer.backend == "extractive"
        assert any("declined" in n for n in answer.notices)
        assert answer.citations()[0]["file"] == BENCH

    def test_refusal_sentence_appended_to_an_answer_is_dropped(self, indexed):
        assistant = self._assistant(
            indexed,
            "The user benchmarks the region of Düsseldorf against a set of 20 EU regions [1]. "
            + refusal_sentence("en"),
        )
        answer = assistant.ask(self.QUESTION, backend="local")
        assert not answer.refused and answer.backend == "local"
        assert refusal_sentence("en") not in answer.answer

    def test_unavailable_backend_gives_extractive_with_notice(self, indexed):
        assistant = self._assistant(indexed, "!fail")
        answer = assistant.ask(self.QUESTION, backend="local")
        assert answer.backend == "extractive" and answer.citations()
        assert any("server down" in n for n in answer.notices)


class TestAskCli:
    def test_ask_json_schema(self, indexed, monkeypatch):
        from s3assist.cli import app
        from s3assist.settings import get_settings

        monkeypatch.setenv("S3ASSIST_DATA_DIR", str(Path(indexed.data_dir)))
        get_settings.cache_clear()
        try:
            res = CliRunner().invoke(
                app, ["ask", "Which variable does the Düsseldorf benchmarking use?", "--json"]
            )
        finally:
            get_settings.cache_clear()
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout.strip().splitlines()[-1])
        assert {"answer", "citations", "refused", "backend", "timings"} <= set(data)
        assert set(data["timings"]) >= {"retrieve_s", "generate_s", "first_token_s"}
        assert all(set(c) == {"n", "file", "page", "text"} for c in data["citations"])
