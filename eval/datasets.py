"""Load and validate the hand-checked JSONL datasets in ``eval/datasets/`` into dataclasses.

Every record is checked when it is read (fields, types, unique ids, 1-based pages), and
:func:`check_gold_in_corpus` checks the gold pages against the corpus itself (file exists, page
within the PDF's pypdf page count, page 1 for the non-paginated text files). A dataset that
fails either check raises :class:`DatasetError` listing every problem with its line number:
scoring against gold that points nowhere would silently read as a retrieval miss.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETRIEVAL_KINDS = ("question", "phrase")
# Files that are not paginated: the whole file is page 1 (as the ingest loaders number them).
PAGINATED_SUFFIXES = (".pdf",)


class DatasetError(ValueError):
    """The dataset file is malformed or its gold does not match the corpus."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path}: {len(problems)} problem(s):\n  {shown}{more}")


@dataclass(frozen=True)
class GoldPage:
    """One relevant page: ``file`` relative to the corpus root, ``page`` 1-based physical."""

    file: str
    page: int

    @property
    def page_id(self) -> str:
        """The page id the metrics use: ``"file#page"``."""
        return page_id(self.file, self.page)


def page_id(file: str, page: int) -> str:
    return f"{file}#{page}"


@dataclass(frozen=True)
class RetrievalQuery:
    id: str
    query: str
    lang: str
    kind: str
    paraphrased: bool | None
    """None: the dataset does not say (answer sets used for retrieval)."""
    gold: tuple[GoldPage, ...]
    note: str = ""

    @property
    def gold_ids(self) -> list[str]:
        return [g.page_id for g in self.gold]


@dataclass(frozen=True)
class AnswerQuery:
    id: str
    question: str
    lang: str
    answerable: bool
    reference_answer: str
    key_facts: tuple[str, ...]
    gold: tuple[GoldPage, ...]
    topic: str


