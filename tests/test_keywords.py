"""Keyword extraction: candidate phrases per language, MMR, real English and Czech texts."""

from __future__ import annotations

import numpy as np
import pytest

from observatory import keywords as kw
from s3assist.settings import Settings


def test_candidates_cut_at_stopwords_and_punctuation() -> None:
    cands = kw.candidates("Food safety and security in the food chain, bio-based economy.")
    assert "Food safety" in cands and "food chain" in cands and "bio-based economy" in cands
    assert not any(" and " in c or " the " in c or "," in c for c in cands)
    assert "safety security" not in cands  # never joined across a stopword


def test_czech_candidates_use_czech_stopwords_not_only_english() -> None:
    text = "Výroba strojů a zařízení pro zemědělství a lesnictví"
    cands = kw.candidates(text, "cs")
    assert "Výroba strojů" in cands and "zemědělství" in cands
    assert not any(c.split()[0] in {"a", "pro"} for c in cands)
    assert "pro" in kw.stopwords("cs") and "pro" not in kw.stopwords("en")


def test_candidates_keep_acronyms_and_cap_count() -> None:
    assert "ICT" in kw.candidates("ICT in industry")
    long_text = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26)}x" for i in range(300))
    assert len(kw.candidates(long_text.replace("0", ""))) <= kw.MAX_CANDIDATES


def test_mmr_prefers_relevant_then_diverse() -> None:
    doc = np.array([1.0, 0.0, 0.0])
    cands = np.array([[1.0, 0.0, 0.0], [0.99, 0.141, 0.0], [0.7, 0.0, 0.714]])
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    assert kw.mmr(doc, cands, 2, diversity=0.0) == [0, 1]
    assert kw.mmr(doc, cands, 2, diversity=0.7) == [0, 2]  # the near-duplicate waits
    assert kw.mmr(doc, cands[:0], 3) == []


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    return kw.KeywordExtractor(Settings(data_dir=tmp_path_factory.mktemp("kw") / "data"))


@pytest.mark.slow
def test_english_and_czech_priorities(extractor) -> None:
    english = (
        "Water Technology. Strong growth over the past five years. Wetsus leading international "
        "knowledge institute for water treatment and membrane technology."
    )
    czech = (
        "Pokročilé zemědělství a lesnictví: Rostlinná výroba, šlechtění ovocných odrůd, ochrana "
        "genofondu rostlin a lesnictví"
    )
    en_kws, cs_kws = extractor.extract_many([english, czech], top_n=5, languages=["en", "cs"])
    assert 1 <= len(en_kws) <= 5 and 1 <= len(cs_kws) <= 5
    for text, words in ((english, en_kws), (czech, cs_kws)):
        assert all(w in text for w in words)  # phrases of the text itself
        assert len({w.casefold() for w in words}) == len(words)
    assert any("water" in w.casefold() or "membrane" in w.casefold() for w in en_kws)


@pytest.mark.slow
def test_strategy_keywords_cover_its_priorities(extractor) -> None:
    priorities = [
        "Agrifood: starches, seed potatoes and dairy products",
        "Healthy Ageing: healthcare chain, healthy lifestyle",
        "Water Technology: water treatment, Water Alliance",
    ]
    words = extractor.for_strategy(priorities, top_n=8)
    assert 3 <= len(words) <= 8
    assert extractor.for_strategy([]) == []
