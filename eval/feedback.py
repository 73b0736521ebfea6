"""Answers readers marked wrong in the app → draft eval cases a reviewer completes.

A draft is a line of the answer-dataset format (see ``eval/datasets/answers_dev.md``) with what
the reader saw kept under ``feedback`` and the fields only a person can fill left empty
(``answerable`` null, no key facts, no gold pages). The answer loader refuses drafts, so a case
cannot enter a dataset unreviewed; ``check_reviewed`` runs the same loader on the edited file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from app.feedback import VERDICTS, FeedbackStore
from assistant.language import detect_language
from eval.datasets import load_answer_dataset
from s3assist.settings import Settings


def export_feedback(settings: Settings, out: Path, verdicts: list[str]) -> int:
    """Write one draft per feedback row with one of ``verdicts``; return how many."""
    unknown = [v for v in verdicts if v not in VERDICTS]
    if unknown or not verdicts:
        raise ValueError(f"unknown verdict(s) {unknown or '(none)'}; one of {', '.join(VERDICTS)}")
    if not settings.app_db.is_file():
        raise ValueError(f"no feedback database at {settings.app_db}")
    rows = [f for f in FeedbackStore(settings.app_db).all() if f.verdict in verdicts]
    out.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    written = 0
    with out.open("w", encoding="utf-8") as fh:
        for item in rows:
            key = " ".join(item.question.lower().split())
            if key in seen:  # the same question reported twice is one case to review
                continue
            seen.add(key)
            draft: dict[str, object] = {
                "id": f"fb{item.id:05d}",
                "question": item.question,
                "lang": detect_language(item.question),
                "answerable": None,
                "reference_answer": "",
                "key_facts": [],
                "gold": [],
                "topic": "",
                "status": "needs_review",
                "feedback": {
                    "verdict": item.verdict,
                    "comment": item.comment,
                    "answer": item.answer,
                    "sources": item.sources,
                    "backend": item.backend,
                    "settings_hash": item.settings_hash,
                    "reported_at": datetime.fromtimestamp(item.created_at, UTC).isoformat(
                        timespec="seconds"
                    ),
                },
            }
            fh.write(json.dumps(draft, ensure_ascii=False) + "\n")
            written += 1
    return written


def check_reviewed(path: Path) -> int:
    """Validate reviewed cases with the dataset loader; a case still marked for review fails."""
    pending = [
        json.loads(line)["id"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("status") == "needs_review"
    ]
    if pending:
        raise ValueError(f"still marked needs_review: {', '.join(pending)}")
    return len(load_answer_dataset(path))
