"""The answer pipeline: condense -> retrieve -> select evidence -> answer -> check citations.

Grounding is decided here, outside the model: the refusal comes from the evidence score (no
model call), citations are verified and repaired against the passages, unsupported sentences
are removed, and a generated answer that fails the checks falls back to the extractive one.
The steps before generation are LangChain runnables; generation streams.
"""

from __future__ import annotations

import time
from collections.abc import Generator as Gen
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answer import Answer, Source, Timings
from assistant.backends.base import BackendUnavailable, Generator
from assistant.citations import check_answer
from assistant.condense import Turn, condense
from assistant.evidence import (
    ScoredSentence,
    SentenceScorer,
    count_tokens,
    format_best_sentences,
    format_sources,
    select_sources,
)
from assistant.extractive import extractive_answer
from assistant.guards import missing_key_terms, quarantine
from assistant.language import detect_language, language_name
from assistant.prompts import load_prompt, refusal_sentence
from assistant.retriever import HybridRetriever, build_retriever
from s3assist.settings import Settings
from vectorstore.embeddings import dense_embedder, multilingual_embedder

MIN_SUPPORTED_SHARE = 0.5
"""A generated answer keeps its form only if at least this share of its sentences survive the
support check; otherwise the extractive answer replaces it."""


@dataclass
class _State:
    question: str
    history: Sequence[Turn]
    backend: str
    filters: dict[str, Any]
    language: str = "en"
    standalone: str = ""
    sources: list[Source] = field(default_factory=list)
    ranked: list[ScoredSentence] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    generator: Generator | None = None
    notices: list[str] = field(default_factory=list)


