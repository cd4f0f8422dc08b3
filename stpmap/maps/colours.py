"""Colours for maps: NHS identity colours, colour-blind-safe ramps, and graph
colouring so that neighbouring areas never share a fill.

Categories (ONS regions, NHS regions, footprints) get NHS identity colours
(https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/). Areas of
the same category that touch each other get different tints of the
category's colour, chosen by DSATUR graph colouring of the areas' adjacency,
so two neighbours never share a fill. Choropleths use single-hue or
perceptually uniform ramps, which people with colour-vision deficiency read
in the right order.

>>> from stpmap.maps.colours import NHS, tints
>>> NHS["NHS Blue"]
'#005EB8'
>>> len(tints("#005EB8", 4))
4
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

#: NHS identity colours, by their official names.
NHS = {
    "NHS Blue": "#005EB8",
    "NHS Dark Blue": "#003087",
    "NHS Bright Blue": "#0072CE",
    "NHS Light Blue": "#41B6E6",
    "NHS Aqua Blue": "#00A9CE",
    "NHS Black": "#231F20",
    "NHS Dark Grey": "#425563",
    "NHS Mid Grey": "#768692",
    "NHS Pale Grey": "#E8EDEE",
    "NHS Dark Green": "#006747",
    "NHS Green": "#009639",
    "NHS Light Green": "#78BE20",
    "NHS Aqua Green": "#00A499",
    "NHS Purple": "#330072",
    "NHS Dark Pink": "#7C2855",
    "NHS Pink": "#AE2573",
    "NHS Dark Red": "#8A1538",
    "NHS Orange": "#ED8B00",
    "NHS Warm Yellow": "#FFB81C",
    "NHS Yellow": "#FAE100",
}

#: Order in which categories take NHS colours: neighbours in this list are far
#: apart in hue, so a handful of categories look distinct.
CATEGORY_ORDER = (
    "NHS Blue", "NHS Green", "NHS Orange", "NHS Pink", "NHS Aqua Blue", "NHS Warm Yellow",
    "NHS Purple", "NHS Light Green", "NHS Dark Red", "NHS Light Blue", "NHS Aqua Green",
    "NHS Dark Pink", "NHS Dark Grey",
)

#: Fill for areas with no value: a neutral grey, named in every legend.
MISSING = "#C9CED1"
MISSING_LABEL = "No data"

#: Fill of the footprints around a selection, and the colour of text.
CONTEXT_FILL = NHS["NHS Pale Grey"]
TEXT = NHS["NHS Black"]

#: Sequential ramps for choropleths. ``nhs_blues`` runs from a pale blue to
#: NHS Dark Blue in lightness only; the matplotlib names are perceptually
#: uniform. All are readable with colour-vision deficiency.
RAMPS = {
    "nhs_blues": ("#EAF2FA", "#BBD4EE", "#7FB0E0", "#3C86CF", "#005EB8", "#003087"),
    "viridis": None,
    "cividis": None,
    "Blues": None,
    "YlGnBu": None,
    "PuBu": None,
    "Greens": None,
    "Purples": None,
}
DEFAULT_RAMP = "nhs_blues"

#: Fixed colours for the regions, so a region looks the same on every map and
#: neighbouring regions contrast (London is NHS Dark Pink on both kinds).
REGION_COLOURS = {
    # ONS regions
    "North East": NHS["NHS Pink"],
    "North West": NHS["NHS Aqua Blue"],
    "Yorkshire and The Humber": NHS["NHS Warm Yellow"],
    "East Midlands": NHS["NHS Blue"],
    "West Midlands": NHS["NHS Light Green"],
    "East of England": NHS["NHS Aqua Green"],
    "London": NHS["NHS Dark Pink"],
    "South East": NHS["NHS Orange"],
    "South West": NHS["NHS Purple"],
    # NHS England regions, 2017
    "North of England": NHS["NHS Blue"],
    "Midlands and East of England": NHS["NHS Green"],
    "South of England": NHS["NHS Orange"],
}

# Variants of a category's colour for areas of one category, in the order
# DSATUR hands them out (the first two are the ones most areas get): lighter
# (mixed with white) or darker (mixed with black), never so pale that they
# look like "no data". Positive = towards white, negative = towards black.
_TINT_MIX = (0.22, 0.52, 0.0, -0.28, 0.68, -0.45)


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _hex(rgb) -> str:
    r, g, b = (int(round(min(255, max(0, c)))) for c in rgb)
    return f"#{r:02X}{g:02X}{b:02X}"


def mix(colour: str, other: str = "#FFFFFF", amount: float = 0.5) -> str:
    """``colour`` moved ``amount`` (0..1) of the way towards ``other``.

    >>> mix("#000000", "#FFFFFF", 0.5)
    '#808080'
    """
    return _hex(_rgb(colour) * (1 - amount) + _rgb(other) * amount)


def tints(colour: str, n: int) -> list[str]:
    """``n`` distinct variants of ``colour`` (lighter, then darker), most used first.

    >>> tints("#005EB8", 3)
    ['#3881C8', '#85B2DD', '#005EB8']
    """
    out: list[str] = []
    extra = iter(np.r_[np.linspace(0.1, 0.8, 15), -np.linspace(0.1, 0.6, 11)])
    mixes = iter(_TINT_MIX)
    while len(out) < n:  # beyond six: more than planar graphs ever need
        a = next(mixes, None)
        if a is None:
            a = float(next(extra, 0.5))
        c = mix(colour, "#FFFFFF", a) if a >= 0 else mix(colour, "#000000", -a)
        if c not in out:
            out.append(c)
        elif a == 0.5:  # pragma: no cover - out of distinct variants
            break
    return out


def luminance(colour: str) -> float:
    """Relative luminance (WCAG) of a colour, 0 (black) to 1 (white)."""
    c = _rgb(colour) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``."""
    return "#FFFFFF" if luminance(fill) < 0.18 else TEXT


