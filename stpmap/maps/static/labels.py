"""Names and numbers on a static map: each area's name placed inside it
where it fits (wrapped, smaller if need be) without touching another, a
numbered marker where it does not, and the key to the numbers.

Text is measured from the font's advance widths, not by the renderer (see
:func:`text_width_px`), so placing the national map's labels stays quick.
"""

from __future__ import annotations

import math
import textwrap
from functools import cache

import numpy as np

from stpmap.maps import colours as _colours


def text_width_px(text: str, fontsize: float, dpi: float, font: str) -> float:
    """Width in pixels of one line of ``text`` in ``font``.

    Sums the font's hinted advance widths, as matplotlib's renderer lays text
    out, leaving out kerning: within 2 % of what the renderer measures, never
    under it. Asking the renderer itself takes about a millisecond a string
    with matplotlib 3.11's text shaping, and placing the national map's
    labels asks several hundred times; this takes microseconds.
    """
    fontsize, dpi = float(fontsize), float(dpi)
    return sum(_advance(font, fontsize, dpi, ch) for ch in text)


@cache
def _advance(font: str, fontsize: float, dpi: float, ch: str) -> float:
    from matplotlib.backends.backend_agg import get_hinting_flag

    return _face(font, fontsize, dpi).load_char(ord(ch), flags=get_hinting_flag()).horiAdvance / 64.0


@cache
def _face(font: str, fontsize: float, dpi: float):
    """The font's FreeType face at a size and resolution, loaded once."""
    from matplotlib import ft2font
    from matplotlib.font_manager import FontProperties, findfont

    face = ft2font.FT2Font(findfont(FontProperties(family=font)))
    face.set_size(fontsize, dpi)
    return face


# -------------------------------------------------------------- placing


class Placer:
    """Greedy label placement on one axes, in data coordinates."""

    def __init__(self, ax, renderer, font: str):
        import shapely

        self.ax, self.renderer, self.font = ax, renderer, font
        bbox = ax.get_window_extent(renderer)
        x0, x1 = ax.get_xlim()
        self.per_px = (x1 - x0) / bbox.width  # metres per pixel
        self.px_per_pt = ax.figure.dpi / 72.0
        self.taken: list = []  # shapely boxes already used
        self._sizes: dict = {}
        self._shapely = shapely
        y0, y1 = ax.get_ylim()
        self.frame = shapely.box(x0, y0, x1, y1)

    def block(self, geom):
        self.taken.append(geom)

    def free(self, box) -> bool:
        if not self._shapely.contains(self.frame, box):
            return False
        return not any(box.intersects(t) for t in self.taken)

    def text_size(self, lines, fontsize, pad_px=1.5):
        """Width and height in data units of a block of text lines (memoised)."""
        key = (tuple(lines), fontsize, pad_px)
        hit = self._sizes.get(key)
        if hit is None:
            width = max(text_width_px(line, fontsize, self.ax.figure.dpi, self.font) for line in lines)
            line_h = fontsize * self.px_per_pt * 1.2
            hit = ((width + 2 * pad_px) * self.per_px, (line_h * len(lines) + 2 * pad_px) * self.per_px)
            self._sizes[key] = hit
        return hit

    def text_box(self, lines, fontsize, x, y, pad_px=1.5):
        w, h = self.text_size(lines, fontsize, pad_px)
        return self._shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)


# id(geom) -> (geom, result): geometries are immutable, and held so ids stay theirs. Not functools.cache,
# which would hash each geometry (its whole WKB) on every look-up.
_CANDIDATES: dict = {}


def _candidates(geom, n: int = 14):
    """Points inside ``geom`` good for a label, best first: the centre of the
    largest inscribed circle of each part, then grid points far from the edge.

    Returns (points, centre, radius). Worked out once a geometry (labels,
    numbers and the key's order all ask) and kept for the process.
    """
    hit = _CANDIDATES.get(id(geom))
    if hit is None or hit[0] is not geom:
        if len(_CANDIDATES) > 4096:
            _CANDIDATES.clear()
        hit = _CANDIDATES[id(geom)] = (geom, _find_candidates(geom))
    points, centre, radius = hit[1]
    return points[:n], centre, radius


