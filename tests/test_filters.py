"""vectorstore.filters: S3 metadata filters -> Chroma where clauses, and the same in Python."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from vectorstore.filters import (
    LIST_FIELDS,
    SCALAR_FIELDS,
    FilterError,
    build_where,
    matches,
    parse_where_args,
)


class TestBuildWhere:
    def test_scalar_field(self) -> None:
        assert build_where({"region": " Helsinki-Uusimaa "}) == {"region": "Helsinki-Uusimaa"}

    def test_case_normalised_fields(self) -> None:
        assert build_where({"country": "fi"}) == {"country": "FI"}
        assert build_where({"nuts_code": "nl3"}) == {"nuts_code": "NL3"}
        assert build_where({"doc_type": "Strategy"}) == {"doc_type": "strategy"}
        assert build_where({"language": "EN"}) == {"language": "en"}
        assert build_where({"title": "RIS3 Plan"}) == {"title": "RIS3 Plan"}  # as given

    def test_int_fields(self) -> None:
        assert build_where({"year": "2014"}) == {"year": 2014}
        assert build_where({"nuts_level": 0}) == {"nuts_level": 0}
        assert build_where({"page": " 12 "}) == {"page": 12}

    def test_several_values_give_in(self) -> None:
        assert build_where({"country": ["fi", "NL"]}) == {"country": {"$in": ["FI", "NL"]}}
        assert build_where({"year": "2013,2014"}) == {"year": {"$in": [2013, 2014]}}
        assert build_where({"country": ("LU",)}) == {"country": "LU"}

    def test_list_field_contains(self) -> None:
        assert build_where({"s3_topics": "energy"}) == {"s3_topics": {"$contains": "energy"}}
        assert build_where({"nace_sections": "c"}) == {"nace_sections": {"$contains": "C"}}

    def test_list_field_several_values_give_or(self) -> None:
        assert build_where({"ecosystems": ["health", "tourism"]}) == {
            "$or": [
                {"ecosystems": {"$contains": "health"}},
                {"ecosystems": {"$contains": "tourism"}},
            ]
        }

    def test_several_fields_give_and(self) -> None:
        assert build_where({"country": "FI", "year": ["2013", "2014"], "s3_topics": "energy"}) == {
            "$and": [
                {"country": "FI"},
                {"year": {"$in": [2013, 2014]}},
                {"s3_topics": {"$contains": "energy"}},
            ]
        }

    def test_empty_filters(self) -> None:
        assert build_where({}) is None
        assert build_where({"country": None, "year": "", "region": []}) is None
        assert build_where({"country": " , "}) is None
        assert build_where({"country": "", "year": "2014"}) == {"year": 2014}

    def test_unknown_field(self) -> None:
        with pytest.raises(FilterError) as exc:
            build_where({"country": "FI", "colour": "red"})
        message = str(exc.value)
        assert "unknown filter field 'colour'" in message
        for field in (*SCALAR_FIELDS, *LIST_FIELDS):
            assert field in message

    @pytest.mark.parametrize("raw", ["twenty", "2014.5", ["2014", "x"]])
    def test_bad_int(self, raw: Any) -> None:
        with pytest.raises(FilterError, match=r"filter year needs a whole number"):
            build_where({"year": raw})

    def test_filter_error_is_a_value_error(self) -> None:
        assert issubclass(FilterError, ValueError)


class TestParseWhereArgs:
    def test_repeatable_and_comma_lists(self) -> None:
        args = ["country=FI", "year=2013,2014", " country = NL", "title=a=b"]
        assert parse_where_args(args) == {
            "country": ["FI", " NL"],
            "year": ["2013", "2014"],
            "title": ["a=b"],
        }

    def test_empty_values_dropped(self) -> None:
        assert parse_where_args(["country=", "year=2014,,"]) == {"country": [], "year": ["2014"]}

    def test_missing_equals(self) -> None:
        with pytest.raises(FilterError, match=r"--where expects field=value, got 'countryFI'"):
            parse_where_args(["countryFI"])

    def test_round_trip(self) -> None:
        where = build_where(parse_where_args(["country=fi, nl", "doc_type=strategy"]))
        assert where == {"$and": [{"country": {"$in": ["FI", "NL"]}}, {"doc_type": "strategy"}]}
        assert build_where(parse_where_args(["country="])) is None


CHUNKS: dict[str, dict[str, Any]] = {
    "lu": {
        "doc_type": "strategy",
        "country": "LU",
        "nuts_code": "LU",
        "nuts_level": 0,
        "territorial_level": "national",
        "language": "en",
        "year": 2014,
        "page": 3,
        "s3_topics": ["energy", "ict"],
        "nace_sections": ["C", "J"],
    },
    "fi194": {
        "doc_type": "strategy",
        "country": "FI",
        "region": "Southern Ostrobothnia",
        "nuts_code": "FI194",
        "nuts_level": 3,
        "territorial_level": "regional",
        "language": "en",
        "year": 2014,
        "page": 12,
        "s3_topics": ["agrifood"],
    },
    "nl1": {
        "doc_type": "strategy",
        "country": "NL",
        "nuts_code": "NL1",
        "nuts_level": 1,
        "territorial_level": "regional",
        "language": "en",
        "year": 2013,
        "page": 1,
        "s3_topics": ["energy", "water"],
        "ecosystems": ["energy-intensive industries"],
    },
    "guide": {"doc_type": "guidance", "language": "en", "year": 2017, "page": 5},
    "de": {"doc_type": "other", "country": "DE", "language": "de", "page": 2},
}

FILTERS: list[dict[str, Any]] = [
    {"country": "fi"},
    {"country": "FI,NL"},
    {"country": ["LU", "DE"], "language": "EN"},
    {"doc_type": "strategy", "year": "2014"},
    {"year": ["2013", "2017"]},
    {"nuts_level": "0"},
    {"nuts_level": [1, 3], "territorial_level": "Regional"},
    {"s3_topics": "energy"},
    {"s3_topics": ["agrifood", "water"]},
    {"s3_topics": "energy", "country": "NL"},
    {"nace_sections": "c"},
    {"ecosystems": "energy-intensive industries", "year": 2013},
    {"region": "Southern Ostrobothnia"},
    {"page": "2,5"},
    {"language": "fr"},
    {"country": "", "year": None},
]


@pytest.fixture(scope="module")
def collection() -> Iterator[Any]:
    """A real in-memory Chroma collection holding CHUNKS, with fixed vectors."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection("filters_test", embedding_function=None)
    ids = list(CHUNKS)
    col.add(
        ids=ids,
        embeddings=[[float(i == j) for j in range(len(ids))] for i in range(len(ids))],
        metadatas=[CHUNKS[i] for i in ids],
    )
    yield col
    client.delete_collection("filters_test")