def category_colours(categories: Sequence[Hashable]) -> dict:
    """NHS identity colours for categories, in the order given (sorted labels
    give the same colour to the same label on every map)."""
    names = [n for n in CATEGORY_ORDER]
    fixed = {c: REGION_COLOURS[c] for c in categories if c in REGION_COLOURS}
    if len(fixed) == len(list(categories)) and len(set(fixed.values())) == len(fixed):
        return fixed
    out = {}
    for i, c in enumerate(categories):
        out[c] = NHS[names[i % len(names)]]
    return out


def ramp(name: str, n: int) -> list[str]:
    """``n`` colours from a sequential ramp (``RAMPS`` names or any matplotlib colormap)."""
    from matplotlib import colors as mcolors

    if n <= 0:
        return []
    stops = RAMPS.get(name)
    if stops is not None:
        cmap = mcolors.LinearSegmentedColormap.from_list(name, list(stops))
    else:
        import matplotlib

        try:
            cmap = matplotlib.colormaps[name]
        except KeyError:
            from stpmap.errors import ChoiceError

            raise ChoiceError("colour ramp", name, list(RAMPS)) from None
    if n == 1:
        return [mcolors.to_hex(cmap(0.7)).upper()]
    lo, hi = (0.08, 1.0) if stops is not None else (0.1, 0.95)
    return [mcolors.to_hex(cmap(lo + (hi - lo) * i / (n - 1))).upper() for i in range(n)]


# ------------------------------------------------------------- adjacency


def adjacency(geometries, distance: float = 50.0) -> list[set[int]]:
    """Neighbours of each geometry: those that touch or come within
    ``distance`` (map units; metres in British National Grid).

    A small distance treats areas separated by a sliver (or a thin estuary in a
    generalised boundary) as neighbours, so they never share a fill.

    >>> from shapely import box
    >>> adjacency([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)], distance=0)
    [{1}, {0}, set()]
    """
    import shapely

    geoms = np.asarray(geometries, dtype=object)
    out: list[set[int]] = [set() for _ in range(len(geoms))]
    if len(geoms) < 2:
        return out
    tree = shapely.STRtree(geoms)
    if distance > 0:
        left, right = tree.query(geoms, predicate="dwithin", distance=distance)
    else:
        left, right = tree.query(geoms, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist()):
        if a != b:
            out[a].add(b)
            out[b].add(a)
    return out


def dsatur(neighbours: Sequence[set[int]], order: Sequence[int] | None = None) -> list[int]:
    """Colour a graph with DSATUR (Brélaz 1979): colour indices 0, 1, ... such
    that no two neighbours share one. Ties are broken by ``order`` (default:
    index), so the result is deterministic.

    >>> dsatur([{1, 2}, {0, 2}, {0, 1}, set()])
    [0, 1, 2, 0]
    """
    n = len(neighbours)
    rank = {v: i for i, v in enumerate(order if order is not None else range(n))}
    colour = [-1] * n
    seen: list[set[int]] = [set() for _ in range(n)]
    for _ in range(n):
        v = max(
            (u for u in range(n) if colour[u] < 0),
            key=lambda u: (len(seen[u]), len(neighbours[u]), -rank[u]),
        )
        c = 0
        while c in seen[v]:
            c += 1
        colour[v] = c
        for u in neighbours[v]:
            seen[u].add(c)
    return colour


