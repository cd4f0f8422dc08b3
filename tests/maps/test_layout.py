"""Page layouts: named sizes give their physical size, and group maps use
the space beside the map (no wide empty band at the right)."""

from __future__ import annotations

import numpy as np
import pytest

from stpmap.maps.static.figure import NAMED_SIZES, parse_size


def test_named_sizes_are_physical_sizes():
    assert parse_size("a4-text")[0] == pytest.approx(16 / 2.54)
    assert parse_size("slide") == (13.333, 7.5)
    assert parse_size("A4-Landscape") == pytest.approx((29.7 / 2.54, 21 / 2.54))


def empty_band_share(path, right: float = 0.35) -> float:
    """The share of pixel columns in the right ``right`` of the image that are all near white."""
    from PIL import Image

    px = np.asarray(Image.open(path).convert("L"))
    cols = px[:, int(px.shape[1] * (1 - right)):]
    return float((cols.min(axis=0) > 245).mean())


@pytest.mark.parametrize("size", [None, *NAMED_SIZES])
def test_east_of_england_fills_the_page(atlas_cache, size, tmp_path):
    from PIL import Image

    from stpmap.maps.options import MapOptions
    from stpmap.maps.recipes import write_map

    path = write_map(tmp_path / "east.png", "png", MapOptions(group="East of England", overlay="ccg"), dpi=50, size=size)
    if size is not None:
        w_in = parse_size(size)[0]
        assert Image.open(path).size[0] == pytest.approx(w_in * 50, abs=1)
    assert empty_band_share(path) < 0.3
