"""``s3assist eval ...``: measurement commands (a typer sub-app mounted by ``s3assist.cli``).

Heavy imports happen inside the commands, so ``s3assist --help`` stays fast.
Exit codes: 0 success; 1 error (nothing measured); 3 partial (some variants skipped);
4 regression (`gate`, `compare --fail-on-regression`).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

DATASETS = Path(__file__).resolve().parent / "datasets"
EXIT_PARTIAL = 3
EXIT_REGRESSION = 4

eval_app = typer.Typer(
    no_args_is_help=True,
    help="Measure retrieval and answers against the hand-checked datasets.",
)
console = Console(stderr=True)


CorpusOpt = Annotated[Path, typer.Option(help="Corpus root the gold files are relative to.")]
OutOpt = Annotated[Path | None, typer.Option(help="Output folder (default eval/runs/<timestamp>).")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML/JSON file of settings overrides for this run (e.g. chunk_size = 120); "
        "copied into the run folder as config.json.",
    ),
]


@eval_app.command("retrieval")
def retrieval(
    dataset: Annotated[
        Path,
        typer.Option(
            help="Retrieval dataset (JSONL with page-level gold), or an answer set "
            "(answers_*.jsonl: its answerable questions are the queries)."
        ),
    ] = DATASETS / "retrieval_dev.jsonl",
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    variants: Annotated[
        str,
        typer.Option(
            help="Comma-separated: naive, bm25, dense, multilingual, hybrid, hybrid_rescored, "
            "store (plain chunk-store dense search)."
        ),
    ] = "naive,bm25,dense,multilingual,hybrid,hybrid_rescored",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score retriever variants at page level (hit@k, recall@10, MRR, nDCG@10, latency)."""
    from eval.datasets import DatasetError
    from eval.retrieval import run_retrieval_eval
    from ingest.errors import EmbedderMismatchError

    names = [v.strip() for v in variants.split(",") if v.strip()]
    out_dir = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if not corpus.is_dir():
        _fail(f"corpus folder not found: {corpus}", as_json)
    if not dataset.is_file():
        _fail(f"dataset not found: {dataset}", as_json)
    try:
        settings = _settings(config, out_dir)
        result = run_retrieval_eval(
            settings, dataset, names, out_dir, corpus, quiet=quiet or as_json
        )
    except (DatasetError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    _report(result.out_dir)
    if as_json:
        sys.stdout.write(json.dumps(result.summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.markdown)
        console.print(
            f"written to {result.out_dir}/ (summary.json, per_query.jsonl, retrieval.md, "
            "report.html)"
        )
    if result.skipped:
        raise typer.Exit(EXIT_PARTIAL)


@eval_app.command("answers")
def answers(
    dataset: Annotated[
        Path,
        typer.Option(help="Answer set (JSONL: questions, reference answers, key facts, gold)."),
    ] = DATASETS / "answers_dev.jsonl",
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    backends: Annotated[
        str,
        typer.Option(
            help="Comma-separated: extractive, local, openai, naive (top-4 naive chunks "
            "through the local model with a plain prompt)."
        ),
    ] = "extractive,local,naive",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N questions (after --ids).")
    ] = None,
    ids: Annotated[
        str | None, typer.Option(help="Comma-separated question ids to run (e.g. a001,a087).")
    ] = None,
    rescore: Annotated[
        Path | None,
        typer.Option(
            help="Re-score a finished run folder (key facts, similarity) from its stored "
            "answers instead of running backends."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score answer backends: key facts, similarity, citations (gold pages, ALCE recall and
    precision), refusals, latency and tokens."""
    from eval.answers import rescore_run, run_answer_eval
    from eval.datasets import DatasetError
    from ingest.errors import EmbedderMismatchError

    if rescore is not None:
        if not (rescore / "per_question.jsonl").is_file():
            _fail(f"no per_question.jsonl in {rescore}", as_json)
        try:
            result = rescore_run(_settings(config, None), rescore, dataset)
        except (DatasetError, ValueError, OSError) as exc:
            _fail(str(exc), as_json)
            return
        _print_answers(result, as_json)
        return
    names = [b.strip() for b in backends.split(",") if b.strip()]
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    out_dir = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if not corpus.is_dir():
        _fail(f"corpus folder not found: {corpus}", as_json)
    if not dataset.is_file():
        _fail(f"dataset not found: {dataset}", as_json)
    try:
        result = run_answer_eval(
            _settings(config, out_dir),
            dataset,
            names,
            out_dir,
            corpus,
            limit,
            ids=wanted,
            quiet=quiet or as_json,
        )
    except (DatasetError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    _report(result.out_dir)
    _print_answers(result, as_json)
    if result.skipped:
        raise typer.Exit(EXIT_PARTIAL)


def _settings(config: Path | None, out_dir: Path | None) -> Any:
    """Settings for a run (``--config`` on top of the environment), recorded in ``out_dir``."""
    from eval.config import settings_for, write_config

    settings, overrides = settings_for(config)
    if out_dir is not None:
        write_config(out_dir, overrides)
    return settings


def _report(out_dir: Path) -> None:
    from eval.report import write_report
    from eval.runs import load_run

    write_report([load_run(out_dir)], out_dir)


def _print_answers(result: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.markdown)
        console.print(
            f"written to {result.out_dir}/ (summary.json, per_question.jsonl, answers.md, "
            "report.html)"
        )


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    else:
        console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@eval_app.command("compare")
def compare(
    run_a: Annotated[Path, typer.Argument(help="The earlier run folder (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="The later run folder.")],
    subset: Annotated[str, typer.Option(help="Subset to compare (all, en, non_en, ...).")] = "all",
    noise: Annotated[
        float, typer.Option(min=0.0, help="Metric changes up to this size count as noise.")
    ] = 0.01,
    out: Annotated[
        Path | None, typer.Option(help="Also write compare.md and compare.json into this folder.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 4 when any metric got worse beyond the noise band.")
    ] = False,
    systems: Annotated[
        str | None,
        typer.Option(
            help="Compare system X of A with system Y of B, as X,Y (e.g. extractive,local); "
            "default: every system both runs have."
        ),
    ] = None,
) -> None:
    """What changed between two runs: metric by metric, and which questions got better or worse."""
    from eval.compare import compare_runs, render_comparison
    from eval.runs import RunError, load_run

    pair = None
    if systems:
        names = [s.strip() for s in systems.split(",")]
        if len(names) != 2 or not all(names):
            _fail("--systems takes two names: SYSTEM_OF_A,SYSTEM_OF_B", as_json)
        pair = (names[0], names[1])
    try:
        cmp = compare_runs(
            load_run(run_a), load_run(run_b), subset=subset, noise=noise, systems_ab=pair
        )
    except (RunError, ValueError) as exc:
        _fail(str(exc), as_json)
        return
    markdown = render_comparison(cmp)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(markdown, encoding="utf-8")
        (out / "compare.json").write_text(
            json.dumps(cmp.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if as_json:
        sys.stdout.write(json.dumps(cmp.as_json(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(markdown)
    if fail_on_regression and cmp.regressions:
        raise typer.Exit(EXIT_REGRESSION)


@eval_app.command("report")
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folder(s) to put in one report.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for report.html/report.md (default: the first run).")
    ] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open the report in a browser.")] = False,
) -> None:
    """Write a self-contained HTML report (charts, per-question drill-down) and a markdown
    summary."""
    from eval.report import write_report
    from eval.runs import RunError, load_run

    try:
        loaded = [load_run(r) for r in runs]
    except RunError as exc:
        _fail(str(exc), False)
        return
    path = write_report(loaded, out or runs[0], open_it=open_it)
    console.print(f"report: {path}")


@eval_app.command("gate")
def gate(
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    config: Annotated[
        Path | None, typer.Option(help="Gate config (default eval/gate.toml).")
    ] = None,
    suggest: Annotated[
        float | None,
        typer.Option(help="Also print thresholds this far below the measured values (re-basing)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """The CI regression gate: a fixed slice of the dev sets (extractive backend) against the
    thresholds in eval/gate.toml. Exit 4 on a regression."""
    from eval.gate import GateConfig, run_gate, suggested_bounds
    from s3assist.settings import get_settings

    out_dir = out or Path("eval/runs") / ("gate-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    try:
        gate_config = GateConfig.load(config) if config else GateConfig.load()
        result = run_gate(get_settings(), corpus, out_dir, gate_config, quiet=quiet)
    except (OSError, ValueError, KeyError) as exc:
        _fail(f"gate could not run: {exc}", False)
        return
    sys.stdout.write(result.markdown())
    if suggest is not None:
        sys.stdout.write(json.dumps(suggested_bounds(result, suggest), indent=2) + "\n")
    console.print(f"written to {out_dir}/ (gate.md, gate.json, report.html)")
    if not result.passed:
        raise typer.Exit(EXIT_REGRESSION)


@eval_app.command("all")
def run_all(
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    config: ConfigOpt = None,
    variants: Annotated[
        str, typer.Option(help="Retrieval variants (comma-separated).")
    ] = "naive,hybrid,hybrid_rescored",
    backends: Annotated[
        str, typer.Option(help="Answer backends (comma-separated).")
    ] = "extractive",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N answer questions.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Retrieval, answers (and classification, when its dataset is there) into one run folder
    with one report."""
    from eval.answers import run_answer_eval
    from eval.datasets import DatasetError
    from eval.report import write_report
    from eval.retrieval import run_retrieval_eval
    from eval.runs import load_run
    from ingest.errors import EmbedderMismatchError

    out_dir = out or Path("eval/runs") / ("all-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    names = [v.strip() for v in variants.split(",") if v.strip()]
    backend_names = [b.strip() for b in backends.split(",") if b.strip()]
    try:
        settings = _settings(config, out_dir)
        run_retrieval_eval(
            settings, DATASETS / "retrieval_dev.jsonl", names, out_dir / "retrieval", corpus,
            quiet=quiet,
        )  # fmt: skip
        run_answer_eval(
            settings, DATASETS / "answers_dev.jsonl", backend_names, out_dir / "answers", corpus,
            limit, quiet=quiet,
        )  # fmt: skip
        parts = [out_dir / "retrieval", out_dir / "answers"]
        classify = _classification_runner()
        if classify is not None:
            classify(settings, out_dir / "classification", quiet)
            parts.append(out_dir / "classification")
    except (DatasetError, EmbedderMismatchError, ValueError) as exc:
        _fail(str(exc), False)
        return
    runs = [load_run(p) for p in parts]
    for run in runs:
        write_report([run], run.path)
    path = write_report(runs, out_dir, title="S3 Assistant evaluation (all)")
    sys.stdout.write((out_dir / "report.md").read_text(encoding="utf-8"))
    console.print(f"report: {path}")


@eval_app.command("classify")
def classify(
    dataset: Annotated[
        Path, typer.Option(help="Hand-labelled priorities (JSONL, see its .md).")
    ] = DATASETS / "priorities_labelled.jsonl",
    czech: Annotated[
        Path, typer.Option(help="Czech regional domains JSON with NACE divisions.")
    ] = Path("../shared/corpus/data/cz_nris3_regional_domains_fulltext.json"),
    out: OutOpt = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Refit the classifier's calibration on the dataset and write it to "
            "observatory/data/calibration.json (or S3ASSIST_OBSERVATORY_CALIBRATION) first.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score priority classification (per-field P/R/F1, exact match, NACE division recall@k)
    on the hand-labelled English priorities (5-fold cross-fitted) and the Czech domains."""
    from eval.classification import run_classification_eval
    from observatory.classify import CALIBRATION_FILE
    from s3assist.settings import get_settings

    out_dir = out or Path("eval/runs") / ("classify-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    settings = _settings(config, out_dir) if config else get_settings()
    if not dataset.is_file():
        _fail(f"dataset not found: {dataset}", as_json)
    target = None
    if calibrate:
        target = settings.observatory_calibration or CALIBRATION_FILE
    say = (lambda _m: None) if quiet or as_json else console.print
    try:
        result = run_classification_eval(
            settings, out_dir, dataset, czech if czech.is_file() else None, target, say
        )
    except (ValueError, KeyError, OSError) as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        sys.stdout.write(json.dumps(result.summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.markdown)
        console.print(
            f"written to {result.out_dir}/ (summary.json, per_item.jsonl, classification.md)"
        )


def _classification_runner() -> Any:
    """The observatory's classification runner, when that part is installed."""
    try:
        from eval.classification import run_for_all
    except ImportError:
        return None
    return run_for_all


@eval_app.command("feedback-export")
def feedback_export(
    out: Annotated[Path, typer.Option(help="JSONL file of draft eval cases to write.")] = Path(
        "eval/runs/feedback_cases.jsonl"
    ),
    verdicts: Annotated[
        str, typer.Option(help="Feedback verdicts to export (comma-separated).")
    ] = "incorrect,wrong_evidence",
    check: Annotated[
        Path | None,
        typer.Option(help="Instead: validate a reviewed file as an answer dataset and exit."),
    ] = None,
) -> None:
    """Answers readers marked wrong in the app, as draft eval cases for review (see
    eval/feedback.py); ``--check FILE`` validates reviewed cases before they join a dataset."""
    from eval.datasets import DatasetError
    from eval.feedback import check_reviewed, export_feedback
    from s3assist.settings import get_settings

    if check is not None:
        try:
            n = check_reviewed(check)
        except (DatasetError, OSError, ValueError) as exc:
            _fail(str(exc), False)
            return
        console.print(f"{check}: {n} reviewed case(s) valid; append them to an answer dataset")
        return
    wanted = [v.strip() for v in verdicts.split(",") if v.strip()]
    try:
        n = export_feedback(get_settings(), out, wanted)
    except ValueError as exc:
        _fail(str(exc), False)
        return
    console.print(f"{n} draft case(s) written to {out}")


@eval_app.command("injection")
def injection(
    corpus: CorpusOpt = Path("../shared/corpus"),
    out: OutOpt = None,
    backend: Annotated[
        str, typer.Option(help="Answer backend: extractive, local or openai.")
    ] = "extractive",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json instead of the table.")
    ] = False,
) -> None:
    """Prompt injection: planted documents + real ones; attack success and injected-claim
    citation rates with the injection guard off and on (per_case.jsonl, summary.json)."""
    from eval.injection import run_injection_eval
    from s3assist.settings import get_settings

    if not corpus.is_dir():
        _fail(f"corpus folder not found: {corpus}", as_json)
    out_dir = out or Path("eval/runs") / f"injection-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    summary = run_injection_eval(get_settings(), corpus, out_dir, backend=backend)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    lines = ["| guard | cases | attack success | injected claim cited | planted cited |"]
    lines.append("|---|---|---|---|---|")
    for key in ("guard_off", "guard_on"):
        for group, m in summary.get(key, {}).items():
            lines.append(
                f"| {key[6:]} ({group}) | {m['cases']} | {m['attack_success_rate']:.0%} | "
                f"{m['injected_claim_citation_rate']:.0%} | {m['planted_cited_rate']:.0%} |"
            )
    sys.stdout.write("\n".join(lines) + "\n")
    console.print(f"written to {out_dir}/ (summary.json, per_case.jsonl)")
