"""Colours for maps: NHS identity colours, the Analysis Function palette,
colour-blind-safe ramps, and graph colouring so that neighbouring areas never
share a fill.

Two palettes (:data:`PALETTES`). ``nhs``, the default: categories (ONS
regions, NHS regions, footprints) get NHS identity colours
(https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/), and
areas of the same category that touch each other get different tints of the
category's colour, chosen by DSATUR graph colouring of the areas' adjacency,
so two neighbours never share a fill. ``analysis-function``: the UK
Government Analysis Function's accessible data-visualisation colours, handed
out so that the lowest contrast between neighbouring fills is as high as the
palette allows (3:1 or more, the WCAG ratio for graphics, where it can be
had; :func:`best_fills`). Choropleths use single-hue or perceptually uniform
ramps, which people with colour-vision deficiency read in the right order.

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
    # the Analysis Function's sequential blues (light, mid, dark), from a paler tint of
    # the light blue (mixed 80 % with white) so that the lowest class reads as low
    "af_blues": ("#E1EEFA", "#6BACE6", "#2073BC", "#12436D"),
    "viridis": None,
    "cividis": None,
    "Blues": None,
    "YlGnBu": None,
    "PuBu": None,
    "Greens": None,
    "Purples": None,
}
DEFAULT_RAMP = "nhs_blues"

#: The palettes a map can use, and the ramp each gives numbers unless one is named.
PALETTES = ("nhs", "analysis-function")
DEFAULT_PALETTE = "nhs"
PALETTE_RAMPS = {"nhs": DEFAULT_RAMP, "analysis-function": "af_blues"}

#: The UK Government Analysis Function's categorical palette, in its order of use,
#: as set out in its guidance "Data visualisation: colours"
#: (https://analysisfunction.civilservice.gov.uk/policy-store/data-visualisation-colours-in-charts/)
#: and carried by its afcharts and afcolours packages. Each has 3:1 contrast with
#: white; the guidance's other palettes are duo, focus and sequential
#: (:data:`AF_SEQUENTIAL`), and it gives no diverging one.
ANALYSIS_FUNCTION = {
    "Dark blue": "#12436D",
    "Turquoise": "#28A197",
    "Dark pink": "#801650",
    "Orange": "#F46A25",
    "Dark grey": "#3D3D3D",
    "Light purple": "#A285D1",
}
#: Its sequential palette: dark, mid and light blue (``af_blues`` in :data:`RAMPS`).
AF_SEQUENTIAL = ("#12436D", "#2073BC", "#6BACE6")
#: WCAG 2's contrast for graphical objects (success criterion 1.4.11), which the
#: Analysis Function asks of adjacent colours.
MIN_CONTRAST = 3.0


def check_palette(name) -> str:
    """The palette's name as in :data:`PALETTES` (``None``: the default;
    case, spaces and underscores do not matter), or a :class:`ChoiceError`
    listing them."""
    if name is None:
        return DEFAULT_PALETTE
    s = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    if s not in PALETTES:
        from stpmap.errors import ChoiceError

        raise ChoiceError("palette", name, PALETTES)
    return s

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


def contrast(colour: str, other: str) -> float:
    """WCAG contrast ratio of two colours: 1 (the same lightness) to 21 (black on white).

    >>> round(contrast("#12436D", "#FFFFFF"), 2)
    10.25
    """
    a, b = sorted((luminance(colour), luminance(other)))
    return (b + 0.05) / (a + 0.05)


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``.

    White below a luminance of 0.18, near where the two contrast equally
    (0.21 for :data:`TEXT`; between the two neither reaches 4.5:1). The
    Analysis Function's dark colours (luminance below 0.06) take white at
    10:1 or more, its mid colours (0.28 to 0.30) and all pale tints black
    at 5:1 or more.
    """
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