def _read_jsonl(path: Path, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {lineno}: not JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {lineno}: not a JSON object")
                continue
            rows.append((lineno, obj))
    return rows


def _field(
    obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, problems: list[str]
) -> Any:
    if name not in obj:
        problems.append(f"{where}: missing field '{name}'")
        return None
    value = obj[name]
    # bool is an int subclass: never accept it where a number is wanted, or vice versa
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        problems.append(f"{where}: field '{name}' must be {kind}, got {value!r}")
        return None
    if not isinstance(value, kind):
        problems.append(f"{where}: field '{name}' has the wrong type ({type(value).__name__})")
        return None
    return value


def _gold(value: Any, where: str, problems: list[str], allow_empty: bool) -> tuple[GoldPage, ...]:
    if not isinstance(value, list):
        return ()
    if not value and not allow_empty:
        problems.append(f"{where}: 'gold' is empty")
    pages: list[GoldPage] = []
    for i, g in enumerate(value):
        gw = f"{where} gold[{i}]"
        if not isinstance(g, dict):
            problems.append(f"{gw}: not an object")
            continue
        file = _field(g, "file", str, gw, problems)
        page = _field(g, "page", int, gw, problems)
        if file is None or page is None:
            continue
        if not file or file.startswith("/") or ".." in Path(file).parts:
            problems.append(f"{gw}: file must be a path relative to the corpus root: {file!r}")
            continue
        if page < 1:
            problems.append(f"{gw}: page must be >= 1 (1-based physical page), got {page}")
            continue
        gp = GoldPage(file, page)
        if gp in pages:
            problems.append(f"{gw}: duplicate gold page {gp.page_id}")
            continue
        pages.append(gp)
    return tuple(pages)


def _check_ids(rows: Iterable[tuple[int, str | None]], problems: list[str]) -> None:
    seen: dict[str, int] = {}
    for lineno, id_ in rows:
        if id_ is None:
            continue
        if id_ in seen:
            problems.append(f"line {lineno}: duplicate id {id_!r} (first on line {seen[id_]})")
        else:
            seen[id_] = lineno


def load_retrieval_dataset(path: Path, corpus_root: Path | None = None) -> list[RetrievalQuery]:
    """Read ``retrieval_*.jsonl``; with ``corpus_root``, also check every gold page exists."""
    path = Path(path)
    problems: list[str] = []
    queries: list[RetrievalQuery] = []
    ids: list[tuple[int, str | None]] = []
    for lineno, obj in _read_jsonl(path, problems):
        where = f"line {lineno}"
        id_ = _field(obj, "id", str, where, problems)
        ids.append((lineno, id_))
        query = _field(obj, "query", str, where, problems)
        lang = _field(obj, "lang", str, where, problems)
        kind = _field(obj, "kind", str, where, problems)
        paraphrased = _field(obj, "paraphrased", bool, where, problems)
        note = obj.get("note", "")
        gold = _gold(obj.get("gold"), where, problems, allow_empty=False)
        if "gold" not in obj or not isinstance(obj.get("gold"), list):
            problems.append(f"{where}: 'gold' must be a list of {{file, page}}")
        if query is not None and not query.strip():
            problems.append(f"{where}: empty query")
        if lang is not None and not lang.strip():
            problems.append(f"{where}: empty lang")
        if kind is not None and kind not in RETRIEVAL_KINDS:
            problems.append(f"{where}: kind must be one of {RETRIEVAL_KINDS}, got {kind!r}")
        if None in (id_, query, lang, kind, paraphrased) or not gold:
            continue
        queries.append(RetrievalQuery(id_, query, lang, kind, paraphrased, gold, str(note or "")))
    _check_ids(ids, problems)
    if not problems and not queries:
        problems.append("no records")
    if not problems and corpus_root is not None:
        problems = check_gold_in_corpus(((q.id, q.gold) for q in queries), corpus_root)
    if problems:
        raise DatasetError(path, problems)
    return queries


def load_answer_dataset(path: Path, corpus_root: Path | None = None) -> list[AnswerQuery]:
    """Read ``answers_*.jsonl`` (answerable records need gold; unanswerable ones have none)."""
    path = Path(path)
    problems: list[str] = []
    records: list[AnswerQuery] = []
    ids: list[tuple[int, str | None]] = []
    for lineno, obj in _read_jsonl(path, problems):
        where = f"line {lineno}"
        id_ = _field(obj, "id", str, where, problems)
        ids.append((lineno, id_))
        question = _field(obj, "question", str, where, problems)
        lang = _field(obj, "lang", str, where, problems)
        answerable = _field(obj, "answerable", bool, where, problems)
        reference = _field(obj, "reference_answer", str, where, problems)
        facts = _field(obj, "key_facts", list, where, problems)
        topic = _field(obj, "topic", str, where, problems)
        gold = _gold(obj.get("gold"), where, problems, allow_empty=not answerable)
        if facts is not None and not all(isinstance(f, str) for f in facts):
            problems.append(f"{where}: key_facts must be strings")
            facts = None
        if answerable is False and (gold or facts or reference):
            problems.append(f"{where}: an unanswerable record has gold, key_facts or an answer")
        if None in (id_, question, lang, answerable, reference, facts, topic):
            continue
        assert facts is not None
        records.append(
            AnswerQuery(id_, question, lang, answerable, reference, tuple(facts), gold, topic)
        )
    _check_ids(ids, problems)
    if not problems and not records:
        problems.append("no records")
    if not problems and corpus_root is not None:
        problems = check_gold_in_corpus(((r.id, r.gold) for r in records), corpus_root)
    if problems:
        raise DatasetError(path, problems)
    return records


def is_answer_dataset(path: Path) -> bool:
    """Whether the JSONL holds answer records (``question``/``answerable``) not retrieval ones."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(obj, dict) and "question" in obj and "answerable" in obj
    return False


def answers_as_retrieval(records: Iterable[AnswerQuery]) -> list[RetrievalQuery]:
    """Answerable answer records as retrieval queries (question -> query, same gold pages).

    Unanswerable records (no gold) are left out: they cannot be scored for retrieval. Answer
    sets do not mark paraphrase, so ``paraphrased`` is None; ``kind`` is "question".
    """
    return [
        RetrievalQuery(r.id, r.question, r.lang, "question", None, r.gold, f"topic: {r.topic}")
        for r in records
        if r.answerable and r.gold
    ]


def load_queries(path: Path, corpus_root: Path | None = None) -> list[RetrievalQuery]:
    """Retrieval queries from a retrieval set or (its answerable records) an answer set."""
    if is_answer_dataset(path):
        queries = answers_as_retrieval(load_answer_dataset(path, corpus_root=corpus_root))
        if not queries:
            raise DatasetError(Path(path), ["no answerable records with gold pages"])
        return queries
    return load_retrieval_dataset(path, corpus_root=corpus_root)


def pdf_page_count(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def check_gold_in_corpus(
    items: Iterable[tuple[str, tuple[GoldPage, ...]]], corpus_root: Path
) -> list[str]:
    """Problems with gold pages: missing files, pages beyond the file's page count."""
    root = Path(corpus_root)
    counts: dict[str, int | None] = {}
    problems: list[str] = []
    for id_, gold in items:
        for g in gold:
            if g.file not in counts:
                path = root / g.file
                if not path.is_file():
                    counts[g.file] = None
                elif path.suffix.lower() in PAGINATED_SUFFIXES:
                    try:
                        counts[g.file] = pdf_page_count(path)
                    except Exception as exc:  # unreadable PDF: report, do not crash
                        problems.append(f"{g.file}: cannot count pages ({exc})")
                        counts[g.file] = -1
                else:
                    counts[g.file] = 1
            n = counts[g.file]
            if n == -1:
                continue
            if n is None:
                problems.append(f"{id_}: gold file {g.file} not found under {root}")
            elif g.page > n:
                problems.append(f"{id_}: gold page {g.page_id} beyond the file's {n} page(s)")
    return problems
