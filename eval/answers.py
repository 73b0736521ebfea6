"""Answer evaluation: every answer backend against the hand-checked QA set.

``run_answer_eval`` (``s3assist eval answers``):

1. reads the answer set (``eval/datasets/answers_*.jsonl``), keeps the first ``limit`` records
   (or the ``ids`` asked for) and checks *their* gold pages against the corpus;
2. builds or refreshes our index exactly as ``eval retrieval`` does (``Ingestor`` over
   ``corpus/strategies`` and ``corpus/guidance``, ids relative to the corpus root, into
   ``settings.data_dir``; incremental);
3. runs every question through each backend:

   - ``extractive`` / ``local`` / ``openai``: ``Assistant(settings).stream(question,
     backend=...)``, the whole guarded pipeline;
   - ``naive``: the RAG a user writes in an afternoon: the top 4 chunks of
     :class:`eval.naive.NaiveRetriever` stuffed into the local model with the plain prompt
     :data:`NAIVE_PROMPT`, through ``make_generator(settings, "local")``. It has no refusal
     mechanism and no citation markers: all 4 chunks count as cited, by every sentence;

4. scores each answer with :mod:`eval.answer_metrics` and writes ``summary.json``,
   ``per_question.jsonl`` (appended as questions finish) and ``answers.md`` into ``out_dir``.

Timing: ``first_token_s`` is from the call to the first text the user sees (the first streamed
delta; for a non-streaming answer, the whole answer), ``total_s`` to the checked answer. One
warm-up question (extractive) is run first so model loading is not counted; the local model is
loaded before its backend's first question.

A backend that cannot run here (``local`` without the model, ``openai`` without an endpoint,
``assistant.backends.factory`` missing) is skipped with its reason; ``naive`` needs ``local``'s
model and is skipped with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.answer_metrics import (
    FACT_THRESHOLD,
    CitedSentence,
    answer_similarity,
    any_citation_on_gold,
    as_cited_sentences,
    citation_gold_share,
    citation_scores,
    correct_refusal_rate,
    false_refusal_rate,
    is_refusal_text,
    match_key_facts,
    mean,
    strip_citations,
)
from eval.datasets import AnswerQuery, DatasetError, check_gold_in_corpus, load_answer_dataset
from eval.metrics import percentile
from eval.retrieval import CORPUS_FOLDERS, ProgressBar, build_index, checked_names, progress_bar
from s3assist.settings import Settings

BACKENDS = ("extractive", "local", "openai", "naive")
GENERATED = ("local", "openai", "naive")
NAIVE_K = 4
NAIVE_SYSTEM = "You are a helpful assistant."
"""The chat template needs a system turn; this is the one most tutorials leave in."""
NAIVE_PROMPT = (
    "Answer the question using the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
)
FALLBACK_NOTICE = "extractive answer shown"


# --- one answer, whichever backend made it ---------------------------------------------------
@dataclass
class Outcome:
    answer: str
    backend_used: str
    refused_flag: bool
    generated: bool
    """The text comes from a model (False: extractive, including a fallback to it)."""
    citations: list[dict[str, Any]]
    sentences: list[CitedSentence]
    first_token_s: float
    total_s: float
    tokens_in: int = 0
    tokens_out: int = 0
    notices: list[str] = field(default_factory=list)
    evidence_score: float | None = None
    retrieved: list[tuple[str, int]] = field(default_factory=list)
    """Pages of every passage the answer step was given (cited or not)."""
    pipeline_timings: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    raw_text: str = ""
    """What the model streamed before the checks (empty without a model)."""
    fallback: bool = False
    """A generated answer failed the checks and the extractive one was shown instead."""


Runner = Callable[[AnswerQuery], Outcome]


def assistant_runner(assistant: Any, backend: str) -> Runner:
    """The guarded pipeline: ``assistant.stream(question, backend=backend)``."""
    from assistant.answer import Answer

    def run(q: AnswerQuery) -> Outcome:
        t0 = time.perf_counter()
        first: float | None = None
        answer: Answer | None = None
        streamed: list[str] = []
        for item in assistant.stream(q.question, backend=backend):
            if isinstance(item, Answer):
                answer = item
            else:
                if first is None:
                    first = time.perf_counter() - t0
                streamed.append(item)
        total = time.perf_counter() - t0
        assert answer is not None
        fallback = any(FALLBACK_NOTICE in n for n in answer.notices)
        passages = {s.n: s.text for s in answer.sources}
        return Outcome(
            answer=answer.answer,
            backend_used="extractive" if fallback else answer.backend,
            refused_flag=answer.refused,
            generated=answer.backend != "extractive" and not fallback and not answer.refused,
            citations=[
                {"file": c["file"], "page": c["page"], "text": c["text"]}
                for c in answer.citations()
            ],
            sentences=as_cited_sentences(answer.sentences, passages),
            first_token_s=first if first is not None else total,
            total_s=total,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            notices=list(answer.notices),
            evidence_score=answer.evidence_score,
            retrieved=[(s.file, s.page) for s in answer.sources],
            pipeline_timings=answer.as_json()["timings"],
            raw_text="".join(streamed).strip(),
            fallback=fallback,
        )

    return run


def naive_runner(retriever: Any, generator: Any, k: int = NAIVE_K) -> Runner:
    """The naive RAG: top-k naive chunks, plain prompt, local model, no checks."""
    from assistant.citations import split_answer
    from assistant.evidence import count_tokens

    def run(q: AnswerQuery) -> Outcome:
        t0 = time.perf_counter()
        chunks = retriever.search_chunks(q.question, k)
        context = "\n\n".join(text for _, _, text in chunks)
        user = NAIVE_PROMPT.format(context=context, question=q.question)
        first: float | None = None
        parts: list[str] = []
        error = ""
        try:
            for delta in generator.stream(NAIVE_SYSTEM, user):
                if first is None:
                    first = time.perf_counter() - t0
                parts.append(delta)
        except Exception as exc:  # the baseline has no fallback: record and go on
            error = f"{type(exc).__name__}: {exc}"
        total = time.perf_counter() - t0
        text = "".join(parts).strip()
        cited = tuple(t for _, _, t in chunks)
        return Outcome(
            answer=text,
            backend_used="naive",
            refused_flag=False,
            generated=True,
            citations=[{"file": f, "page": p, "text": t} for f, p, t in chunks],
            sentences=[CitedSentence(s, cited) for s in split_answer(text)] if text else [],
            first_token_s=first if first is not None else total,
            total_s=total,
            tokens_in=count_tokens(NAIVE_SYSTEM) + count_tokens(user),
            tokens_out=count_tokens(text),
            retrieved=[(f, p) for f, p, _ in chunks],
            error=error,
        )

    return run


# --- scoring ---------------------------------------------------------------------------------
def score_outcome(
    q: AnswerQuery,
    out: Outcome,
    scorer: Any,
    support_threshold: float,
    fact_threshold: float = FACT_THRESHOLD,
    support_threshold_multilingual: float | None = None,
) -> dict[str, Any]:
    """The per-question row: the answer, what the guards did, and every metric.

    Citation support uses the multilingual encoder and ``support_threshold_multilingual``
    (default: ``support_threshold``) when the answer sentences are not in English, as the
    pipeline's own check does for non-English questions."""
    from assistant.evidence import count_tokens
    from assistant.language import detect_language

    text_refusal = out.generated and not out.refused_flag and is_refusal_text(out.answer)
    refused = out.refused_flag or text_refusal
    gold = [(g.file, g.page) for g in q.gold]
    pages = [(c["file"], int(c["page"])) for c in out.citations]
    facts = match_key_facts(out.answer, q.key_facts, scorer.embedder, fact_threshold, refused)
    claims = " ".join(s.text for s in out.sentences)
    cross = bool(claims.strip()) and detect_language(claims) != "en"
    threshold = (
        support_threshold
        if not cross or support_threshold_multilingual is None
        else support_threshold_multilingual
    )
    cites = citation_scores(out.sentences, scorer, threshold, cross, refused)
    scored = [s for s in out.sentences if strip_citations(s.text)] if cites.support else []
    answerable = q.answerable
    return {
        "id": q.id,
        "lang": q.lang,
        "topic": q.topic,
        "answerable": answerable,
        "question": q.question,
        "answer": out.answer,
        "generated_text": out.raw_text if out.raw_text != out.answer else None,
        "backend_used": out.backend_used,
        "fallback": out.fallback,
        "generated": out.generated,
        "refused": refused,
        "refused_by": "system" if out.refused_flag else ("text" if text_refusal else None),
        "notices": out.notices,
        "error": out.error,
        "evidence_score": None if out.evidence_score is None else round(out.evidence_score, 4),
        "citations": out.citations,
        "gold": [f"{f}#{p}" for f, p in gold],
        "retrieved_gold": any_citation_on_gold(out.retrieved, gold) if answerable else None,
        "key_facts": [
            {"fact": m.fact, "found": m.found, "how": m.how, "score": round(m.score, 4)}
            for m in facts
        ],
        "key_fact_recall": (sum(m.found for m in facts) / len(facts)) if facts else None,
        "similarity": _round(
            answer_similarity(out.answer, q.reference_answer, scorer.embedder, refused)
        ),
        "gold_share": _round(citation_gold_share(pages, gold)) if answerable else None,
        "citation_on_gold": any_citation_on_gold(pages, gold) if answerable else None,
        "citation_recall": _round(cites.recall),
        "citation_precision": _round(cites.precision),
        "sentences": [
            {"text": s.text, "support": [round(x, 4) for x in sup]}
            for s, sup in zip(scored, cites.support, strict=True)
        ],
        "cross_lingual_support": cross,
        "timings": {
            "first_token_s": round(out.first_token_s, 4),
            "total_s": round(out.total_s, 4),
            "pipeline": out.pipeline_timings,
        },
        "tokens": {"in": out.tokens_in, "out": out.tokens_out, "answer": count_tokens(out.answer)},
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# --- summary ---------------------------------------------------------------------------------
SUBSETS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "all": ("All questions", lambda r: True),
    "en": ("English", lambda r: r["lang"] == "en"),
    "non_en": ("Non-English", lambda r: r["lang"] != "en"),
}


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers of one backend over ``rows`` (see the README table legend)."""
    ans = [r for r in rows if r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    outcomes = [(r["answerable"], r["refused"]) for r in rows]
    first = [r["timings"]["first_token_s"] for r in rows]
    total = [r["timings"]["total_s"] for r in rows]
    return {
        "n": len(rows),
        "answerable": len(ans),
        "unanswerable": len(rows) - len(ans),
        "key_fact_recall": _round(mean(r["key_fact_recall"] for r in ans)),
        "key_fact_recall_answered": _round(
            mean(r["key_fact_recall"] for r in ans if not r["refused"])
        ),
        "similarity": _round(mean(r["similarity"] for r in ans)),
        "citation_on_gold": _round(mean(bool(r["citation_on_gold"]) for r in ans)),
        "gold_share": _round(mean(r["gold_share"] for r in ans)),
        "retrieved_gold": _round(mean(bool(r["retrieved_gold"]) for r in ans)),
        "citation_recall": _round(mean(r["citation_recall"] for r in answered)),
        "citation_precision": _round(mean(r["citation_precision"] for r in answered)),
        "correct_refusal_rate": _round(correct_refusal_rate(outcomes)),
        "false_refusal_rate": _round(false_refusal_rate(outcomes)),
        "refused_by_text": sum(r["refused_by"] == "text" for r in rows),
        "fallbacks_to_extractive": sum(bool(r.get("fallback", _was_fallback(r))) for r in rows),
        "errors": sum(bool(r["error"]) for r in rows),
        "first_token_s": {
            "p50": round(percentile(first, 50), 3),
            "p95": round(percentile(first, 95), 3),
        },
        "total_s": {"p50": round(percentile(total, 50), 3), "p95": round(percentile(total, 95), 3)},
        "tokens": {
            key: _round(mean(r["tokens"][key] for r in rows), 1) for key in ("in", "out", "answer")
        },
    }


def _was_fallback(row: dict[str, Any]) -> bool:
    """For rows written before the ``fallback`` field existed."""
    return (
        row.get("backend") not in (None, "extractive")
        and row["backend_used"] == "extractive"
        and not row["refused"]
    )


# --- the run ---------------------------------------------------------------------------------
@dataclass
class AnswerEvalResult:
    summary: dict[str, Any]
    markdown: str
    out_dir: Path
    skipped: dict[str, str]


def select_records(
    records: Sequence[AnswerQuery], limit: int | None = None, ids: Sequence[str] | None = None
) -> list[AnswerQuery]:
    """The records asked for: those in ``ids`` (dataset order) if given, then the first
    ``limit``."""
    chosen = list(records)
    if ids:
        wanted = set(ids)
        unknown = wanted - {r.id for r in chosen}
        if unknown:
            raise ValueError(f"unknown question id(s): {', '.join(sorted(unknown))}")
        chosen = [r for r in chosen if r.id in wanted]
    if limit is not None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        chosen = chosen[:limit]
    return chosen


def _load(
    dataset: Path, corpus_root: Path, limit: int | None, ids: Sequence[str] | None
) -> list[AnswerQuery]:
    records = select_records(load_answer_dataset(dataset), limit, ids)
    problems = check_gold_in_corpus(((r.id, r.gold) for r in records), corpus_root)
    if problems:
        raise DatasetError(dataset, problems)
    return records


def _local_problem(settings: Settings, backend: str) -> str:
    """Why ``backend`` cannot run here ("" if it can), from cheap checks."""
    try:
        from assistant.backends.factory import available_backends
    except ImportError as exc:
        return f"assistant.backends.factory not importable ({exc})"
    problems = available_backends(settings)
    return problems.get(backend, f"unknown backend {backend!r}")


def run_answer_eval(
    settings: Settings,
    dataset: Path,
    backends: Sequence[str],
    out_dir: Path,
    corpus_root: Path,
    limit: int | None = None,
    *,
    ids: Sequence[str] | None = None,
    quiet: bool = False,
    ingest: bool = True,
) -> AnswerEvalResult:
    """Run and score ``backends`` on the answer set; write summary.json, per_question.jsonl,
    answers.md into ``out_dir``."""
    backends = checked_names(backends, BACKENDS, "backend")
    corpus_root = Path(corpus_root).resolve()
    dataset = Path(dataset)
    records = _load(dataset, corpus_root, limit, ids)
    started = datetime.now(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_question_path = out_dir / "per_question.jsonl"
    per_question_path.write_text("", encoding="utf-8")
    skipped: dict[str, str] = {}
    rows_by_backend: dict[str, list[dict[str, Any]]] = {}
    index_report: dict[str, Any] | None = None
    extras: dict[str, Any] = {}

    with progress_bar(quiet) as bar:
        ours = [b for b in backends if b != "naive"]
        if ingest and ours:
            t0 = time.perf_counter()
            index_report = build_index(settings, corpus_root, progress=bar)
            bar.log(
                f"index: {index_report['chunks']} chunks, "
                f"{index_report['chunks_embedded']} embedded now, {time.perf_counter() - t0:.1f}s"
            )
        bar.log("loading the assistant")
        from assistant.pipeline import Assistant

        assistant = Assistant(settings)
        scorer = assistant.scorer
        assistant.ask(records[0].question, backend="extractive")  # warm-up: model loads
        runners: dict[str, Runner] = {}
        for name in backends:
            try:
                runners[name] = _make_runner(name, settings, assistant, corpus_root, extras, bar)
            except _Skip as exc:
                skipped[name] = str(exc)
                bar.log(f"[yellow]skipped[/yellow] {name}: {exc}")
        for name, runner in runners.items():
            bar.task(name, len(records))
            rows: list[dict[str, Any]] = []
            for q in records:
                row = score_outcome(
                    q,
                    runner(q),
                    scorer,
                    settings.support_threshold,
                    support_threshold_multilingual=_multilingual_threshold(settings),
                )
                row["backend"] = name
                rows.append(row)
                with per_question_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                bar.advance()
            rows_by_backend[name] = rows

    summary = _summary(settings, dataset, corpus_root, records, rows_by_backend, skipped, started)
    summary["index"] = index_report
    summary.update(extras)
    markdown = render_markdown(summary)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "answers.md").write_text(markdown, encoding="utf-8")
    return AnswerEvalResult(summary, markdown, out_dir, skipped)


def rescore_run(settings: Settings, run_dir: Path, dataset: Path) -> AnswerEvalResult:
    """Recompute the text metrics of a finished run from its stored answers, without running
    any backend (generation is the expensive part; metrics change more often).

    Key-fact recall and answer similarity are recomputed from ``per_question.jsonl`` against
    ``dataset``; citation and refusal outcomes, timings and tokens are kept as stored (the
    cited passages per sentence are not stored). ``summary.json`` and ``answers.md`` are
    rewritten, with ``rescored`` set to the time of this call.
    """
    from vectorstore.embeddings import make_embedder

    run_dir = Path(run_dir)
    path = run_dir / "per_question.jsonl"
    old = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    records = {r.id: r for r in load_answer_dataset(Path(dataset))}
    missing = sorted({r["id"] for r in rows} - records.keys())
    if missing:
        raise ValueError(f"question id(s) not in {dataset}: {', '.join(missing)}")
    # the metric's embedder is fixed (torch MiniLM), whatever embedder the index uses, so that
    # re-scored runs stay comparable across embedding configurations
    embedder = make_embedder(
        "minilm",
        settings.embedding_batch_size,
        settings.embedding_device,
        settings.embedding_threads,
    )
    rows_by_backend: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        q = records[row["id"]]
        facts = match_key_facts(row["answer"], q.key_facts, embedder, refused=row["refused"])
        row["key_facts"] = [
            {"fact": m.fact, "found": m.found, "how": m.how, "score": round(m.score, 4)}
            for m in facts
        ]
        row["key_fact_recall"] = (sum(m.found for m in facts) / len(facts)) if facts else None
        row["similarity"] = _round(
            answer_similarity(row["answer"], q.reference_answer, embedder, row["refused"])
        )
        rows_by_backend.setdefault(row["backend"], []).append(row)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = dict(old)
    summary["backends"] = {
        name: {key: summarise([r for r in rs if test(r)]) for key, (_, test) in SUBSETS.items()}
        for name, rs in rows_by_backend.items()
    }
    summary["fact_threshold"] = FACT_THRESHOLD
    summary["rescored"] = datetime.now(UTC).isoformat(timespec="seconds")
    markdown = render_markdown(summary)
    (run_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (run_dir / "answers.md").write_text(markdown, encoding="utf-8")
    return AnswerEvalResult(summary, markdown, run_dir, dict(summary.get("skipped", {})))


def _multilingual_threshold(settings: Settings) -> float | None:
    value = getattr(settings, "support_threshold_multilingual", None)
    return None if value is None else float(value)


class _Skip(Exception):
    """This backend cannot run here; the message says why."""


def _make_runner(
    name: str,
    settings: Settings,
    assistant: Any,
    corpus_root: Path,
    extras: dict[str, Any],
    bar: ProgressBar,
) -> Runner:
    if name == "extractive":
        return assistant_runner(assistant, name)
    model = "local" if name == "naive" else name
    problem = _local_problem(settings, model)
    if problem:
        raise _Skip(problem if name != "naive" else f"needs the local model: {problem}")
    bar.log(f"{name}: loading the {model} model")
    try:
        if name == "naive":
            from assistant.backends.factory import make_generator

            generator = make_generator(settings, model)  # shares the loaded local model
        else:
            generator = assistant.generator(name)  # loads (and joins) the model once
    except Exception as exc:
        raise _Skip(f"{model} backend unavailable: {type(exc).__name__}: {exc}") from exc
    if generator is None:
        raise _Skip(f"no generator for {model!r}")
    if name != "naive":
        return assistant_runner(assistant, name)
    from eval.naive import NaiveRetriever

    bar.log("naive: building or reusing the naive index")
    naive = NaiveRetriever(corpus_root, settings.cache_dir / "naive", CORPUS_FOLDERS)
    naive.search_chunks("smart specialisation", NAIVE_K)  # warm-up: HF embedder load
    extras["naive_index"] = {
        "chunks": naive.chunks,
        "built_now": naive.built,
        "skipped_files": naive.skipped,
        "cache": str(naive.cache_dir),
    }
    return naive_runner(naive, generator)


def _summary(
    settings: Settings,
    dataset: Path,
    corpus_root: Path,
    records: Sequence[AnswerQuery],
    rows_by_backend: dict[str, list[dict[str, Any]]],
    skipped: dict[str, str],
    started: datetime,
) -> dict[str, Any]:
    backends: dict[str, Any] = {}
    for name, rows in rows_by_backend.items():
        backends[name] = {
            key: summarise([r for r in rows if test(r)]) for key, (_, test) in SUBSETS.items()
        }
    return {
        "date": started.isoformat(timespec="seconds"),
        "settings_hash": settings.settings_hash(),
        "corpus": str(corpus_root),
        "dataset": str(dataset),
        "dataset_sha256": hashlib.sha256(dataset.read_bytes()).hexdigest()[:16],
        "questions": len(records),
        "question_ids": [r.id for r in records],
        "support_threshold": settings.support_threshold,
        "support_threshold_multilingual": _multilingual_threshold(settings),
        "fact_threshold": FACT_THRESHOLD,
        "naive_prompt": NAIVE_PROMPT,
        "naive_k": NAIVE_K,
        "subsets": {k: title for k, (title, _) in SUBSETS.items()},
        "backends": backends,
        "skipped": skipped,
    }


# --- report ----------------------------------------------------------------------------------
COLUMNS: tuple[tuple[str, str], ...] = (
    ("key_fact_recall", "KF recall"),
    ("key_fact_recall_answered", "KF recall (answered)"),
    ("similarity", "similarity"),
    ("citation_on_gold", "cites gold"),
    ("gold_share", "gold share"),
    ("citation_recall", "cit. recall"),
    ("citation_precision", "cit. precision"),
    ("correct_refusal_rate", "correct refusal"),
    ("false_refusal_rate", "false refusal"),
)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(summary: dict[str, Any], subsets: Sequence[str]) -> list[str]:
    header = ["backend", "n (ans/unans)", *(label for _, label in COLUMNS)]
    header += ["1st token p50/p95 s", "total p50/p95 s", "tokens in/out"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for name, data in summary["backends"].items():
        for subset in subsets:
            s = data[subset]
            if not s["n"]:
                continue
            label = name if subset == "all" else f"{name} ({summary['subsets'][subset]})"
            cells = [label, f"{s['n']} ({s['answerable']}/{s['unanswerable']})"]
            cells += [_fmt(s[key]) for key, _ in COLUMNS]
            cells.append(f"{s['first_token_s']['p50']:.2f} / {s['first_token_s']['p95']:.2f}")
            cells.append(f"{s['total_s']['p50']:.2f} / {s['total_s']['p95']:.2f}")
            cells.append(f"{s['tokens']['in'] or 0:.0f} / {s['tokens']['out'] or 0:.0f}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


LEGEND = """\
- **KF recall**: share of the reference key facts stated in the answer (normalised literal or
  stemmed match; for facts without numbers also a MiniLM cosine >= {fact} to an answer span
  whose differing words are synonyms), answerable questions, refusals = 0; *(answered)*: over
  answered questions only.