def _find_candidates(geom, n: int = 14):
    import shapely

    parts = shapely.get_parts(geom)
    main = parts[int(np.argmax(shapely.area(parts)))]
    try:
        line = shapely.maximum_inscribed_circle(main, tolerance=max(main.length / 2000.0, 1.0))
        c = shapely.get_point(line, 0)
        radius = line.length
    except Exception:  # pragma: no cover - very old shapely
        c = main.representative_point()
        radius = math.sqrt(main.area) / 4
    out = [(c.x, c.y)]
    x0, y0, x1, y1 = main.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, 13)[1:-1], np.linspace(y0, y1, 13)[1:-1])
    pts = shapely.points(gx.ravel(), gy.ravel())
    shapely.prepare(main)
    pts = pts[shapely.contains(main, pts)]
    if len(pts):
        best = np.argsort(-shapely.distance(pts, main.boundary), kind="stable")[: n - 1]
        out.extend(map(tuple, shapely.get_coordinates(pts[best]).tolist()))
    return out, (c.x, c.y), radius


def _wrap_options(text: str) -> list[list[str]]:
    opts = [[text]]
    for width in (14, 18, 24, 11, 30):
        lines = textwrap.wrap(text, width=width, break_long_words=False)
        if lines and lines not in opts and len(lines) <= 4:
            opts.append(lines)
    return opts


def place_names(placer, items, fontsizes=(7.0, 6.2, 5.6), margin_px=-1.0):
    """Try to put each label (wrapped if need be) inside its area without
    overlapping others, ``margin_px`` from its border (-1: it may touch it,
    not cross it). Returns {index: (x, y, lines, fontsize)} placed."""
    import shapely

    placed = {}
    for i, label, geom in items:
        cands, _, _ = _candidates(geom)
        xs, ys = np.array(cands, dtype=float).T
        shapely.prepare(geom)
        done = False
        for fs in fontsizes:
            for lines in sorted(_wrap_options(label), key=len):
                w, h = placer.text_size(lines, fs, pad_px=margin_px)
                inside = shapely.contains(geom, shapely.box(xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2))
                for k in np.flatnonzero(inside):
                    box = placer.text_box(lines, fs, xs[k], ys[k])
                    if placer.free(box):
                        placer.block(box)
                        placed[i] = (float(xs[k]), float(ys[k]), lines, fs)
                        done = True
                        break
                if done:
                    break
            if done:
                break
    return placed


def place_numbers(placer, items, radius_pt=5.2):
    """Numbered markers: at the area's centre if free, else nearby with a
    leader line. Returns {index: (x, y, cx, cy)} (marker and anchor)."""
    import shapely

    out = {}
    r = radius_pt * placer.px_per_pt * placer.per_px
    for i, geom in items:
        _, (cx, cy), inner = _candidates(geom, n=1)
        spots = [(cx, cy)]
        for ring in range(1, 9):
            dist = r * 2.3 * ring
            for a in range(0, 360, 30):
                t = math.radians(a + 15 * (ring % 2))
                spots.append((cx + dist * math.cos(t), cy + dist * math.sin(t)))
        for (x, y) in spots:
            circle = shapely.Point(x, y).buffer(r * 1.05, 8)
            if placer.free(circle):
                placer.block(circle)
                out[i] = (x, y, cx, cy)
                break
        else:  # nowhere free: put it on the centre anyway
            out[i] = (cx, cy, cx, cy)
    return out


# -------------------------------------------------------------- drawing


