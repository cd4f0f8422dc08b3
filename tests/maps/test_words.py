"""Maps say what each vintage's areas were called, and when they took effect."""

import pytest

from stpmap.maps.options import MapOptions
from stpmap.maps.prepare import prepare
from stpmap.maps.words import as_of, layer_words


@pytest.mark.parametrize("vintage, stp, ccg, when", [
    (2017, "STP footprints", "CCGs", "April 2017"),
    (2020, "STP footprints", "CCGs", "April 2020"),
    (2022, "Integrated Care Boards", "sub-ICB locations", "July 2022"),
])
def test_words_follow_the_registry(vintage, stp, ccg, when):
    assert layer_words("stp", vintage)[1] == stp
    assert layer_words("ccg", vintage) == (ccg[:-1], ccg)
    assert layer_words("lad", vintage) == ("local authority", "local authorities")
    assert as_of(vintage) == when


def test_an_icb_map_is_titled_as_icbs_of_july_2022(atlas_cache):
    md = prepare(MapOptions(vintage=2022), tolerance=500)
    assert md.title == "Integrated Care Boards of England, July 2022"
    assert md.subtitle.startswith("42 Integrated Care Boards, July 2022 boundaries")
    sub = prepare(MapOptions(vintage=2022, layer="ccg", group="London"), tolerance=500)
    assert sub.title == "London: sub-ICB locations, July 2022"
    assert "April" not in sub.subtitle and "CCG" not in sub.subtitle
