"""ingest.regions: the NUTS gazetteer behind country/region metadata."""

from __future__ import annotations

import pytest

from ingest.regions import Gazetteer, Region, fold, load_gazetteer
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def _code(gazetteer: Gazetteer, text: str, country: str | None = None) -> str | None:
    region = gazetteer.match_name(text, country)
    return region.nuts_code if region else None


class TestFold:
    def test_case_accents_and_punctuation(self) -> None:
        assert fold("Île-de-France, Düsseldorf!") == "ile de france dusseldorf"

    def test_direction_adjectives_unified(self) -> None:
        assert fold("Southern Ostrobothnia") == "south ostrobothnia"
        assert fold("NORTHERN_Netherlands") == "north netherlands"
        assert fold("Western Netherlands") == "west netherlands"

    def test_file_name_separators(self) -> None:
        assert fold("FI_Helsinki_Uusimaa_scenarios") == "fi helsinki uusimaa scenarios"


class TestRegion:
    def test_territorial_level(self) -> None:
        assert Region("LU", "LU", 0, "Luxembourg", "Luxembourg").territorial_level == "national"
        assert Region("NL1", "NL", 1, "Noord-Nederland", "North").territorial_level == "regional"


class TestGazetteer:
    @pytest.mark.parametrize(
        ("stem", "code", "level"),
        [
            ("FI_South_Ostrobothnia_S3", "FI194", 3),
            ("NL_Northern_Netherlands_RIS3", "NL1", 1),
            ("NL_Western_Netherlands_RIS3", "NL3", 1),
            ("LU_Luxembourg_S3_2014", "LU", 0),
            ("EE_Estonia_S3_Qualitative_Analysis", "EE", 0),
            ("LT_Lithuania_RIS3_Implementation_Programme", "LT", 0),
            ("FI_Helsinki_Uusimaa_scenarios", "FI1B", 2),
        ],
    )
    def test_corpus_file_names(
        self, gazetteer: Gazetteer, stem: str, code: str, level: int
    ) -> None:
        assert (CORPUS / "strategies" / f"{stem}.pdf").is_file()
        for country in (stem[:2], None):
            region = gazetteer.match_name(stem, country)
            assert region is not None, (stem, country)
            assert (region.nuts_code, region.level, region.country) == (code, level, stem[:2])

    def test_all_corpus_strategies_are_covered(self) -> None:
        stems = sorted(p.stem for p in (CORPUS / "strategies").glob("*.pdf"))
        assert stems == [
            "EE_Estonia_S3_Qualitative_Analysis",
            "FI_Helsinki_Uusimaa_scenarios",
            "FI_South_Ostrobothnia_S3",
            "LT_Lithuania_RIS3_Implementation_Programme",
            "LU_Luxembourg_S3_2014",
            "NL_Northern_Netherlands_RIS3",
            "NL_Western_Netherlands_RIS3",
        ]

    def test_region_names(self, gazetteer: Gazetteer) -> None:
        fi194 = gazetteer.by_code["FI194"]
        assert (fi194.name, fi194.name_en) == ("Etelä-Pohjanmaa", "Southern Ostrobothnia")
        assert gazetteer.by_code["NL1"].name_en == "North Netherlands"
        assert gazetteer.by_code["FI1B"].name == "Helsinki-Uusimaa"

    def test_native_names_match(self, gazetteer: Gazetteer) -> None:
        assert _code(gazetteer, "Etelä-Pohjanmaa: maakuntaohjelma") == "FI194"
        assert _code(gazetteer, "Noord-Nederland RIS3") == "NL1"

    def test_longest_name_wins(self, gazetteer: Gazetteer) -> None:
        assert _code(gazetteer, "Ostrobothnia") == "FI195"
        assert _code(gazetteer, "South Ostrobothnia and Ostrobothnia") == "FI194"

    def test_lowest_level_wins_among_equal_names(self, gazetteer: Gazetteer) -> None:
        # "Luxembourg" is the country and the Belgian province BE34.
        assert gazetteer.by_code["BE34"].name_en == "Luxembourg"
        assert _code(gazetteer, "Luxembourg") == "LU"
        assert _code(gazetteer, "Luxembourg", "BE") == "BE34"

    def test_country_filter(self, gazetteer: Gazetteer) -> None:
        assert gazetteer.match_name("South Ostrobothnia", "NL") is None
        assert gazetteer.match_name("Smart specialisation of the Moon") is None

    def test_whole_words_only(self, gazetteer: Gazetteer) -> None:
        # A name inside a longer word is no match.
        assert gazetteer.match_name("xEstoniax") is None
        assert gazetteer.match_name("Luxembourgish") is None

    def test_generic_words_are_not_regions(self, gazetteer: Gazetteer) -> None:
        assert (
            gazetteer.match_name("Clusters for interregional and cross border cooperation") is None
        )

    def test_country_lookup(self, gazetteer: Gazetteer) -> None:
        country = gazetteer.country("fi")
        assert country is not None
        assert (country.nuts_code, country.level, country.name_en) == ("FI", 0, "Finland")
        assert gazetteer.country("XX") is None

    def test_most_mentioned_needs_two_mentions(self, gazetteer: Gazetteer) -> None:
        once = "Innovation in Düsseldorf is growing."
        twice = once + " Düsseldorf hosts several clusters, Uusimaa one."
        assert gazetteer.most_mentioned(once) is None
        region = gazetteer.most_mentioned(twice)
        assert region is not None and region.nuts_code == "DEA1"
        assert gazetteer.most_mentioned(twice, "FI") is None

    def test_load_is_cached(self) -> None:
        assert load_gazetteer() is load_gazetteer()
