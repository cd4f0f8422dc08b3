"""The hex layout generator on made-up maps whose best layout is known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stpmap.errors import ChoiceError, InputError
from stpmap.maps import hexlayout as H


def grid(width: int, height: int, layout: str = "odd-r"):
    """Cells of a width x height block, their centres and their hex-neighbour pairs."""
    cells = [(q, r) for r in range(height) for q in range(width)]
    pairs = [(a, b) for a, b in itertools.combinations(range(len(cells)), 2) if H.are_neighbours(cells[a], cells[b], layout)]
    return cells, H.centres(cells, layout), pairs


def relative(cells, layout="odd-r"):
    """Axial cells relative to the first one: the layout up to a translation."""
    ax = [H.offset_to_axial(q, r, layout) for q, r in cells]
    return [(x - ax[0][0], z - ax[0][1]) for x, z in ax]


# ------------------------------------------------------------ coordinates


@pytest.mark.parametrize("layout", H.LAYOUTS)
def test_offset_and_axial_coordinates_round_trip(layout):
    for q, r in itertools.product(range(-5, 6), repeat=2):
        assert H.axial_to_offset(*H.offset_to_axial(q, r, layout), layout) == (q, r)


@pytest.mark.parametrize("layout", H.LAYOUTS)
def test_hex_neighbours_are_the_cells_one_unit_away(layout):
    cells = [(q, r) for q in range(-3, 4) for r in range(-3, 4)]
    xy = H.centres(cells, layout)
    for i, c in enumerate(cells):
        d = np.hypot(*(xy - xy[i]).T)
        near = {cells[j] for j in np.flatnonzero(np.isclose(d, 1.0))}
        inside = {n for n in H.hex_neighbours(*c, layout) if n in set(cells)}
        assert near == inside
        assert (d[d > 1e-9] >= 1 - 1e-9).all()  # nothing closer than a neighbour


def test_odd_r_shifts_odd_rows_right_and_r_grows_upwards():
    # HexJSON's odd-r: odd rows are shifted right by half a hex; rows are drawn upwards
    (x0, y0), (x1, y1) = H.centres([(0, 0), (0, 1)], "odd-r")
    assert x1 - x0 == pytest.approx(0.5) and y1 > y0
    assert H.are_neighbours((0, 1), (1, 0), "odd-r") and not H.are_neighbours((0, 1), (-1, 0), "odd-r")
    assert H.are_neighbours((0, 2), (-1, 1), "odd-r") and not H.are_neighbours((0, 2), (1, 1), "odd-r")


def test_unknown_layout_is_a_choice_error():
    with pytest.raises(ChoiceError, match="odd-r"):
        H.hex_neighbours(0, 0, "odd-x")


# ------------------------------------------------------------ quality measures


def test_recall_and_false_neighbours():
    cells = [(0, 0), (1, 0), (3, 0)]
    assert H.recall(cells, [(0, 1), (1, 2)]) == 0.5
    assert H.recall(cells, []) == 1.0
    assert H.false_neighbours(cells, []) == 1
    assert H.false_neighbours(cells, [(0, 1)]) == 0


# ------------------------------------------------------------ the generator


def test_a_map_that_is_already_a_hex_grid_is_found_whole():
    cells, xy, pairs = grid(6, 5)
    out = H.layout(xy * 1000 + 500_000, pairs, seed=3)  # metres, far from the origin
    assert H.recall(out, pairs) == 1.0
    assert relative(out) == relative(cells)  # the very same arrangement


def test_a_jittered_and_tilted_grid_is_untangled():
    cells, xy, pairs = grid(5, 5)
    rng = np.random.default_rng(0)
    angle = math.radians(8)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    noisy = xy @ rot.T + rng.uniform(-0.3, 0.3, xy.shape)
    out = H.layout(noisy, pairs, seed=1)
    assert H.recall(out, pairs) == 1.0


def test_a_flower_keeps_every_petal_around_its_centre():
    ring = [(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in range(0, 360, 60)]
    pts = [(0.0, 0.0), *ring]
    pairs = [(0, k) for k in range(1, 7)] + [(k, k % 6 + 1) for k in range(1, 7)]
    out = H.layout(pts, pairs, seed=0)
    assert H.recall(out, pairs) == 1.0
    # and the petals keep their compass points: the eastern one stays east of the centre
    xy = H.centres(out)
    assert xy[1, 0] > xy[0, 0] and abs(xy[1, 1] - xy[0, 1]) < 1e-9


def test_every_area_gets_its_own_cell_and_rows_keep_their_parity():
    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 10, (40, 2))
    pairs = [(a, b) for a, b in itertools.combinations(range(40), 2) if np.hypot(*(pts[a] - pts[b])) < 2.2]
    out = H.layout(pts, pairs, seed=2, steps=20_000)
    assert len(out) == 40 and len(set(out)) == 40
    assert min(q for q, _ in out) == 0 and min(r for _, r in out) in (0, 1)
    assert all(isinstance(v, int) for c in out for v in c)


def test_same_seed_same_layout():
    cells, xy, pairs = grid(5, 4)
    rng = np.random.default_rng(9)
    noisy = xy + rng.uniform(-0.45, 0.45, xy.shape)
    a = H.layout(noisy, pairs, seed=11, steps=30_000)
    b = H.layout(noisy, pairs, seed=11, steps=30_000)
    assert a == b


@pytest.mark.parametrize("layout", H.LAYOUTS)
def test_north_stays_up_and_east_stays_right_in_every_layout(layout):
    # an L-shaped map: a column running north, then a row running east
    pts = [(0.0, float(y)) for y in range(6)] + [(float(x), 0.0) for x in range(1, 5)]
    pairs = [(k, k + 1) for k in range(5)] + [(0, 6)] + [(k, k + 1) for k in range(6, 9)]
    out = H.layout(pts, pairs, seed=0, layout=layout)
    assert H.recall(out, pairs, layout) == 1.0
    xy = H.centres(out, layout)
    assert xy[:6, 1].argmax() == 5 and xy[5, 1] - xy[0, 1] > 3.5  # the column stands upright
    assert xy[9, 0] - xy[0, 0] > 3 and abs(xy[9, 1] - xy[0, 1]) < 1  # the row lies flat


def test_the_energy_bookkeeping_of_moves_and_swaps_is_exact():
    # the annealer's incremental energy change must equal the change of the whole
    rng = np.random.default_rng(4)
    pts = rng.uniform(0, 6, (30, 2))
    pairs = [(a, b) for a, b in itertools.combinations(range(30), 2) if np.hypot(*(pts[a] - pts[b])) < 1.8]
    neighbours = [set() for _ in pts]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    targets = H.scaled_targets(pts, pairs)
    state = H._Annealer(H._assign(targets), targets, H._links(pts, neighbours), 0.07, 0.3, 0.4, 0.13)
    swaps = 0
    for _ in range(3000):
        i = int(rng.integers(30))
        c = state.cell[int(rng.integers(30))] + H._STEPS[int(rng.integers(6))]
        if c == state.cell[i]:
            continue
        swaps += c in state.occ
        before = state.energy()
        d, a = state.delta(i, c)
        assert state.energy() - before == pytest.approx(d, abs=1e-9)
        if rng.random() < 0.5:
            state.undo(i, a)
            assert state.energy() == pytest.approx(before, abs=1e-9)
    assert swaps > 100  # swaps, including swaps of neighbours, were exercised


def test_a_piece_cut_off_is_slid_back_whole_and_descent_never_cuts_one_off():
    cells, xy, pairs = grid(5, 4)
    neighbours = [set() for _ in cells]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    targets = H.scaled_targets(xy, pairs)
    start = H._assign(targets)
    away = [c - 6 * H._STEPS[0] if i in (0, 1) else c for i, c in enumerate(start)]  # the first two, far west
    state = H._Annealer(away, targets, H._links(xy, neighbours), 0.3, 0.3, 0.3, 0.0)
    assert len(H._pieces(state.occ)) == 2
    H._attach(state)
    assert len(H._pieces(state.occ)) == 1 and len(set(state.cell)) == len(cells)
    H._descend(state)
    assert len(H._pieces(state.occ)) == 1
    assert H.recall(H._to_offset(state.cell, "odd-r"), pairs) == 1.0


def test_bad_input_is_named():
    with pytest.raises(InputError, match="centroids"):
        H.layout([[0, 0, 0]], [])
    with pytest.raises(InputError, match="centroids"):
        H.layout([[0, float("nan")]], [])
    with pytest.raises(InputError, match="outside 0..1"):
        H.layout([[0, 0], [1, 0]], [(0, 2)])
    assert H.layout([], []) == []
    assert H.layout([[5, 5]], []) == [(0, 0)]
