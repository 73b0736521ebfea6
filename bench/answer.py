"""Answer latency per backend: time to first token, total, tokens/s, prompt size.

Runs the real pipeline (``Assistant.stream``) over the answerable English questions of
``eval/datasets/answers_dev.jsonl`` against the ingested shared corpus (``bench/scale.py``'s
source store). The local model is loaded once before timing (its load time is reported apart),
then each configuration (threads, evidence token budget) answers the same questions.
First token is measured from the start of ``stream`` (retrieval and evidence selection
included), and separately from the start of generation. The 1-min load average is recorded
beside each row: other processes share the 2 cores.

``python -m bench answer`` (full) or ``--quick`` (extractive only, 2 questions).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.common import (
    ROOT,
    machine_markdown,
    markdown_table,
    median,
    update_benchmarks_md,
    write_results,
)

QUESTIONS = ROOT / "eval" / "datasets" / "answers_dev.jsonl"
NO_PREFIX_CACHE = "no_prefix_cache"
"""Bench-only switch (not a setting): every answer starts from an empty KV cache, as before
the system prompt's state was kept, for a before/after in the same run."""
LOCAL_CONFIGS: list[dict[str, Any]] = [
    {"local_threads": 2, "local_evidence_tokens": 240},  # the defaults on this machine
    {"local_threads": 2, "local_evidence_tokens": 0},  # whole passages (evidence_tokens)
    {"local_threads": 2, "local_evidence_tokens": 0, NO_PREFIX_CACHE: True},  # the old path
    {"local_threads": 1, "local_evidence_tokens": 240},
]
"""Each configuration answers one warm-up question first (untimed): the model's KV cache then
holds the system prompt, as it does in a running server after its first answer."""


def load_questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable") and r.get("lang") == "en"][:limit]


def time_answers(assistant: Any, backend: str, questions: list[str]) -> list[dict[str, Any]]:
    from assistant.answer import Answer

    rows = []
    for q in questions:
        start = time.perf_counter()
        first: float | None = None
        answer: Answer | None = None
        for item in assistant.stream(q, backend=backend):
            if isinstance(item, Answer):
                answer = item
            elif first is None:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
        assert answer is not None
        t = answer.timings
        decode_s = t.generate_s - (t.first_token_s or 0.0)
        tokens_out = getattr(answer, "tokens_out", 0) or 0
        rows.append(
            {
                "question": q,
                "backend": answer.backend,
                "refused": answer.refused,
                "first_output_s": round(first if first is not None else total, 3),
                "first_token_s": t.first_token_s,
                "retrieve_s": round(t.retrieve_s, 3),
                "generate_s": round(t.generate_s, 3),
                "total_s": round(total, 3),
                "tokens_in": getattr(answer, "tokens_in", 0) or 0,
                "tokens_out": tokens_out,
                "tokens_per_s": round(tokens_out / decode_s, 2) if decode_s > 0 else None,
                "loadavg": os.getloadavg()[0],
            }
        )
    return rows


def summarise(label: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(median(vals), 3) if vals else None

    return {
        "config": label,
        "n": len(rows),
        "generated": sum(r["backend"] != "extractive" and not r["refused"] for r in rows),
        "first_output_s": med("first_output_s"),
        "first_token_s": med("first_token_s"),
        "total_s": med("total_s"),
        "tokens_in": med("tokens_in"),
        "tokens_out": med("tokens_out"),
        "tokens_per_s": med("tokens_per_s"),
        "loadavg": med("loadavg"),
    }


def run(
    quick: bool = False,
    source_settings: Any = None,
    n_questions: int | None = None,
    results_dir: Any = None,
) -> dict[str, Any]:
    """Extractive always; the local model (several configurations) in full mode."""
    from assistant.pipeline import Assistant
    from bench.scale import ensure_source

    base = source_settings or ensure_source()
    *questions, warmup = load_questions((n_questions or (2 if quick else 6)) + 1)
    summary: list[dict[str, Any]] = []
    raw: dict[str, list[dict[str, Any]]] = {}
    extractive = Assistant(base)
    time_answers(extractive, "extractive", [warmup])  # warm: models, indexes
    raw["extractive"] = time_answers(extractive, "extractive", questions)
    summary.append(summarise("extractive", raw["extractive"]))
    load_s: dict[str, float] = {}
    if not quick:
        from assistant.backends.local import make_local_generator

        for cfg in LOCAL_CONFIGS:
            settings = base.model_copy(
                update={k: v for k, v in cfg.items() if k != NO_PREFIX_CACHE}
            )
            label = "local " + ", ".join(f"{k}={v}" for k, v in cfg.items())
            t0 = time.perf_counter()
            generator = make_local_generator(settings)
            if cfg.get(NO_PREFIX_CACHE):
                generator = _without_prefix_cache(generator, settings)
            load_s[label] = round(time.perf_counter() - t0, 2)
            assistant = Assistant(settings, extractive.retriever, {"local": generator})
            time_answers(assistant, "local", [warmup])
            raw[label] = time_answers(assistant, "local", questions)
            summary.append(summarise(label, raw[label]))
    data = {"questions": questions, "summary": summary, "raw": raw, "model_load_s": load_s}
    write_results("answer_quick" if quick else "answer", data, results_dir=results_dir)
    if not quick:
        update_benchmarks_md("answer", to_markdown(summary, load_s))
    return data


def _without_prefix_cache(generator: Any, settings: Any) -> Any:
    """A generator over the same loaded model that resets the KV cache before each answer."""
    from dataclasses import replace

    from assistant.backends.local import LocalGenerator

    model = replace(generator.model)  # the same llama and lock, its own prime()
    llama = model.chat_model.client

    def reset(system: str) -> int:
        llama.reset()
        return 0

    model.prime = reset
    return LocalGenerator(model, settings.llm_temperature, settings.llm_max_tokens)


def to_markdown(summary: list[dict[str, Any]], load_s: dict[str, float]) -> str:
    rows = [
        [
            s["config"],
            s["n"],
            s["generated"],
            s["first_output_s"],
            s["first_token_s"] or "-",
            s["total_s"],
            s["tokens_in"] or "-",
            s["tokens_out"] or "-",
            s["tokens_per_s"] or "-",
            s["loadavg"],
        ]
        for s in summary
    ]
    loads = ", ".join(f"{k}: {v} s" for k, v in load_s.items())
    return "\n\n".join(
        [
            "## Answer latency",
            f"`python -m bench answer` on {machine_markdown()}. Medians over the first answerable "
            "English questions of `eval/datasets/answers_dev.jsonl`, shared-corpus store. "
            "*first output*: from the start of `Assistant.stream` to the first text (retrieval "
            "and evidence selection included); *first token*: from the start of generation; "
            "tokens in = prompt (system + sources + question, cl100k). The local model keeps "
            "the system prompt's KV state between answers (evaluated once per process; each "
            "configuration answers one untimed warm-up question first), so the first token "
            "waits only for the sources and the question; `local_evidence_tokens` caps the "
            "sources at the best evidence sentences (0 = whole passages). "
            f"Model (re)load per configuration: {loads or '-'}.",
            markdown_table(
                [
                    "backend / config",
                    "n",
                    "generated",
                    "first output s",
                    "first token s",
                    "total s",
                    "tokens in",
                    "tokens out",
                    "tokens/s",
                    "load avg",
                ],
                rows,
            ),
        ]
    )