def categorical_fills(categories: Sequence, neighbours: Sequence[set[int]], base: dict | None = None,
                      palette: str = DEFAULT_PALETTE) -> tuple[list[str], dict]:
    """A fill for each area coloured by category, neighbours never alike.

    With the ``nhs`` palette each category gets a colour (``base``, default
    NHS identity colours in sorted order of the categories). When there are
    more categories than colours, touching categories are first
    graph-coloured so that they get different colours. Areas of one category
    that touch get different tints of it (DSATUR on the areas of that
    category). With ``analysis-function`` the categories' colours and the
    areas' tints are chosen by :func:`best_fills` for contrast.

    Returns the fills, and for each category the tints its areas have (most
    used first) for the legend. Missing categories (None/NaN) get
    :data:`MISSING`.
    """
    import pandas as pd

    cats = [None if (c is None or (isinstance(c, float) and np.isnan(c)) or pd.isna(c)) else c for c in categories]
    labels = sorted({c for c in cats if c is not None}, key=str)
    if check_palette(palette) == "analysis-function" and base is None:
        return _af_categorical_fills(cats, labels, neighbours)
    if base is None:
        if len(labels) <= len(CATEGORY_ORDER):
            base = category_colours(labels)
        else:
            # more categories than colours: colour the category graph
            cols = dsatur(_category_graph(cats, labels, neighbours))
            colours = [NHS[n] for n in CATEGORY_ORDER]
            base = {c: colours[cols[i] % len(colours)] for i, c in enumerate(labels)}
    fills = [MISSING] * len(cats)
    legend = {}
    for label in labels:
        members = [i for i, c in enumerate(cats) if c == label]
        pos = {m: j for j, m in enumerate(members)}
        sub = [{pos[b] for b in neighbours[m] if b in pos} for m in members]
        cols = dsatur(sub)
        shades = tints(base[label], max(cols) + 1)
        for m, c in zip(members, cols):
            fills[m] = shades[c]
        legend[label] = shades
    _repair(fills, neighbours)
    return fills, legend


def _category_graph(cats: list, labels: list, neighbours: Sequence[set[int]]) -> list[set[int]]:
    """Which categories (indices into ``labels``) have areas that touch."""
    idx = {c: i for i, c in enumerate(labels)}
    cat_nb: list[set[int]] = [set() for _ in labels]
    for a, nbs in enumerate(neighbours):
        if cats[a] is None:
            continue
        for b in nbs:
            if cats[b] is not None and cats[b] != cats[a]:
                cat_nb[idx[cats[a]]].add(idx[cats[b]])
    return cat_nb


# ------------------------------------------------ the Analysis Function palette


def af_variants(colour: str) -> list[str]:
    """A category's colour (a colour of the Analysis Function palette, or a
    pale tint of one) and the variants its areas may take, in order of
    preference, far apart in lightness so that touching areas of one
    category can still contrast: for a dark colour, tints; for a mid colour,
    a pale tint and two shades (the only way to 3:1 with itself); for a pale
    tint, shades of it. Greys that would look like "no data" or the
    surroundings are left out, and so are fills on which names could not
    be read at 4.5:1.

    >>> af_variants("#12436D")[:3]
    ['#12436D', '#A0B4C5', '#6585A0']
    """
    lum = luminance(colour)
    if lum < 0.1:
        out = [colour, mix(colour, "#FFFFFF", 0.6), mix(colour, "#FFFFFF", 0.45), mix(colour, "#FFFFFF", 0.8)]
    elif lum < 0.45:
        out = [colour, mix(colour, "#FFFFFF", 0.65), mix(colour, "#000000", 0.35), mix(colour, "#000000", 0.55)]
    else:
        out = [colour, mix(colour, "#000000", 0.45), mix(colour, "#000000", 0.65), mix(colour, "#FFFFFF", 0.5)]
    out += tints(colour, 6)  # softer steps, should a category have many areas that touch
    return [c for c in dict.fromkeys(out) if c == colour or (not _like_grey_fills(c) and _text_reads(c))]


def _text_reads(colour: str) -> bool:
    """Whether names on ``colour`` (in :func:`text_colour`) reach 4.5:1, WCAG's contrast for text."""
    return contrast(text_colour(colour), colour) >= 4.5


def _like_grey_fills(colour: str) -> bool:
    """A grey close in lightness to :data:`MISSING` or :data:`CONTEXT_FILL`."""
    rgb = _rgb(colour)
    return bool(rgb.max() - rgb.min() < 24) and min(contrast(colour, MISSING), contrast(colour, CONTEXT_FILL)) < 1.25