def label_areas(page, md, inset, scale_box, avoid=()) -> list:
    """Name each area inside it where the name fits, number the rest (with
    leader lines where they had to move), on the map and on the London
    inset; names are left out of a key when there are hundreds of areas.
    On a hex cartogram (areas with a ``short_label``) a hex too small for
    its name shows its short label, and the key names it. Nothing is put on
    ``avoid`` (shapely geometries, data units: what the map marks there
    already). Returns the key's [(number or short label, name)]: short
    labels in alphabetical order, then numbers in reading order."""
    import shapely

    geoms = md.gdf.geometry.values
    labels = md.gdf["label"]
    placer = Placer(page.ax, page.renderer, page.font)
    if scale_box is not None:
        placer.block(shapely.box(*scale_box))
    for g in avoid:
        placer.block(g)
    if inset is not None:
        placer.block(shapely.box(*inset.box).buffer(placer.per_px * 4))
        placer.block(shapely.box(*inset.bounds).boundary.buffer(placer.per_px * 2))
    main_items, inset_items = [], []
    for i in np.argsort(-shapely.area(geoms)):  # the largest first
        (inset_items if inset is not None and inset.members[i] else main_items).append(i)
    hexes = "short_label" in md.gdf  # a hex cartogram: names kept off the hexes' edges, sized to the hexes
    sizes = _hex_fontsizes(placer, geoms) if hexes else (7.0, 6.2, 5.6)
    names = place_names(placer, [(i, labels.iloc[i], geoms[i]) for i in main_items], fontsizes=sizes,
                         margin_px=2.5 if hexes else -1.0)
    inset_names = {}
    inset_placer = None
    if inset is not None:
        inset_placer = Placer(inset.ax, page.renderer, page.font)
        inset_names = place_names(inset_placer, [(i, labels.iloc[i], geoms[i]) for i in inset_items])
    rest_main = [i for i in main_items if i not in names]
    rest_inset = [i for i in inset_items if i not in inset_names]

    def reading_order(i):  # north to south, west to east
        c = _candidates(geoms[i], n=1)[1]
        return (-round(c[1] / 20000), c[0])

    keyed = []
    if hexes:  # a short form where the name does not fit, named in the key
        short = md.gdf["short_label"]
        shorts = place_names(placer, [(i, short.iloc[i], geoms[i]) for i in rest_main], fontsizes=(6.2, 5.6, 5.0),
                              margin_px=1.0)
        names.update(shorts)
        keyed = [(short.iloc[i], labels.iloc[i]) for i in sorted(shorts, key=lambda i: str(short.iloc[i]))]
        rest_main = [i for i in rest_main if i not in shorts]
    if len(md.gdf) > 80:  # hundreds of areas: names where they fit, no key
        rest_main, rest_inset = [], []
    rest_main.sort(key=reading_order)
    rest_inset.sort(key=reading_order)  # numbered after the main map's
    main_nums = place_numbers(placer, [(i, geoms[i]) for i in rest_main])
    inset_nums = place_numbers(inset_placer, [(i, geoms[i]) for i in rest_inset]) if inset_placer else {}
    inset_ax = inset.ax if inset is not None else None
    fills = md.gdf["fill"].tolist()
    numbered = list(keyed)
    for target, nums, items in ((page.ax, main_nums, rest_main), (inset_ax, inset_nums, rest_inset)):
        for i in items:
            x, y, cx, cy = nums[i]
            n = len(numbered) - len(keyed) + 1
            _draw_number(target, n, x, y, cx, cy, fills[i], page.font)
            numbered.append((n, labels.iloc[i]))
    for target, placed in ((page.ax, names), (inset_ax, inset_names)):
        for i, (x, y, lines, fs) in placed.items():
            target.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=fs, family=page.font,
                        color=_colours.text_colour(fills[i]), zorder=10, linespacing=1.0)
    return numbered


def _hex_fontsizes(placer, geoms) -> tuple:
    """Sizes to try for names in the hexes of a hex cartogram: 7 pt down on a
    national map, up to 9 pt where a group's few hexes are large."""
    import shapely

    x0, _, x1, _ = shapely.bounds(geoms[0])
    width_pt = (x1 - x0) / placer.per_px / placer.px_per_pt
    top = min(9.0, max(7.0, round(width_pt / 5) / 2))  # a tenth of the hex's width, to the half point
    return tuple(sorted({top, (top + 7.0) / 2, 7.0, 6.2, 5.6}, reverse=True))