def categorical_fills(categories: Sequence, neighbours: Sequence[set[int]], palette: dict | None = None) -> tuple[list[str], dict]:
    """A fill for each area coloured by category, neighbours never alike.

    Each category gets a colour (``palette``, default NHS identity colours in
    sorted order of the categories). When there are more categories than
    colours, touching categories are first graph-coloured so that they get
    different colours. Areas of one category that touch get different tints
    of it (DSATUR on the areas of that category).

    Returns the fills, and for each category the tints its areas have (most
    used first) for the legend. Missing categories (None/NaN) get
    :data:`MISSING`.
    """
    import pandas as pd

    cats = [None if (c is None or (isinstance(c, float) and np.isnan(c)) or pd.isna(c)) else c for c in categories]
    labels = sorted({c for c in cats if c is not None}, key=str)
    if palette is None:
        if len(labels) <= len(CATEGORY_ORDER):
            palette = category_colours(labels)
        else:
            # more categories than colours: colour the category graph
            idx = {c: i for i, c in enumerate(labels)}
            cat_nb: list[set[int]] = [set() for _ in labels]
            for a, nbs in enumerate(neighbours):
                if cats[a] is None:
                    continue
                for b in nbs:
                    if cats[b] is not None and cats[b] != cats[a]:
                        cat_nb[idx[cats[a]]].add(idx[cats[b]])
            cols = dsatur(cat_nb)
            base = [NHS[n] for n in CATEGORY_ORDER]
            palette = {c: base[cols[i] % len(base)] for i, c in enumerate(labels)}
    fills = [MISSING] * len(cats)
    legend = {}
    for label in labels:
        members = [i for i, c in enumerate(cats) if c == label]
        pos = {m: j for j, m in enumerate(members)}
        sub = [{pos[b] for b in neighbours[m] if b in pos} for m in members]
        cols = dsatur(sub)
        shades = tints(palette[label], max(cols) + 1)
        for m, c in zip(members, cols):
            fills[m] = shades[c]
        legend[label] = shades
    _repair(fills, neighbours)
    return fills, legend


def _repair(fills: list[str], neighbours: Sequence[set[int]]) -> None:
    """Last guard: if two neighbours still share a fill (possible only when a
    palette repeats colours), give one of them an unused tint."""
    for a, nbs in enumerate(neighbours):
        for b in nbs:
            if b > a and fills[a] == fills[b] and fills[a] != MISSING:
                used = {fills[x] for x in neighbours[b]} | {fills[b]}
                for amount in np.linspace(0.1, 0.85, 16):
                    cand = mix(fills[b], "#FFFFFF", float(amount)) if amount < 0.5 else mix(fills[b], "#000000", float(amount) - 0.45)
                    if cand not in used:
                        fills[b] = cand
                        break


def identity_fills(neighbours: Sequence[set[int]], order: Sequence[int] | None = None) -> list[str]:
    """Fills for areas that stand for themselves (no category): a few NHS
    colours, lightened, handed out by DSATUR so neighbours differ."""
    base = [mix(NHS[n], "#FFFFFF", 0.35) for n in ("NHS Blue", "NHS Green", "NHS Warm Yellow", "NHS Pink", "NHS Aqua Blue", "NHS Purple", "NHS Orange")]
    if len(neighbours) <= len(base):  # few areas: each its own colour
        ranks = list(order) if order is not None else list(range(len(neighbours)))
        out = [""] * len(neighbours)
        for j, i in enumerate(ranks):
            out[i] = base[j]
        return out
    cols = dsatur(neighbours, order)
    while len(base) <= max(cols, default=0):
        base.append(mix(NHS[CATEGORY_ORDER[len(base) % len(CATEGORY_ORDER)]], "#FFFFFF", 0.6))
    return [base[c] for c in cols]


def neighbours_share_fill(fills: Sequence[str], neighbours: Sequence[set[int]]) -> list[tuple[int, int]]:
    """Pairs of neighbours with the same fill (other than :data:`MISSING`): empty when the map is right."""
    return [(a, b) for a, nbs in enumerate(neighbours) for b in nbs if a < b and fills[a] == fills[b] and fills[a] != MISSING]