def _af_candidates() -> list[str]:
    """Fills for areas of no category, preferred first: the palette, its
    pale tints, and shades of its mid colours (four steps of lightness, as
    many as a map can need)."""
    base = list(ANALYSIS_FUNCTION.values())
    out = (base + [mix(c, "#FFFFFF", 0.7) for c in base]
           + [mix(c, "#000000", 0.3) for c in base if luminance(c) > 0.15])
    return [c for c in out if not _like_grey_fills(c) and _text_reads(c)]


def _af_categorical_fills(cats: list, labels: list, neighbours: Sequence[set[int]]) -> tuple[list[str], dict]:
    """:func:`categorical_fills` with the Analysis Function palette: each
    category a colour of the palette (pale tints when there are more than
    six), touching categories as far apart in lightness as can be, then each
    area one of its category's :func:`af_variants`, neighbours as far apart
    as can be."""
    if not labels:
        return [MISSING] * len(cats), {}
    base = list(ANALYSIS_FUNCTION.values())
    candidates = base if len(labels) <= len(base) else [*base, *AF_SEQUENTIAL[1:], *(mix(c, "#FFFFFF", 0.6) for c in base)]
    candidates = [c for c in candidates if not _like_grey_fills(c) and _text_reads(c)]
    cat_nb = _category_graph(cats, labels, neighbours)
    few = len(labels) <= len(candidates)
    picked = best_fills(cat_nb, [candidates] * len(labels), distinct=few, balance=not few)
    colour_of = dict(zip(labels, picked))
    owner = {c: c for c in colour_of.values()}  # which category colour a fill stands for
    variants = {}
    for label in labels:  # a fill stands for one colour's categories only (more than one when there are many)
        own = colour_of[label]
        variants[label] = [c for c in af_variants(own) if owner.setdefault(c, own) == own]
    areas = [i for i, c in enumerate(cats) if c is not None]
    pos = {a: j for j, a in enumerate(areas)}
    sub = [{pos[b] for b in neighbours[a] if b in pos} for a in areas]
    chosen = best_fills(sub, [variants[cats[a]] for a in areas])
    fills = [MISSING] * len(cats)
    for a, f in zip(areas, chosen):
        fills[a] = f
    legend = {}
    for label in labels:
        used = [f for a, f in zip(areas, chosen) if cats[a] == label]
        legend[label] = sorted(set(used), key=lambda f: (f != colour_of[label], -used.count(f), variants[label].index(f)))
    return fills, legend


def best_fills(neighbours: Sequence[set[int]], choices: Sequence[Sequence[str]], *, distinct: bool = False,
               balance: bool = False, budget: int | None = None, target: float = MIN_CONTRAST) -> list[str]:
    """A fill for each area, one of its ``choices`` (preferred first), such
    that the lowest contrast between neighbours is as high as can be found,
    up to ``target`` (beyond it, the preferred fills win).

    The highest contrast that some assignment reaches is found by bisection
    over the contrasts the choices can give; each is tried by backtracking
    search (smallest choice set first, as DSATUR does; neighbours' choices
    that would contrast less are struck out as each area is filled), given
    up after ``budget`` tries (then a lower contrast is tried). Neighbours
    never share a fill. ``distinct``: no two areas share one; ``balance``:
    among allowed fills, the least used first (so many areas use the whole
    palette). Deterministic.
    """
    n = len(choices)
    if n == 0:
        return []
    colours = list(dict.fromkeys(c for cs in choices for c in cs))
    idx = {c: i for i, c in enumerate(colours)}
    lum = np.array([luminance(c) for c in colours])
    ratio = (np.maximum.outer(lum, lum) + 0.05) / (np.minimum.outer(lum, lum) + 0.05)
    np.fill_diagonal(ratio, 0.0)  # the same fill: never for neighbours
    doms = [[idx[c] for c in cs] for cs in choices]
    edges = [(u, v) for u in range(n) for v in neighbours[u] if u < v]
    ceiling = min((max(ratio[a, b] for a in doms[u] for b in doms[v]) for u, v in edges), default=np.inf)
    levels = sorted({min(float(x), target) for x in np.unique(ratio) if 0 < x <= ceiling}) or [0.0]
    budget = budget if budget is not None else 40 * n + 2000
    best = None
    lo, hi = 0, len(levels) - 1
    while lo <= hi:  # the highest level with an assignment found within the budget
        mid = (lo + hi) // 2
        found = _search(neighbours, doms, ratio >= levels[mid], distinct, balance, budget)
        if found is not None:
            best, lo = found, mid + 1
        else:
            hi = mid - 1
    if best is not None and not balance:
        _prefer(best, neighbours, doms, ratio >= levels[lo - 1], distinct)
    if best is None:  # too few choices to keep all neighbours apart: the most preferred that differ, where one does
        best = []
        for v in range(n):
            taken = {best[u] for u in neighbours[v] if u < v}
            best.append(next((c for c in doms[v] if c not in taken), doms[v][0]))
    return [colours[c] for c in best]