def _draw_number(ax, n, x, y, cx, cy, fill, font):
    moved = (x, y) != (cx, cy)
    if moved:
        ax.plot([cx, x], [cy, y], color=_colours.NHS["NHS Dark Grey"], lw=0.5, zorder=11, solid_capstyle="round")
        ax.plot([cx], [cy], marker="o", ms=1.6, color=_colours.NHS["NHS Dark Grey"], zorder=11)
    ax.text(x, y, str(n), ha="center", va="center", fontsize=6.2, family=font, color=_colours.TEXT, zorder=12,
            fontweight="bold",
            bbox=dict(boxstyle="circle,pad=0.18", fc="white", ec=_colours.NHS["NHS Dark Grey"], lw=0.5))


def _wrap_px(text: str, max_px: float, fontsize: float, dpi: float, font: str) -> list[str]:
    """``text`` broken into lines at spaces, each at most ``max_px`` wide as
    drawn (a word longer than that stands on its own line)."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and text_width_px(f"{lines[-1]} {word}", fontsize, dpi, font) <= max_px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def draw_key(key_ax, numbered, y_top, renderer, font: str, fontsize=None):
    """The key: '12  North Central London' (on a hex cartogram also 'BLMK  Bedfordshire, Luton and
    Milton Keynes'), wrapped, in one or two columns."""
    fig = key_ax.figure
    bb = key_ax.get_window_extent(renderer)
    avail_h = bb.height * max(y_top, 0.05)
    fs = fontsize or 7.0
    words = any(isinstance(n, str) for n, _ in numbered)  # short labels of a hex cartogram, wider than numbers
    for _ in range(8):
        line_px = fs * fig.dpi / 72 * 1.28
        # the keys' column: wide enough for the longest key (bold is about a tenth wider than regular)
        key_w = max(0.055, max(text_width_px(str(n), fs, fig.dpi, font) for n, _ in numbered) * 1.12 / bb.width
                    + 0.01) if words else 0.055
        cols = 1
        wrapped = [_wrap_px(name, (1.0 - key_w - 0.04) * bb.width, fs, fig.dpi, font) for _, name in numbered]
        lines = sum(len(w) for w in wrapped)
        if lines * line_px > avail_h:
            cols = 2  # the second column starts at 0.5: each name keeps clear of the next column's numbers
            wrapped = [_wrap_px(name, (0.5 - key_w - 0.05) * bb.width, fs, fig.dpi, font) for _, name in numbered]
            lines = sum(len(w) for w in wrapped)
            if lines * line_px / 2 > avail_h * 0.97 and fs > 4.6:
                fs -= 0.4
                continue
        break
    per_col = math.ceil(lines / cols)
    step = line_px / bb.height
    y = y_top
    x = 0.0
    used = 0
    key_ax.text(0.0, y, "Key" if words else "Key to numbers", fontsize=fs + 1, fontweight="bold", va="top",
                family=font, color=_colours.TEXT, transform=key_ax.transAxes)
    y -= step * 1.4
    top_y = y
    for (n, _), wl in zip(numbered, wrapped):
        if cols == 2 and used >= per_col and x == 0.0:
            x, y = 0.5, top_y
        key_ax.text(x + key_w, y, f"{n}", fontsize=fs, fontweight="bold", va="top", ha="right", family=font,
                    color=_colours.TEXT, transform=key_ax.transAxes)
        key_ax.text(x + key_w + 0.02, y, "\n".join(wl), fontsize=fs, va="top", ha="left", family=font, color=_colours.TEXT,
                    transform=key_ax.transAxes, linespacing=1.28)
        y -= step * len(wl)
        used += len(wl)