- **similarity**: MiniLM cosine of answer and reference answer (answerable; refusals = 0).
- **cites gold**: share of answerable questions with at least one citation on a gold page;
  **gold share**: share of cited pages that are gold (answers with citations).
- **cit. recall / precision** (ALCE-style, answered questions): sentences with a supporting
  citation / citations supporting their sentence; support = the assistant's SentenceScorer
  >= {support} (non-English sentences: multilingual encoder, >= {support_ml}). Our generated
  answers have already had sentences below the same threshold removed (1.0 by construction:
  this checks the checker); the naive baseline cites all {k} chunks it was given from every
  sentence.
- **correct / false refusal**: refused unanswerable / refused answerable questions (a refusal =
  the pipeline's flag, or for generated text a short "the documents do not ..." answer).
- latency from the call to the first streamed text (the whole answer for extractive) and to the
  checked answer; tokens = cl100k prompt tokens in / generated tokens out (0 without a model).
"""


def render_markdown(summary: dict[str, Any]) -> str:
    """``answers.md``: one table, a row per backend plus its non-English row."""
    out = [
        "# Answer evaluation",
        "",
        f"- date: {summary['date']}",
        f"- settings hash: `{summary['settings_hash']}`",
        f"- corpus: `{summary['corpus']}`",
        f"- dataset: `{summary['dataset']}` (sha256 {summary['dataset_sha256']}, "
        f"{summary['questions']} questions)",
    ]
    if summary.get("rescored"):
        out.append(
            f"- key facts and similarity re-scored {summary['rescored']} from the stored answers"
        )
    index = summary.get("index")
    if index:
        failed = ", ".join(f"{f['file']} ({f['reason']})" for f in index["failed"]) or "none"
        out.append(f"- our index: {index['chunks']} chunks; not indexed: {failed}")
    naive = summary.get("naive_index")
    if naive:
        out.append(f"- naive index: {naive['chunks']} chunks")
    out += ["", "## Results", ""]
    if summary["backends"]:
        out += _table(summary, ["all", "non_en"])
    else:
        out.append("(no backend ran)")
    out += [
        "",
        "## Legend",
        "",
        LEGEND.format(
            fact=summary["fact_threshold"],
            support=summary["support_threshold"],
            support_ml=summary.get("support_threshold_multilingual") or "the same",
            k=summary["naive_k"],
        ).rstrip(),
    ]
    if summary["skipped"]:
        out += ["", "## Skipped backends", ""]
        out += [f"- {name}: {reason}" for name, reason in summary["skipped"].items()]
    return "\n".join(out) + "\n"
