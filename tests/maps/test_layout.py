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


# ------------------------------------------------------------ orientation


def page_for(size=None, **given):
    from stpmap.maps.options import MapOptions
    from stpmap.maps.prepare import prepare
    from stpmap.maps.static.figure import new_page

    return new_page(prepare(MapOptions(**given), tolerance=200), size, 50, "DejaVu Sans")


def test_a_wide_selection_gets_landscape_and_a_tall_one_portrait(atlas_cache):
    wide = page_for(footprint="Somerset")  # twice as wide as tall
    tall = page_for(footprint="Derbyshire")  # half as wide again as tall
    assert wide.w_in > 1.4 * wide.h_in and tall.h_in > 1.4 * tall.w_in
    group = page_for(group="East of England")
    assert group.w_in == 10 and group.h_in < group.w_in and group.panel == "right"
    ccgs = page_for(footprint="Derbyshire", layer="ccg")  # with a legend beside the map
    assert ccgs.h_in > ccgs.w_in and ccgs.panel == "right"
    assert page_for().w_in == 10  # the national map keeps its width


def test_a_given_size_wins(atlas_cache, tmp_path):
    from PIL import Image

    from stpmap.maps.options import MapOptions
    from stpmap.maps.recipes import write_map

    page = page_for("a4-landscape", footprint="Derbyshire")
    assert (page.w_in, page.h_in) == pytest.approx((29.7 / 2.54, 21 / 2.54))
    path = write_map(tmp_path / "d.png", "png", MapOptions(footprint="Derbyshire"), dpi=40, size="8x6")
    assert Image.open(path).size == (320, 240)


def test_the_panel_goes_below_a_wide_map_on_a_portrait_page(atlas_cache):
    below = page_for("a4", group="East of England")
    assert below.panel == "below" and below.panel_box[1] + below.panel_box[3] < below.ax.get_position().y0
    beside = page_for("a4", footprint="Frimley Health", layer="ccg")  # 1.7 times as tall as wide
    assert beside.panel == "right"
    assert page_for("a4-landscape", group="East of England").panel == "right"


def blank_runs(path) -> tuple[float, float]:
    """The longest run of all-white rows and of all-white columns, as shares of the height and width."""
    from PIL import Image

    px = np.asarray(Image.open(path).convert("L"))
    out = []
    for blank in (px.min(axis=1) > 245, px.min(axis=0) > 245):
        best = cur = 0
        for b in blank:
            cur = cur + 1 if b else 0
            best = max(best, cur)
        out.append(best / len(blank))
    return out[0], out[1]


@pytest.mark.parametrize("size", [None, *NAMED_SIZES])
def test_group_maps_leave_no_empty_band(atlas_cache, size, tmp_path):
    from stpmap.maps.options import MapOptions
    from stpmap.maps.recipes import write_map

    for vintage, group in ((2017, "East of England"), (2021, "North East and Yorkshire"), (2017, "South West")):
        path = write_map(tmp_path / "g.png", "png", MapOptions(vintage=vintage, group=group), dpi=30, size=size)
        rows, cols = blank_runs(path)
        assert rows < 0.1 and cols < 0.1, (group, rows, cols)


def test_a_long_title_is_made_to_fit(atlas_cache):
    from stpmap.maps.static import map_figure
    from stpmap.maps.options import MapOptions

    fig = map_figure(MapOptions(group="NHS England North (Cumbria and North East)"), size="a4", dpi=50)
    renderer = fig.canvas.get_renderer()
    title = next(t for t in fig.texts if t.get_text().startswith("NHS England North"))
    assert title.get_fontsize() < 15 and title.get_window_extent(renderer).x1 <= fig.bbox.x1


@pytest.mark.parametrize("size", ["a4", "slide"])
def test_key_names_keep_clear_of_the_next_column(atlas_cache, size):
    """A two-column key: every name of the first column ends before the
    second column's numbers begin (names are wrapped by their drawn width)."""
    import stpmap

    fig = stpmap.plot(size=size)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    key = [ax for ax in fig.axes if any(t.get_text() == "Key to numbers" for t in ax.texts)]
    assert len(key) == 1
    head = next(t for t in key[0].texts if t.get_text() == "Key to numbers").get_position()[1]
    texts = [t for t in key[0].texts if t.get_position()[1] < head]  # the key, not the legend's note above it
    right_numbers = [t for t in texts if t.get_position()[0] >= 0.5 and t.get_text().isdigit()]
    left_names = [t for t in texts if t.get_position()[0] < 0.5 and not t.get_text().isdigit()]
    assert right_numbers and left_names, "expected a key in two columns"
    border = min(t.get_window_extent(renderer).x0 for t in right_numbers)
    widest = max(t.get_window_extent(renderer).x1 for t in left_names)
    assert widest < border, (widest, border)