class Assistant:
    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever | None = None,
        generators: dict[str, Generator] | None = None,
    ):
        """``generators`` pre-supplies text generators by backend name (tests, the app);
        missing ones are built on first use from settings."""
        self.settings = settings
        self.retriever = retriever or build_retriever(settings)
        self._generators: dict[str, Generator] = dict(generators or {})
        multilingual = multilingual_embedder(settings) if settings.multilingual_index else None
        embedder = dense_embedder(settings)
        self.scorer = SentenceScorer(embedder, multilingual)
        self.prepare: Runnable[_State, _State] = (
            RunnableLambda(self._condense) | RunnableLambda(self._retrieve)
        ).with_config(run_name="s3assist_prepare")

    # -- generators --------------------------------------------------------------------------
    def generator(self, backend: str) -> Generator | None:
        if backend == "extractive":
            return None
        if backend not in self._generators:
            from assistant.backends.factory import make_generator

            gen = make_generator(self.settings, backend)
            if gen is None:
                return None
            self._generators[backend] = gen
        return self._generators[backend]

    # -- steps -----------------------------------------------------------------------------
    def _condense(self, state: _State) -> _State:
        t0 = time.perf_counter()
        state.language = detect_language(state.question)
        state.standalone = condense(state.question, state.history, state.generator)
        state.timings.condense_s = time.perf_counter() - t0
        return state

    def _retrieve(self, state: _State) -> _State:
        t0 = time.perf_counter()
        k = max(self.settings.answer_sources * 2, 10)
        hits = self.retriever.search(state.standalone, k, state.filters)
        state.timings.retrieve_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        state.sources = select_sources(
            hits, self.settings.answer_sources, self.settings.evidence_tokens
        )
        if self.settings.injection_guard:
            checked = quarantine(state.sources)
            state.sources = checked.sources
            if checked.removed:
                state.notices.append(
                    f"{len(checked.removed)} passage sentence(s) addressed to the assistant "
                    "were set aside (possible prompt injection)"
                )
        cross = state.language != "en"
        state.ranked = self.scorer.rank_sentences(state.standalone, state.sources, cross)
        state.timings.select_s = time.perf_counter() - t1
        return state

    def evidence_threshold(self, language: str) -> float:
        if language == "en":
            return self.settings.refusal_threshold
        return self.settings.refusal_threshold_multilingual

    # -- public API ------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> Answer:
        answer: Answer | None = None
        for item in self.stream(question, history, backend, filters):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield generated text deltas as they come, then the checked :class:`Answer`."""
        start = time.perf_counter()
        backend = backend or self.settings.llm_backend
        state = _State(question.strip(), list(history), backend, dict(filters or {}))
        try:
            state.generator = self.generator(backend)
        except BackendUnavailable as exc:
            state.notices.append(f"{backend} backend unavailable ({exc}); extractive answer shown")
            state.backend = "extractive"
        state = self.prepare.invoke(state)
        evidence = state.ranked[0].score if state.ranked else 0.0
        missing = missing_key_terms(state.standalone, state.language, state.sources)
        if missing:
            state.notices.append(
                "not answered: the documents found do not mention " + ", ".join(missing)
            )
        if not state.sources or evidence < self.evidence_threshold(state.language) or missing:
            answer = self._refusal(state, evidence)
        elif state.generator is None:
            answer = self._extractive(state, evidence)
        else:
            answer = yield from self._generate(state, evidence)
        answer.timings.total_s = time.perf_counter() - start
        answer.settings_hash = self.settings.settings_hash()
        yield answer

    # -- answer kinds ----------------------------------------------------------------------
    def _base(self, state: _State, text: str, refused: bool, evidence: float) -> Answer:
        return Answer(
            question=state.question,
            standalone_question=state.standalone,
            answer=text,
            sources=state.sources,
            refused=refused,
            backend=state.backend,
            language=state.language,
            timings=state.timings,
            notices=state.notices,
            evidence_score=evidence,
        )

    def _refusal(self, state: _State, evidence: float) -> Answer:
        answer = self._base(state, refusal_sentence(state.language), True, evidence)
        answer.related = state.sources[:3]
        return answer

    def _extractive(self, state: _State, evidence: float) -> Answer:
        text, checks = extractive_answer(state.ranked, state.language)
        answer = self._base(state, text, False, evidence)
        answer.sentences = checks
        return answer

    def _generate(self, state: _State, evidence: float) -> Gen[str, None, Answer]:
        assert state.generator is not None
        budget = self.settings.local_evidence_tokens
        if state.generator.name == "local" and budget:
            block = format_best_sentences(state.sources, state.ranked, budget)
        else:
            block = format_sources(state.sources)
        system, user = load_prompt("answer", state.language).render(
            sources=block,
            question=state.standalone,
            language=language_name(state.language),
        )
        t0 = time.perf_counter()
        parts: list[str] = []
        try:
            for delta in state.generator.stream(system, user):
                if state.timings.first_token_s is None:
                    state.timings.first_token_s = time.perf_counter() - t0
                parts.append(delta)
                yield delta
        except BackendUnavailable as exc:
            state.notices.append(f"{exc}; extractive answer shown")
            state.backend = "extractive"
            return self._extractive(state, evidence)
        state.timings.generate_s = time.perf_counter() - t0
        text = "".join(parts).strip()
        tokens = (count_tokens(system) + count_tokens(user), count_tokens(text))
        for sentence in {refusal_sentence(state.language), refusal_sentence("en")}:
            text = text.replace(sentence, "").strip()
        if not text:
            # Whether to answer is decided in code, before the model: the evidence passed the
            # guards, so a model that declines is replaced by the extractive answer.
            state.notices.append("the model declined to answer; extractive answer shown")
            state.backend = "extractive"
            answer = self._extractive(state, evidence)
            answer.tokens_in, answer.tokens_out = tokens
            return answer
        t1 = time.perf_counter()
        checked = check_answer(
            text,
            state.sources,
            self.scorer,
            (
                self.settings.support_threshold
                if state.language == "en"
                else self.settings.support_threshold_multilingual
            ),
            cross_lingual=state.language != "en",
        )
        state.timings.check_s = time.perf_counter() - t1
        kept = len(checked.sentences)
        total = kept + len(checked.removed)
        if kept == 0 or kept / max(total, 1) < MIN_SUPPORTED_SHARE:
            state.notices.append(
                f"the generated answer failed the citation checks ({kept} of {total} "
                "sentences supported); extractive answer shown"
            )
            state.backend = "extractive"
            answer = self._extractive(state, evidence)
        else:
            if checked.removed:
                state.notices.append(
                    f"{len(checked.removed)} unsupported sentence(s) removed from the answer"
                )
            if checked.repaired or checked.dropped_numbers:
                state.notices.append(
                    f"citations repaired: {checked.repaired}, invalid numbers dropped: "
                    f"{checked.dropped_numbers}"
                )
            answer = self._base(state, checked.text, False, evidence)
            answer.sentences = checked.sentences
        answer.tokens_in, answer.tokens_out = tokens
        return answer