def _prefer(fill: list, neighbours, doms, allowed, distinct: bool) -> None:
    """Give each area the most preferred of its choices that keeps every
    neighbour ``allowed`` (so category colours stay where contrast allows)."""
    changed = True
    while changed:
        changed = False
        for v, dom in enumerate(doms):
            for c in dom[: dom.index(fill[v])]:
                if all(allowed[c, fill[u]] and c != fill[u] for u in neighbours[v]) and not (distinct and c in fill):
                    fill[v], changed = c, True
                    break


def _search(neighbours, doms, allowed, distinct: bool, balance: bool, budget: int):
    """Backtracking search for :func:`best_fills`: a colour index per area,
    neighbours ``allowed[a, b]``, or None."""
    n = len(doms)
    live = [list(d) for d in doms]
    rank = [{c: i for i, c in enumerate(d)} for d in doms]
    fill = [-1] * n
    used = np.zeros(allowed.shape[0], dtype=int)
    free_nb = [len(nb) for nb in neighbours]
    tries = 0

    def step(left: int) -> bool:
        nonlocal tries
        if left == 0:
            return True
        v = min((u for u in range(n) if fill[u] < 0), key=lambda u: (len(live[u]), -free_nb[u], u))
        order = sorted(live[v], key=lambda c: (used[c], rank[v][c])) if balance else live[v]
        for c in order:
            tries += 1
            if tries > budget:
                return False
            undo, ok = [], True
            others = [u for u in range(n) if fill[u] < 0 and u != v] if distinct else neighbours[v]
            for u in others:
                if fill[u] >= 0:
                    continue
                keep = [x for x in live[u] if x != c and (u not in neighbours[v] or allowed[c, x])]
                if len(keep) != len(live[u]):
                    undo.append((u, live[u]))
                    live[u] = keep
                    if not keep:
                        ok = False
                        break
            if ok:
                fill[v] = c
                used[c] += 1
                for u in neighbours[v]:
                    free_nb[u] -= 1
                if step(left - 1):
                    return True
                fill[v] = -1
                used[c] -= 1
                for u in neighbours[v]:
                    free_nb[u] += 1
            for u, old in reversed(undo):
                live[u] = old
        return False

    return fill if step(n) else None


def min_neighbour_contrast(fills: Sequence[str], neighbours: Sequence[set[int]]) -> float | None:
    """The lowest contrast between the fills of two neighbours (areas with
    no data left out); None when no two areas with data touch."""
    pairs = [contrast(fills[a], fills[b]) for a, nbs in enumerate(neighbours) for b in nbs
             if a < b and MISSING not in (fills[a], fills[b])]
    return min(pairs, default=None)


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


def identity_fills(neighbours: Sequence[set[int]], order: Sequence[int] | None = None,
                   palette: str = DEFAULT_PALETTE) -> list[str]:
    """Fills for areas that stand for themselves (no category), neighbours
    never alike. ``nhs``: a few NHS colours, lightened, handed out by DSATUR.
    ``analysis-function``: the palette and its tints, chosen by
    :func:`best_fills` for contrast between neighbours (up to six areas,
    each its own fill)."""
    if check_palette(palette) == "analysis-function":
        ranks = list(order) if order is not None else list(range(len(neighbours)))
        pos = {a: j for j, a in enumerate(ranks)}  # areas in ``order``, so the first takes the first colour
        sub = [{pos[b] for b in neighbours[a]} for a in ranks]
        few = len(ranks) <= len(ANALYSIS_FUNCTION)
        chosen = best_fills(sub, [_af_candidates()] * len(ranks), distinct=few, balance=not few)
        out = [""] * len(ranks)
        for j, a in enumerate(ranks):
            out[a] = chosen[j]
        return out
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
