"""``python -m bench [ingest|search|answer|all] [--quick]``: run benchmarks, write the results.

Each benchmark is a module with ``run(quick: bool) -> dict`` that writes its own JSON (via
``bench.common.write_results``) and its own BENCHMARKS.md section; adding one is one line in
``BENCHMARKS`` below. Modules are imported only when run, so a missing optional dependency of
one benchmark does not break the others.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

# name -> module with ``run(quick: bool) -> dict``; ``all`` runs them in this order.
BENCHMARKS: dict[str, str] = {
    "ingest": "bench.ingest",
    "search": "bench.search",
    "answer": "bench.answer",
}

app = typer.Typer(add_completion=False, help=__doc__)


def run_benchmark(name: str, quick: bool) -> dict[str, Any]:
    module = importlib.import_module(BENCHMARKS[name])
    result: dict[str, Any] = module.run(quick=quick)
    return result


@app.command()
def main(
    which: Annotated[str, typer.Argument(help="ingest, search, answer or all")] = "all",
    quick: Annotated[
        bool, typer.Option("--quick", help="Small inputs, one repeat: keeps the code working.")
    ] = False,
) -> None:
    """Run one benchmark (or all) and write bench/results/*.json and BENCHMARKS.md."""
    names = list(BENCHMARKS) if which == "all" else [which]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise typer.BadParameter(f"unknown benchmark {unknown[0]!r}; one of {list(BENCHMARKS)}")
    for name in names:
        typer.echo(f"== {name}{' (quick)' if quick else ''}")
        run_benchmark(name, quick)