class TestMatches:
    @pytest.mark.parametrize("filters", FILTERS, ids=str)
    def test_agrees_with_chroma(self, collection: Any, filters: dict[str, Any]) -> None:
        where = build_where(filters)
        got = collection.get(where=where)["ids"] if where else collection.get()["ids"]
        expected = {cid for cid, meta in CHUNKS.items() if matches(meta, filters)}
        assert set(got) == expected

    @pytest.mark.parametrize(
        ("filters", "ids"),
        [
            ({"country": "fi"}, {"fi194"}),
            ({"country": "FI,NL"}, {"fi194", "nl1"}),
            ({"nuts_level": "0"}, {"lu"}),
            ({"s3_topics": ["agrifood", "water"]}, {"fi194", "nl1"}),
            ({"s3_topics": "energy", "country": "NL"}, {"nl1"}),
            ({"year": ["2013", "2017"]}, {"nl1", "guide"}),
            ({"language": "fr"}, set()),
            ({}, set(CHUNKS)),
        ],
    )
    def test_expected_ids(self, filters: dict[str, Any], ids: set[str]) -> None:
        assert {cid for cid, meta in CHUNKS.items() if matches(meta, filters)} == ids

    def test_missing_list_field_never_matches(self) -> None:
        assert not matches({"country": "FI"}, {"s3_topics": "energy"})
        assert matches({"s3_topics": ["energy"]}, {"s3_topics": ["energy", "x"]})

    def test_bad_int(self) -> None:
        with pytest.raises(FilterError, match="whole number"):
            matches(CHUNKS["lu"], {"year": "soon"})

    def test_unknown_field_raises_like_build_where(self) -> None:
        with pytest.raises(FilterError, match="unknown filter field 'colour'"):
            matches(CHUNKS["lu"], {"colour": "red"})
        # ... even when an earlier filter already rules the chunk out.
        with pytest.raises(FilterError, match="unknown filter field 'colour'"):
            matches(CHUNKS["lu"], {"country": "FI", "colour": "red"})
        with pytest.raises(FilterError, match="whole number"):
            matches(CHUNKS["lu"], {"country": "FI", "year": "soon"})

    def test_all_pairs_of_filters_agree(self, collection: Any) -> None:
        """Combining two filters (as --where does) keeps Python and Chroma in step."""
        for first, second in itertools.combinations(FILTERS[:12], 2):
            if set(first) & set(second):
                continue
            filters = {**first, **second}
            where = build_where(filters)
            got = set(collection.get(where=where)["ids"] if where else CHUNKS)
            assert got == {cid for cid, m in CHUNKS.items() if matches(m, filters)}, filters
