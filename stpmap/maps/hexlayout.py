"""Hex cartogram layouts: one hex per area, neighbours kept as hex neighbours.

This module is pure (numpy and scipy, no stpmap data): it takes the areas'
centroids (any planar units, y pointing north) and the pairs of areas that
share a border, and places each area on its own cell of a hexagonal grid so
that

* areas that share a border are hex neighbours as often as possible, and
* each hex stays near its area's scaled geographic position, so that the
  whole reads as the map it comes from (north up).

:func:`layout` does it in five steps:

1. scale the centroids so that areas that share a border are, by the
   median, one hex apart;
2. relax them (:func:`relax`): crowded areas (London) are pushed apart and
   bordering areas drawn to one hex apart, each held by a weak spring to
   its geographic position; these are the areas' *targets*;
3. assign the areas to the nearest free cells as a whole (Hungarian
   assignment, :func:`scipy.optimize.linear_sum_assignment`);
4. improve the layout by simulated annealing (moves to empty cells and
   swaps, drawn from a seeded random generator so the result is
   reproducible; several independent runs, the best kept). The score
   counts the bordering pairs kept as hex neighbours, less a cost for each
   area's distance from its target, for each bordering pair whose hex step
   points away from its bearing on the map, and for holes in the layout;
5. make the layout one piece (a group of areas cut off from the rest, such
   as a peninsula, is slid back whole until it touches), then improve it by
   greedy descent, never cutting a piece off again.

Coordinates. Internally cells are *axial* coordinates ``(x, z)`` of a
pointy-top grid whose neighbours are one unit apart; results are *offset*
coordinates ``(q, r)`` (column, row) in one of the four HexJSON layouts,
``odd-r`` by default, with ``r`` growing northwards as in Open Innovations'
HexJSON tools. Two cells are neighbours in the same way whichever way up rows
are drawn, so :func:`recall` reads any HexJSON layout.

>>> cells = layout([(0, 0), (1, 0), (0.5, 0.87)], [(0, 1), (1, 2), (0, 2)], seed=1)
>>> recall(cells, [(0, 1), (1, 2), (0, 2)])
1.0
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import numpy as np

#: The HexJSON layouts: rows (``-r``, pointy-top hexes) or columns (``-q``,
#: flat-top hexes), with odd or even ones shifted by half a hex.
LAYOUTS = ("odd-r", "even-r", "odd-q", "even-q")

#: Bumped whenever :func:`layout` places areas differently for the same input,
#: so that cached layouts are rebuilt.
ALGORITHM_VERSION = 1

SQRT3 = math.sqrt(3.0)

# Axial neighbour directions; two cells are neighbours when they differ by one.
_DIRECTIONS = ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1))


# ------------------------------------------------------------ coordinates


def _check_layout(name: str) -> str:
    if name not in LAYOUTS:
        from stpmap.errors import ChoiceError

        raise ChoiceError("hex layout", name, LAYOUTS)
    return name


def offset_to_axial(q: int, r: int, layout: str = "odd-r") -> tuple[int, int]:
    """Offset ``(q, r)`` of a HexJSON layout to axial ``(x, z)``.

    >>> offset_to_axial(3, 1, "odd-r")
    (3, 1)
    >>> offset_to_axial(3, 2, "odd-r")
    (2, 2)
    """
    q, r = int(q), int(r)
    _check_layout(layout)
    if layout == "odd-r":
        return q - (r - (r & 1)) // 2, r
    if layout == "even-r":
        return q - (r + (r & 1)) // 2, r
    if layout == "odd-q":
        return q, r - (q - (q & 1)) // 2
    return q, r - (q + (q & 1)) // 2


def axial_to_offset(x: int, z: int, layout: str = "odd-r") -> tuple[int, int]:
    """Axial ``(x, z)`` to offset ``(q, r)`` of a HexJSON layout (inverse of
    :func:`offset_to_axial`)."""
    x, z = int(x), int(z)
    _check_layout(layout)
    if layout == "odd-r":
        return x + (z - (z & 1)) // 2, z
    if layout == "even-r":
        return x + (z + (z & 1)) // 2, z
    if layout == "odd-q":
        return x, z + (x - (x & 1)) // 2
    return x, z + (x + (x & 1)) // 2


def hex_distance(a: tuple[int, int], b: tuple[int, int], layout: str = "odd-r") -> int:
    """Number of steps between two cells given in offset coordinates."""
    ax, az = offset_to_axial(*a, layout)
    bx, bz = offset_to_axial(*b, layout)
    dx, dz = ax - bx, az - bz
    return (abs(dx) + abs(dz) + abs(dx + dz)) // 2


def are_neighbours(a: tuple[int, int], b: tuple[int, int], layout: str = "odd-r") -> bool:
    """Whether two cells (offset coordinates) are hex neighbours.

    >>> are_neighbours((0, 0), (0, 1), "odd-r"), are_neighbours((0, 1), (0, 2), "odd-r")
    (True, False)
    """
    return hex_distance(a, b, layout) == 1


def hex_neighbours(q: int, r: int, layout: str = "odd-r") -> list[tuple[int, int]]:
    """The six cells around ``(q, r)``, in offset coordinates of ``layout``."""
    x, z = offset_to_axial(q, r, layout)
    return [axial_to_offset(x + dx, z + dz, layout) for dx, dz in _DIRECTIONS]


def centres(cells: Iterable[tuple[int, int]], layout: str = "odd-r") -> np.ndarray:
    """Centres of cells in a plane where neighbours are one unit apart and
    ``r`` (or, for ``-q`` layouts, ``q``'s rows) grows upwards: an ``(n, 2)``
    array. Pointy-top hexes for ``-r`` layouts, flat-top for ``-q``."""
    out = []
    for q, r in cells:
        x, z = offset_to_axial(q, r, layout)
        if layout.endswith("-r"):
            out.append((x + z / 2, z * SQRT3 / 2))
        else:
            out.append((x * SQRT3 / 2, z + x / 2))
    return np.asarray(out, dtype=float).reshape(-1, 2)


# ------------------------------------------------------------ quality


def recall(cells: Sequence[tuple[int, int]], pairs: Iterable[tuple[int, int]], layout: str = "odd-r") -> float:
    """Share of ``pairs`` (areas that share a border, by index into ``cells``)
    whose cells are hex neighbours; 1.0 when there are no pairs."""
    pairs = list(pairs)
    if not pairs:
        return 1.0
    kept = sum(are_neighbours(cells[a], cells[b], layout) for a, b in pairs)
    return kept / len(pairs)


def false_neighbours(cells: Sequence[tuple[int, int]], pairs: Iterable[tuple[int, int]], layout: str = "odd-r") -> int:
    """Number of pairs of hex neighbours whose areas do not share a border."""
    real = {frozenset(p) for p in pairs}
    where = {tuple(map(int, c)): i for i, c in enumerate(cells)}
    count = 0
    for i, c in enumerate(cells):
        for nb in hex_neighbours(*c, layout):
            j = where.get(nb)
            if j is not None and j > i and frozenset((i, j)) not in real:
                count += 1
    return count


# ------------------------------------------------------------ the generator

# Cells are packed into one int, x * _M + z (shifted to be positive), so that
# a cell's neighbours are the cell plus one of six constant steps.
_M = 1 << 12
_OFF = 1 << 10
_STEPS = tuple(dx * _M + dz for dx, dz in _DIRECTIONS)
_STEPSET = frozenset(_STEPS)


def _pack(x: int, z: int) -> int:
    return (x + _OFF) * _M + (z + _OFF)


def _unpack(key: int) -> tuple[int, int]:
    return key // _M - _OFF, key % _M - _OFF


def _plane(key: int) -> tuple[float, float]:
    x, z = _unpack(key)
    return x + z / 2, z * SQRT3 / 2


def _clean_pairs(pairs, n: int) -> list[tuple[int, int]]:
    out = set()
    for p in pairs:
        a, b = (int(v) for v in p)
        if not (0 <= a < n and 0 <= b < n):
            from stpmap.errors import InputError

            raise InputError(f"Pair {tuple(p)} refers to an area outside 0..{n - 1}: give pairs of indices into the centroids.")
        if a != b:
            out.add((min(a, b), max(a, b)))
    return sorted(out)


def scaled_targets(centroids, pairs) -> np.ndarray:
    """Centroids scaled so that areas that share a border are, by the median
    over the pairs, one hex apart (and centred on the origin)."""
    pts = np.asarray(centroids, dtype=float)
    pts = pts - pts.mean(axis=0)
    if pairs:
        a, b = np.asarray(pairs).T
        unit = float(np.median(np.hypot(*(pts[a] - pts[b]).T)))
    else:  # no borders: space the areas by their typical nearest-neighbour gap
        d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        unit = float(np.median(d.min(axis=1))) if len(pts) > 1 else 1.0
    return pts / (unit if unit > 0 else 1.0)


def relax(targets: np.ndarray, pairs, *, iterations: int = 400, anchor: float = 0.05) -> np.ndarray:
    """Spread crowded areas and draw neighbours together, a little like a
    cartogram that gives every area the same room: areas that share a border
    are pulled or pushed to one hex apart, any two areas closer than one hex
    are pushed apart, and every area is held by a weak spring (``anchor``) to
    its geographic position so that the whole keeps the map's shape.
    Deterministic: no randomness."""
    n = len(targets)
    # a tiny fixed offset separates areas whose centroids coincide
    k = np.arange(n)
    pos = targets + 1e-3 * np.c_[np.cos(k * 2.399963), np.sin(k * 2.399963)]
    a, b = (np.asarray(pairs, dtype=int).reshape(-1, 2).T if pairs else (k[:0], k[:0]))
    eye = np.eye(n, dtype=bool)
    for _ in range(iterations):
        force = anchor * (targets - pos)
        diff = pos[b] - pos[a]
        d = np.maximum(np.hypot(*diff.T), 1e-9)
        pull = ((d - 1) / d)[:, None] * diff * 0.25
        np.add.at(force, a, pull)
        np.add.at(force, b, -pull)
        diff = pos[:, None, :] - pos[None, :, :]
        d = np.hypot(diff[..., 0], diff[..., 1])
        close = (d < 1) & ~eye
        push = np.where(close, (1 - d) / np.where(close, d, 1), 0.0)[..., None] * diff * 0.25
        force += push.sum(axis=1)
        pos = pos + force
    return pos


def _assign(targets: np.ndarray) -> list[int]:
    """The nearest free cell for every area, as a whole (Hungarian assignment
    minimising the summed squared distances)."""
    from scipy.optimize import linear_sum_assignment

    n = len(targets)
    margin = 2 + int(math.sqrt(n))
    zmin = math.floor(targets[:, 1].min() / (SQRT3 / 2)) - margin
    zmax = math.ceil(targets[:, 1].max() / (SQRT3 / 2)) + margin
    keys = []
    for z in range(zmin, zmax + 1):
        xlo = math.floor(targets[:, 0].min() - z / 2) - margin
        xhi = math.ceil(targets[:, 0].max() - z / 2) + margin
        keys.extend(_pack(x, z) for x in range(xlo, xhi + 1))
    xy = np.array([_plane(k) for k in keys])
    cost = ((targets[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    cells = [0] * n
    for i, c in zip(rows.tolist(), cols.tolist()):
        cells[i] = keys[c]
    return cells


def _unit(step: int) -> tuple[float, float]:
    """The unit vector, in the plane, of the step between two packed cells."""
    z = (step + _M // 2) % _M - _M // 2  # a step is packed like a cell, around zero
    x = (step - z) // _M
    px, py = x + z / 2, z * SQRT3 / 2
    d = math.hypot(px, py)
    return px / d, py / d


class _Annealer:
    """One layout being improved: where each area is, which area is in each
    cell, and the energy terms, with moves that can be undone.

    Energy (lower is better) = - pairs kept as hex neighbours
    + ``spread`` x summed squared distance (in hexes) of each area from its target
    + ``turn`` x summed (1 - cosine) of the angle between each bordering
    pair's hex step and its bearing on the map
    + ``false_weight`` x hex neighbours that do not share a border
    + ``holes`` x, for each empty cell with more than three occupied
    neighbours, the number of those beyond three.
    """

    def __init__(self, cells, targets, links, spread, turn, holes, false_weight):
        self.cell = list(cells)
        self.occ = {c: i for i, c in enumerate(self.cell)}
        self.tx = targets[:, 0].tolist()
        self.ty = targets[:, 1].tolist()
        # for each area: (neighbour, unit bearing to it on the map)
        self.links = links
        self.nbs = [tuple(link[0] for link in row) for row in links]
        self.nbset = [frozenset(row) for row in self.nbs]
        self.spread, self.turn, self.holes, self.false_weight = spread, turn, holes, false_weight
        self.vectors: dict[int, tuple[float, float]] = {}

    def _pair(self, c: int, cj: int, bx: float, by: float) -> float:
        """The bearing term of one bordering pair (cells ``c`` -> ``cj``)."""
        step = cj - c
        v = self.vectors.get(step)
        if v is None:
            v = self.vectors[step] = _unit(step)
        return self.turn * (1.0 - (v[0] * bx + v[1] * by))

    def local(self, i: int) -> float:
        """Energy terms that involve area ``i`` (each pair term in full)."""
        c = self.cell[i]
        cell = self.cell
        kept = 0
        bend = 0.0
        turn, vectors = self.turn, self.vectors
        for j, bx, by in self.links[i]:
            step = cell[j] - c
            if step in _STEPSET:
                kept += 1
            if turn:  # the bearing term, as in _pair (inlined: this is the hot loop)
                v = vectors.get(step)
                if v is None:
                    v = vectors[step] = _unit(step)
                bend += 1.0 - (v[0] * bx + v[1] * by)
        x, z = c // _M - _OFF, c % _M - _OFF
        dx, dy = x + z / 2 - self.tx[i], z * SQRT3 / 2 - self.ty[i]
        e = turn * bend - kept + self.spread * (dx * dx + dy * dy)
        if self.false_weight:
            occ = self.occ
            contacts = sum(1 for s in _STEPS if c + s in occ)
            e += self.false_weight * (contacts - kept)
        return e

    def energy(self) -> float:
        """The whole layout's energy (pair terms halved: each is seen from both ends)."""
        total = 0.0
        for i in range(len(self.cell)):
            x, z = _unpack(self.cell[i])
            dx, dy = x + z / 2 - self.tx[i], z * SQRT3 / 2 - self.ty[i]
            dist = self.spread * (dx * dx + dy * dy)
            total += (self.local(i) - dist) / 2 + dist
        if self.holes:
            total += self._gaps({c + s for c in self.cell for s in _STEPS})
        return total

    def _gaps(self, cells) -> float:
        """The ``holes`` term over ``cells``: each empty one with more than
        three occupied neighbours (a hole or a deep notch) costs one per extra."""
        occ = self.occ
        total = 0
        for e in cells:
            if e not in occ:
                n = sum(1 for s in _STEPS if e + s in occ)
                if n > 3:
                    total += n - 3
        return self.holes * total

    def replaced(self, cells) -> _Annealer:
        """The same scoring for another layout (``cells``)."""
        other = copy.copy(self)
        other.cell = list(cells)
        other.occ = {c: i for i, c in enumerate(other.cell)}
        return other

    def move(self, i: int, c: int) -> int | None:
        """Put area ``i`` in cell ``c``, swapping with its occupant (returned)."""
        a = self.cell[i]
        k = self.occ.get(c)
        self.cell[i] = c
        self.occ[c] = i
        if k is None:
            del self.occ[a]
        else:
            self.cell[k] = a
            self.occ[a] = k
        return k

    def _pair_turn(self, i: int, k: int) -> float:
        """The bearing term of the pair (i, k), zero unless they share a border."""
        if not self.turn or k not in self.nbset[i]:
            return 0.0
        for j, bx, by in self.links[i]:
            if j == k:
                return self._pair(self.cell[i], self.cell[k], bx, by)
        return 0.0  # pragma: no cover - nbset and links agree

    def delta(self, i: int, c: int) -> tuple[float, int]:
        """Energy change of moving ``i`` to ``c`` (a swap when ``c`` is taken)
        and the cell ``i`` left. The move is made; undo it with :meth:`undo`.

        Only pairs involving the moved areas change, and :meth:`local` counts
        each of them in full. A swapped pair is counted from both ends: its
        kept and false terms do not change, but its step turns round, so
        its bearing term is taken out once.
        """
        a = self.cell[i]
        k = self.occ.get(c)
        if k is None:
            # emptiness changes only at a and c: holes change only around them
            around = {a, c, *(a + s for s in _STEPS), *(c + s for s in _STEPS)} if self.holes else ()
            before = self.local(i) + (self._gaps(around) if self.holes else 0.0)
            self.move(i, c)
            return self.local(i) + (self._gaps(around) if self.holes else 0.0) - before, a
        before = self.local(i) + self.local(k) - self._pair_turn(i, k)
        self.move(i, c)
        return self.local(i) + self.local(k) - self._pair_turn(i, k) - before, a

    def undo(self, i: int, a: int) -> None:
        """Put ``i`` back in ``a`` (swapping back whoever moved)."""
        self.move(i, a)


def _anneal(state: _Annealer, rng: np.random.Generator, steps: int, t_start: float, t_end: float) -> None:
    """Simulated annealing: propose moves, accept by the Metropolis rule on a
    geometric cooling schedule, and leave ``state`` at the best layout seen."""
    n = len(state.cell)
    who = rng.integers(0, n, steps).tolist()
    kind = rng.random(steps).tolist()
    pick = rng.integers(0, 1 << 30, steps).tolist()
    way = rng.integers(0, 6, (steps, 2)).tolist()
    accept = rng.random(steps).tolist()
    temps = np.geomspace(t_start, t_end, steps).tolist()
    energy = best = state.energy()
    best_cells = list(state.cell)
    for s in range(steps):
        i = who[s]
        nbs = state.nbs[i]
        if nbs and kind[s] < 0.6:  # next to one of its neighbours
            c = state.cell[nbs[pick[s] % len(nbs)]] + _STEPS[way[s][0]]
        elif kind[s] < 0.9:  # a step away
            c = state.cell[i] + _STEPS[way[s][0]]
        else:  # two steps away
            c = state.cell[i] + _STEPS[way[s][0]] + _STEPS[way[s][1]]
        if c == state.cell[i]:
            continue
        d, a = state.delta(i, c)
        if d <= 0 or accept[s] < math.exp(-d / temps[s]):
            energy += d
            if energy < best - 1e-9:
                best, best_cells = energy, list(state.cell)
        else:
            state.undo(i, a)
    state.cell = best_cells
    state.occ = {c: i for i, c in enumerate(best_cells)}


def _pieces(occ) -> list[list[int]]:
    """The layout's pieces: areas grouped by connected runs of occupied cells,
    largest first (ties: the one holding the lowest area first)."""
    seen: set[int] = set()
    out = []
    for c in sorted(occ, key=occ.get):
        if c in seen:
            continue
        seen.add(c)
        stack, piece = [c], []
        while stack:
            x = stack.pop()
            piece.append(occ[x])
            for s in _STEPS:
                if x + s in occ and x + s not in seen:
                    seen.add(x + s)
                    stack.append(x + s)
        out.append(sorted(piece))
    return sorted(out, key=lambda p: (-len(p), p[0]))


def _attach(state: _Annealer) -> None:
    """Make the layout one piece: slide every piece cut off from the largest
    one, whole, in the direction that touches it with the lowest energy."""
    pieces = _pieces(state.occ)
    limit = 10 + 4 * int(math.sqrt(len(state.cell)))
    while len(pieces) > 1:
        piece = pieces[1]
        mine = set(piece)
        best = None
        for s in _STEPS:
            for k in range(1, limit):
                cells = [state.cell[i] + k * s for i in piece]
                if any(state.occ.get(c, i) not in mine for c, i in zip(cells, piece)):
                    break  # it would run into another area before touching
                if any(state.occ.get(c + t, i) not in mine for c, i in zip(cells, piece) for t in _STEPS):
                    trial = list(state.cell)
                    for i, c in zip(piece, cells):
                        trial[i] = c
                    e = state.replaced(trial).energy()
                    if best is None or e < best[0] - 1e-9:
                        best = (e, trial)
                    break
        if best is None:  # pragma: no cover - a piece always reaches the rest in some direction
            return
        state.cell = best[1]
        state.occ = {c: i for i, c in enumerate(state.cell)}
        pieces = _pieces(state.occ)


def _descend(state: _Annealer, reach: int = 2) -> None:
    """Greedy descent: make the best improving move of each area in turn
    (to cells beside its neighbours or within ``reach`` steps) until none
    helps, never breaking the layout into more pieces."""
    ring = {0}
    for _ in range(reach):
        ring = {c + s for c in ring for s in (0, *_STEPS)}
    ring.discard(0)
    whole = len(_pieces(state.occ))
    improved = True
    while improved:
        improved = False
        for i in range(len(state.cell)):
            home = state.cell[i]
            options = {home + s for s in ring}
            options.update(state.cell[j] + s for j in state.nbs[i] for s in _STEPS)
            options.discard(home)
            gains = []
            for c in sorted(options):
                d, a = state.delta(i, c)
                state.undo(i, a)
                if d < -1e-9:
                    gains.append((d, c))
            for d, c in sorted(gains):
                state.move(i, c)
                if len(_pieces(state.occ)) <= whole:
                    improved = True
                    break
                state.undo(i, home)


def layout(
    centroids,
    pairs,
    *,
    seed: int = 0,
    layout: str = "odd-r",
    spread: float = 0.3,
    turn: float = 0.3,
    holes: float = 0.3,
    false_weight: float = 0.0,
    steps: int | None = None,
    restarts: int = 4,
    relaxation: bool = True,
) -> list[tuple[int, int]]:
    """Place each area on its own hex.

    Parameters
    ----------
    centroids : (n, 2) array-like
        Each area's position in a plane with y pointing north (e.g. British
        National Grid metres).
    pairs : iterable of (i, j)
        Areas (indices into ``centroids``) that share a border.
    seed : int
        Seed of the random generator: the same input and seed give the same layout.
    layout : str
        Offset layout of the result, one of :data:`LAYOUTS` (north up in each).

    The weights below are in units of one kept pair (see :class:`_Annealer`):

    spread : float
        Weight of an area's squared distance (in hexes) from its target (its
        scaled and relaxed geographic position): larger keeps the shape
        closer to the map, smaller keeps more borders.
    turn : float
        Weight of each bordering pair's turn away from its bearing on the map
        (1 - cosine of the angle), which keeps neighbours in their compass order.
    holes : float
        Cost of each empty cell with more than three occupied neighbours,
        per neighbour beyond three: holes and deep notches.
    false_weight : float
        Cost of two hex neighbours that do not share a border.
    steps : int, optional
        Annealing steps per restart (default 3000 per area).
    restarts : int
        Independent annealing runs (each from the same assignment, with its
        own stream of the seed); the best is kept.

    Returns
    -------
    list of (q, r), one per area in the order of ``centroids``, with ``q``
    from 0 and ``r`` from 0 or 1 (shifted by an even number of rows so the
    layout's parity holds), ``r`` growing northwards.
    """
    _check_layout(layout)
    pts = np.asarray(centroids, dtype=float)
    if pts.size == 0:
        return []
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        from stpmap.errors import InputError

        raise InputError("centroids must be an (n, 2) array of finite coordinates, one row per area.")
    n = len(pts)
    if layout.endswith("-q"):
        # flat-topped hexes are pointy-topped ones turned by 30 degrees: turn
        # the map back first so that it comes out upright
        c, s = math.cos(math.radians(-30)), math.sin(math.radians(-30))
        pts = pts @ np.array([[c, -s], [s, c]]).T
    pairs = _clean_pairs(pairs, n)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    targets = relax(scaled_targets(pts, pairs), pairs) if relaxation else scaled_targets(pts, pairs)
    start = _assign(targets)
    links = _links(pts, neighbours)
    steps = int(steps if steps is not None else 3000 * n)
    best = None
    for stream in np.random.SeedSequence(int(seed)).spawn(max(1, int(restarts))):
        state = _Annealer(start, targets, links, spread, turn, holes, false_weight)
        _anneal(state, np.random.default_rng(stream), steps, 1.0, 0.02)
        _attach(state)
        _descend(state)
        e = state.energy()
        if best is None or e < best[0] - 1e-9:
            best = (e, list(state.cell))
    return _to_offset(best[1], layout)


def _links(pts: np.ndarray, neighbours) -> list[tuple]:
    """For each area, its bordering areas with the unit bearing to each on the map."""
    out = []
    for i, nbs in enumerate(neighbours):
        row = []
        for j in sorted(nbs):
            v = pts[j] - pts[i]
            d = float(np.hypot(*v)) or 1.0
            row.append((j, float(v[0]) / d, float(v[1]) / d))
        out.append(tuple(row))
    return out


def _to_offset(keys: Sequence[int], layout: str) -> list[tuple[int, int]]:
    cells = [axial_to_offset(*_unpack(k), layout) for k in keys]
    qs, rs = zip(*cells)
    if layout.endswith("-r"):  # shift rows by an even number, columns freely
        dq, dr = min(qs), min(rs) - (min(rs) & 1)
    else:
        dq, dr = min(qs) - (min(qs) & 1), min(rs)
    return [(q - dq, r - dr) for q, r in cells]
