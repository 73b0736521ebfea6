"""Helpers every benchmark shares: timing, medians, memory, machine description, output.

Results go to ``bench/results/<name>.json`` (gitignored, the raw figures) and to one named
section of ``BENCHMARKS.md`` (the tables people read), so each benchmark rewrites only its own
section and several can be run separately.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


@dataclass
class Timer:
    """Elapsed wall-clock seconds of a ``with timed() as t:`` block (``t.s``)."""

    s: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    t0 = time.perf_counter()
    try:
        yield timer
    finally:
        timer.s = time.perf_counter() - t0


def median(values: Sequence[float]) -> float:
    """Median of the repeats (0.0 for none): timings here are noisy, means mislead."""
    return float(statistics.median(values)) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def current_rss_mb() -> float:
    """Resident memory now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, Python, key library versions."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    libs = {}
    for name in ("torch", "sentence-transformers", "onnxruntime", "chromadb", "langchain-core"):
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            continue
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gib": round(mem_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": libs,
    }


def machine_markdown(info: dict[str, Any] | None = None) -> str:
    info = info or machine_info()
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB RAM, {info['os']}, "
        f"Python {info['python']}; {libs}"
    )


def write_results(name: str, data: dict[str, Any], results_dir: Path | None = None) -> Path:
    """Write ``data`` (plus the machine and a UTC timestamp) to ``<results_dir>/<name>.json``."""
    out_dir = results_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        **data,
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


_BEGIN = "<!-- bench:{}:begin -->"
_END = "<!-- bench:{}:end -->"


def update_benchmarks_md(section: str, markdown: str, path: Path | None = None) -> Path:
    """Replace the text between this section's markers in BENCHMARKS.md (append if absent).

    Markers are HTML comments, invisible when rendered; the rest of the file is untouched.
    """
    path = path or BENCHMARKS_MD
    begin, end = _BEGIN.format(section), _END.format(section)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
    return path
