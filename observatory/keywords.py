"""Keywords of a priority or a whole strategy: KeyBERT's method with the project's encoders.

Candidates are 1-3 word phrases that never cross punctuation or a stopword of the text's
language (stopwordsiso has Czech and the other EU languages; English uses scikit-learn's list,
as the ISO English list drops content words such as "information" and "research"). Candidates
are ranked by cosine similarity to the whole text and picked with maximal marginal relevance so
that "food safety" and "safety of food" do not both make the list. English text is embedded
with MiniLM, anything else with the multilingual USE.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

MAX_CANDIDATES = 60
_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*|[^\w\s]", re.UNICODE)


@cache
def stopwords(language: str) -> frozenset[str]:
    """Stopwords of an ISO 639-1 language (English plus the language's own list)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS)
    if language != "en":
        import stopwordsiso

        if stopwordsiso.has_lang(language):
            words |= set(stopwordsiso.stopwords(language))
    return frozenset(words)


def candidates(text: str, language: str = "en", max_words: int = 3) -> list[str]:
    """Candidate phrases in order of first occurrence, most frequent first when over the cap.

    A phrase is a run of content words (letters, at least 3 characters or an acronym), cut at
    punctuation, digits and stopwords; each run yields its 1..max_words-grams.
    """
    stop = stopwords(language)
    runs: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        word = token.strip("-'’")
        is_content = (
            word[:1].isalpha()
            and word.casefold() not in stop
            and (len(word) >= 3 or (word.isupper() and len(word) >= 2))
        )
        if is_content:
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for run in runs:
        for n in range(1, max_words + 1):
            for i in range(len(run) - n + 1):
                phrase = " ".join(run[i : i + n])
                key = phrase.casefold()
                counts[key] += 1
                surface.setdefault(key, phrase)
    keys = list(surface)
    if len(keys) > MAX_CANDIDATES:
        keep = {k for k, _ in counts.most_common(MAX_CANDIDATES)}
        keys = [k for k in keys if k in keep]
    return [surface[k] for k in keys]


def mmr(doc: np.ndarray, cands: np.ndarray, top_n: int, diversity: float = 0.5) -> list[int]:
    """Maximal marginal relevance over unit vectors: relevance to ``doc`` minus redundancy
    with the already chosen candidates, weighted by ``diversity`` (0 = pure relevance)."""
    if len(cands) == 0 or top_n <= 0:
        return []
    relevance = cands @ doc
    chosen = [int(np.argmax(relevance))]
    pairwise = cands @ cands.T
    while len(chosen) < min(top_n, len(cands)):
        rest = [i for i in range(len(cands)) if i not in chosen]
        redundancy = pairwise[np.ix_(rest, chosen)].max(axis=1)
        score = (1 - diversity) * relevance[rest] - diversity * redundancy
        chosen.append(rest[int(np.argmax(score))])
    return chosen


@dataclass
class KeywordExtractor:
    """Keywords per priority (``extract``/``extract_many``) and per strategy (``for_strategy``)."""

    settings: Any
    diversity: float = 0.5

    def _embedder(self, language: str) -> Any:
        from vectorstore.embeddings import full_precision_embedder, multilingual_embedder

        return (
            full_precision_embedder(self.settings)
            if language == "en"
            else multilingual_embedder(self.settings)
        )

    def extract(self, text: str, top_n: int = 8, language: str | None = None) -> list[str]:
        return self.extract_many([text], top_n, [language])[0]

    def extract_many(
        self,
        texts: Sequence[str],
        top_n: int = 8,
        languages: Sequence[str | None] | None = None,
    ) -> list[list[str]]:
        """Keywords of many texts; each encoder embeds all texts and candidates in one call."""
        from assistant.language import detect_language

        langs = [
            lang or detect_language(text)
            for text, lang in zip(texts, languages or [None] * len(texts), strict=True)
        ]
        cands = [candidates(t, lang) for t, lang in zip(texts, langs, strict=True)]
        out: list[list[str]] = [[] for _ in texts]
        for encoder_is_en in (True, False):
            idx = [
                i for i, lang in enumerate(langs) if (lang == "en") == encoder_is_en and cands[i]
            ]
            if not idx:
                continue
            flat = [texts[i] for i in idx] + [c for i in idx for c in cands[i]]
            vecs = np.asarray(
                self._embedder("en" if encoder_is_en else "xx").embed_array(flat),
                dtype=np.float32,
            )
            pos = len(idx)
            for k, i in enumerate(idx):
                block = vecs[pos : pos + len(cands[i])]
                pos += len(cands[i])
                out[i] = [cands[i][j] for j in mmr(vecs[k], block, top_n, self.diversity)]
        return out

    def for_strategy(
        self, priority_texts: Sequence[str], top_n: int = 15, language: str | None = None
    ) -> list[str]:
        """Keywords of a whole strategy: candidates from all its priorities, ranked against
        the mean of the priority vectors so that every priority is represented."""
        from assistant.language import detect_language

        texts = [t for t in priority_texts if t.strip()]
        if not texts:
            return []
        lang = language or detect_language(" ".join(texts)[:2000])
        cands = candidates(". ".join(texts), lang)
        if not cands:
            return []
        vecs = np.asarray(self._embedder(lang).embed_array(texts + cands), dtype=np.float32)
        centre = vecs[: len(texts)].mean(axis=0)
        centre /= float(np.linalg.norm(centre)) or 1.0
        chosen = mmr(centre, vecs[len(texts) :], top_n, self.diversity)
        return [cands[j] for j in chosen]
