"""Static maps (PNG, SVG, PDF) with matplotlib, for reports and board papers.

British National Grid, names placed where they fit and numbered (with a key)
where they do not, a London inset on national maps, legend, scale bar, north
arrow, title and the ONS/OS attribution as a footnote.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.legend_handler import HandlerBase
from matplotlib.patches import Patch, Rectangle

from stpmap.maps import colours as _colours
from stpmap.errors import ChoiceError, InputError

STATIC_FORMATS = ("png", "svg", "pdf")
DEFAULT_SIZE = (10.0, 9.0)  # inches: landscape-ish, fits an A4 page at 80 %
MIN_LAYOUT = (8.0, 5.5)  # inches: maps sized in pixels are laid out at least this big (see plot)
FONTS = ("Arial", "Helvetica", "Liberation Sans", "DejaVu Sans")  # NHS documents use Arial/Frutiger


def _font() -> str:
    """The first of :data:`FONTS` that is installed (Liberation Sans has Arial's metrics)."""
    global FONT
    if FONT is None:
        from matplotlib import font_manager

        have = {f.name for f in font_manager.fontManager.ttflist}
        FONT = next((f for f in FONTS if f in have), "DejaVu Sans")
    return FONT


FONT: str | None = None
_ADVANCES: dict = {}  # (font, size, dpi) -> {character: hinted advance width in pixels}


def _text_width_px(text: str, fontsize: float, dpi: float) -> float:
    """Width in pixels of one line of ``text`` in the label font.

    Sums the font's hinted advance widths, as matplotlib's renderer lays text
    out, leaving out kerning: within 2 % of what the renderer measures, never
    under it. Asking the renderer itself takes about a millisecond a string
    with matplotlib 3.11's text shaping, and placing the national map's
    labels asks several hundred times; this takes microseconds.
    """
    advances = _ADVANCES.setdefault((_font(), float(fontsize), float(dpi)), {})
    missing = set(text).difference(advances)
    if missing:
        from matplotlib import ft2font
        from matplotlib.backends.backend_agg import get_hinting_flag
        from matplotlib.font_manager import FontProperties, findfont

        font = ft2font.FT2Font(findfont(FontProperties(family=_font())))
        font.set_size(fontsize, dpi)
        for ch in missing:
            advances[ch] = font.load_char(ord(ch), flags=get_hinting_flag()).horiAdvance / 64.0
    return sum(advances[ch] for ch in text)


LONDON_CODES_PREFIX = "E12000007"  # ONS region code of London


class _Swatch(Patch):
    """A legend swatch showing every tint a category's areas have."""

    def __init__(self, colours, label):
        super().__init__(facecolor=colours[0], label=label)
        self.colours = list(colours)


class _SwatchHandler(HandlerBase):
    def create_artists(self, legend, orig_handle, xdescent, ydescent, width, height, fontsize, trans):
        cols = orig_handle.colours
        n = len(cols)
        out = [Rectangle((-xdescent + i * width / n, -ydescent), width / n, height, facecolor=c, edgecolor="none",
                         transform=trans) for i, c in enumerate(cols)]
        hatch = getattr(orig_handle, "stp_hatch", None)
        out.append(Rectangle((-xdescent, -ydescent), width, height, facecolor="none",
                             edgecolor=_colours.NHS["NHS Mid Grey"] if hatch else "#FFFFFF", hatch=hatch,
                             linewidth=0.4, transform=trans))
        return out


# ------------------------------------------------------------------ sizes


def parse_size(size, dpi: float = 100.0, default=DEFAULT_SIZE) -> tuple[float, float]:
    """Figure size in inches from ``(w, h)`` or ``"WxH[in|cm|mm|px]"``.

    >>> parse_size("8x6")
    (8.0, 6.0)
    >>> parse_size("20x15cm")
    (7.874015748031496, 5.905511811023622)
    >>> parse_size("1200x900px", dpi=150)
    (8.0, 6.0)
    """
    if size is None:
        return default
    if isinstance(size, (tuple, list)) and len(size) == 2:
        w, h = (float(x) for x in size)
    else:
        import re

        m = re.fullmatch(r"\s*([\d.]+)\s*[x×,]\s*([\d.]+)\s*(in|cm|mm|px)?\s*", str(size).lower())
        if not m:
            raise InputError(f"Size {size!r} is not WIDTHxHEIGHT: write e.g. 10x9 (inches), 20x15cm, 297x210mm or 1600x1200px.")
        w, h = float(m.group(1)), float(m.group(2))
        unit = m.group(3) or "in"
        scale = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "px": 1 / float(dpi)}[unit]
        w, h = w * scale, h * scale
    if not (1.0 <= w <= 60 and 1.0 <= h <= 60):
        if str(size).strip().lower().endswith("px"):
            raise InputError(f"Size {size!r} is {w:.1f} x {h:.1f} inches at {dpi:g} dpi; give between {dpi:g} and "
                             f"{60 * dpi:g} pixels a side (1 to 60 inches), or change --dpi.")
        raise InputError(f"Size {size!r} gives {w:.1f} x {h:.1f} inches; give between 1 and 60 inches a side.")
    return w, h


# -------------------------------------------------------------- geometry


def _paths(geoms):
    """matplotlib Paths for shapely (Multi)Polygons, holes included."""
    import shapely
    from matplotlib.path import Path as MPath

    out = []
    for g in geoms:
        verts, codes = [], []
        parts = shapely.get_parts(g)
        for p in parts:
            if p.is_empty or p.geom_type != "Polygon":
                continue
            for ring in [p.exterior, *p.interiors]:
                xy = np.asarray(ring.coords)
                if len(xy) < 3:
                    continue
                c = np.full(len(xy), MPath.LINETO, dtype=np.uint8)
                c[0] = MPath.MOVETO
                c[-1] = MPath.CLOSEPOLY
                verts.append(xy)
                codes.append(c)
        if verts:
            out.append(MPath(np.concatenate(verts), np.concatenate(codes)))
        else:
            out.append(MPath(np.zeros((1, 2)), [MPath.MOVETO]))
    return out


def _draw_polygons(ax, geoms, facecolors, edgecolor="white", linewidth=0.6, zorder=1, hatch=None, alpha=None):
    from matplotlib.collections import PathCollection, PatchCollection
    from matplotlib.patches import PathPatch

    paths = _paths(geoms)
    if hatch:
        patches = [PathPatch(p) for p in paths]
        col = PatchCollection(patches, facecolors=facecolors, edgecolors=edgecolor, linewidths=linewidth,
                              zorder=zorder, hatch=hatch)
    else:
        col = PathCollection(paths, facecolors=facecolors, edgecolors=edgecolor, linewidths=linewidth, zorder=zorder)
    if alpha is not None:
        col.set_alpha(alpha)
    ax.add_collection(col)
    return col


def _draw_lines(ax, geoms, color, linewidth, zorder, linestyle="-"):
    import shapely
    from matplotlib.collections import LineCollection

    segs = []
    for g in geoms:
        for p in shapely.get_parts(g):
            if p.geom_type != "Polygon":
                continue
            for ring in [p.exterior, *p.interiors]:
                segs.append(np.asarray(ring.coords))
    lc = LineCollection(segs, colors=color, linewidths=linewidth, zorder=zorder, linestyles=linestyle,
                        capstyle="round", joinstyle="round")
    ax.add_collection(lc)
    return lc


# ---------------------------------------------------------------- labels


class _Placer:
    """Greedy label placement on one axes, in data coordinates."""

    def __init__(self, ax, renderer):
        import shapely

        self.ax, self.renderer = ax, renderer
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
            width = max(_text_width_px(line, fontsize, self.ax.figure.dpi) for line in lines)
            line_h = fontsize * self.px_per_pt * 1.2
            hit = ((width + 2 * pad_px) * self.per_px, (line_h * len(lines) + 2 * pad_px) * self.per_px)
            self._sizes[key] = hit
        return hit

    def text_box(self, lines, fontsize, x, y, pad_px=1.5):
        w, h = self.text_size(lines, fontsize, pad_px)
        return self._shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)


_CANDIDATES: dict = {}  # id(geom) -> (geom, result): geometries are immutable, and held so ids stay theirs


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


def _place_names(placer, items, fontsizes=(7.0, 6.2, 5.6)):
    """Try to put each label (wrapped if need be) inside its area without
    overlapping others. Returns {index: (x, y, lines, fontsize)} placed."""
    import shapely

    placed = {}
    for i, label, geom in items:
        cands, _, _ = _candidates(geom)
        xs, ys = np.array(cands, dtype=float).T
        shapely.prepare(geom)
        done = False
        for fs in fontsizes:
            for lines in sorted(_wrap_options(label), key=len):
                w, h = placer.text_size(lines, fs, pad_px=-1.0)  # may touch the border, not cross it
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


def _place_numbers(placer, items, radius_pt=5.2):
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


# ---------------------------------------------------------- furniture


def _nice_length(width_m: float) -> float:
    target = width_m / 5
    for km in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500):
        if km * 1000 >= target * 0.7:
            return km * 1000.0
    return 500_000.0


def _scale_bar(ax, geoms=None, avoid=(), fontsize=6.5):
    """Scale bar and north arrow in the corner of the map that covers least
    of the areas (lower right first). Returns the box it takes (data units)."""
    import shapely
    from matplotlib.patches import FancyBboxPatch

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice_length(w)
    bar_h = h * 0.008

    def extent(corner):
        right = x1 - w * 0.03 if corner[1] == "r" else x0 + w * 0.03 + w * 0.06 + length
        base = y0 + h * 0.035 if corner[0] == "l" else y1 - h * 0.035 - h * 0.075
        return right, base, (right - length - w * 0.06, base - h * 0.025, right + w * 0.015, base + h * 0.075)

    best = None
    geoms = np.asarray(geoms if geoms is not None else [], dtype=object)
    for corner in ("lr", "ll", "ul", "ur"):
        right, base, ext = extent(corner)
        b = shapely.box(*ext)
        # the areas do not overlap, so the area they cover in the box is the sum of their parts in it
        cost = float(shapely.area(shapely.clip_by_rect(geoms, *ext)).sum()) + sum(b.intersection(a).area * 10 for a in avoid)
        if best is None or cost < best[0] - 1e-9 * w * h:
            best = (cost, right, base, ext)
    _, right, base, ext = best
    left = right - length
    ax.add_patch(FancyBboxPatch((ext[0], ext[1]), ext[2] - ext[0], ext[3] - ext[1],
                                boxstyle="round,pad=0,rounding_size=%f" % (w * 0.004), fc="white", ec="none",
                                alpha=0.85, zorder=20))
    half = length / 2
    ax.add_patch(Rectangle((left, base), half, bar_h, fc=_colours.TEXT, ec=_colours.TEXT, lw=0.5, zorder=21))
    ax.add_patch(Rectangle((left + half, base), half, bar_h, fc="white", ec=_colours.TEXT, lw=0.5, zorder=21))
    km = length / 1000
    for x, t in ((left, "0"), (left + half, f"{km / 2:g}"), (left + length, f"{km:g} km")):
        ax.text(x, base + bar_h * 1.8, t, ha="center", va="bottom", fontsize=fontsize, color=_colours.TEXT, zorder=22,
                family=_font())
    # north arrow (British National Grid: grid north is up)
    ax.annotate("N", xy=(left - w * 0.035, base + h * 0.06), xytext=(left - w * 0.035, base - h * 0.005),
                ha="center", va="bottom", fontsize=fontsize + 1, fontweight="bold", color=_colours.TEXT, zorder=22,
                family=_font(), arrowprops=dict(arrowstyle="-|>", color=_colours.TEXT, lw=0.8, shrinkA=9, shrinkB=0))
    return ext


def _empty_corner(geoms, bounds, aspect: float, corner: str = "ne", max_frac: float = 0.42, min_frac: float = 0.2):
    """The largest box of the given aspect (w/h) in a corner of ``bounds``
    that no geometry enters, as (x0, y0, x1, y1), or None."""
    import shapely

    x0, y0, x1, y1 = bounds
    W, H = x1 - x0, y1 - y0
    tree = shapely.STRtree(geoms)
    for frac in np.linspace(max_frac, min_frac, 12):
        w = W * frac
        h = w / aspect
        if h > H * 0.6:
            h = H * 0.6
            w = h * aspect
        if corner == "ne":
            box = shapely.box(x1 - w, y1 - h, x1, y1)
        else:
            box = shapely.box(x0, y1 - h, x0 + w, y1)
        if len(tree.query(box.buffer(W * 0.01), predicate="intersects")) == 0:
            return box.bounds
    return None


# ----------------------------------------------------------------- figure


def render(md, size=None, dpi: float = 100.0, inset: bool | None = None, key_fontsize: float | None = None):
    """Draw a :class:`stpmap.maps.prepare.MapData` as a matplotlib Figure."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):  # names and titles are text, never mathtext ("$" is a dollar)
        return _render(md, size, dpi, inset, key_fontsize)


def _render(md, size, dpi, inset, key_fontsize):
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import shapely as _sh

    gdf = md.gdf
    geoms = gdf.geometry.values
    fills = gdf["fill"].tolist()
    side = md.legend.kind != "identity" or md.labels != "none"
    map_w = 0.66 if side else 0.96
    w_in, h_in = parse_size(size, dpi)
    foot_lines = _footnote(md, w_in)
    foot_in = 0.16 + 0.115 * len(foot_lines)
    if size is None:  # fit the height to the map's shape (and the key's length)
        bx0, by0, bx1, by1 = _sh.total_bounds(geoms)
        aspect = (by1 - by0) / max(bx1 - bx0, 1.0)
        map_h = map_w * w_in * aspect
        key_h = 0.0
        if side:
            key_h = 0.2 * (len(md.legend.entries) + 3) + (0.07 * min(len(gdf), 60) if md.labels != "none" else 0)
        h_in = round(float(min(13.0, max(5.5, max(map_h, key_h) + 0.95 + foot_in + 0.1))), 1)
    fig = Figure(figsize=(w_in, h_in), dpi=dpi)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()

    # -------------------------------------------------------- layout
    top = 1 - 0.95 / h_in  # title and subtitle take ~0.95 in
    bottom = foot_in / h_in
    ax = fig.add_axes((0.02, bottom, map_w, top - bottom))
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_anchor("NW" if side else "N")

    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = 0.03 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.apply_aspect()

    # -------------------------------------------------------- layers
    if md.context is not None and len(md.context):
        ctx = md.context
        near = ctx[ctx.intersects(shapely.box(x0 - 4 * pad, y0 - 4 * pad, x1 + 4 * pad, y1 + 4 * pad))]
        _draw_polygons(ax, near.geometry.values, _colours.CONTEXT_FILL, edgecolor="white", linewidth=0.5, zorder=0)
    missing = np.array([f == _colours.MISSING for f in fills])
    _draw_polygons(ax, geoms[~missing], [f for f, m in zip(fills, missing) if not m], edgecolor="none", linewidth=0, zorder=1)
    if missing.any():
        _draw_polygons(ax, geoms[missing], _colours.MISSING, edgecolor=_colours.NHS["NHS Mid Grey"], linewidth=0,
                       zorder=1, hatch="////")
    if md.overlay is not None and len(md.overlay):
        _draw_lines(ax, md.overlay.geometry.values, _colours.NHS["NHS Dark Grey"], 0.3, zorder=3, linestyle=(0, (3, 1.5)))
    _draw_lines(ax, geoms, "white", 0.7 if md.layer == "stp" else 0.35, zorder=2)
    if md.outline is not None and len(md.outline):
        _draw_lines(ax, md.outline.geometry.values, _colours.NHS["NHS Dark Grey"], 0.9, zorder=4)

    # -------------------------------------------------------- London inset
    is_london = _london_mask(gdf)
    want_inset = md.national and is_london.any() and (inset is None or inset)
    inset_ax = None
    inset_box = None
    if want_inset:
        lb = shapely.total_bounds(geoms[is_london])
        lpad = 0.12 * max(lb[2] - lb[0], lb[3] - lb[1])
        lbounds = (lb[0] - lpad, lb[1] - lpad, lb[2] + lpad, lb[3] + lpad)
        aspect = (lbounds[2] - lbounds[0]) / (lbounds[3] - lbounds[1])
        (ax_x0, ax_x1), (ax_y0, ax_y1) = ax.get_xlim(), ax.get_ylim()
        corner = _empty_corner(geoms, (ax_x0, ax_y0, ax_x1, ax_y1), aspect)
        if corner is not None:
            inset_box = corner
            trans = ax.transData + fig.transFigure.inverted()
            (fx0, fy0), (fx1, fy1) = trans.transform([(corner[0], corner[1]), (corner[2], corner[3])])
            inset_ax = fig.add_axes((fx0, fy0, fx1 - fx0, fy1 - fy0))
            inset_ax.set_aspect("equal")
            inset_ax.set_xlim(lbounds[0], lbounds[2])
            inset_ax.set_ylim(lbounds[1], lbounds[3])
            inset_ax.set_xticks([])
            inset_ax.set_yticks([])
            for s in inset_ax.spines.values():
                s.set_edgecolor(_colours.NHS["NHS Dark Grey"])
                s.set_linewidth(0.8)
            inset_ax.set_facecolor("white")
            near = gdf[gdf.intersects(shapely.box(*lbounds))]
            idx = near.index.to_numpy()
            _draw_polygons(inset_ax, geoms[idx], [fills[i] if fills[i] != _colours.MISSING else _colours.MISSING for i in idx],
                           edgecolor="none", linewidth=0, zorder=1)
            if md.overlay is not None and len(md.overlay):
                ovn = md.overlay[md.overlay.intersects(shapely.box(*lbounds))]
                _draw_lines(inset_ax, ovn.geometry.values, _colours.NHS["NHS Dark Grey"], 0.3, zorder=3, linestyle=(0, (3, 1.5)))
            _draw_lines(inset_ax, geoms[idx], "white", 0.9, zorder=2)
            inset_ax.set_title("London", fontsize=7.5, loc="left", pad=2, color=_colours.TEXT, family=_font(), fontweight="bold")
            inset_ax.apply_aspect()
            ax.add_patch(Rectangle((lbounds[0], lbounds[1]), lbounds[2] - lbounds[0], lbounds[3] - lbounds[1],
                                   fill=False, ec=_colours.NHS["NHS Dark Grey"], lw=0.7, zorder=6))

    # -------------------------------------------------------- scale bar
    sb = _scale_bar(ax, geoms, avoid=[shapely.box(*inset_box)] if inset_box is not None else [])

    # -------------------------------------------------------- labels
    numbered = []  # (number, label)
    if md.labels != "none":
        placer = _Placer(ax, renderer)
        placer.block(shapely.box(*sb))
        if inset_box is not None:
            placer.block(shapely.box(*inset_box).buffer(placer.per_px * 4))
            placer.block(shapely.box(*lbounds).boundary.buffer(placer.per_px * 2))
        main_items, inset_items = [], []
        order = np.argsort(-shapely.area(geoms))
        for i in order:
            if inset_ax is not None and is_london[i]:
                inset_items.append(i)
            else:
                main_items.append(i)
        many = len(gdf) > 80
        names = _place_names(placer, [(i, gdf["label"].iloc[i], geoms[i]) for i in main_items])
        inset_names = {}
        inset_placer = None
        if inset_ax is not None:
            inset_placer = _Placer(inset_ax, renderer)
            inset_names = _place_names(inset_placer, [(i, gdf["label"].iloc[i], geoms[i]) for i in inset_items])
        rest_main = [i for i in main_items if i not in names]
        rest_inset = [i for i in inset_items if i not in inset_names]
        if many:  # hundreds of areas: names where they fit, no key
            rest_main, rest_inset = [], []
        # number in reading order: north to south, west to east; inset last
        def _key(i):
            c = _candidates(geoms[i], n=1)[1]
            return (-round(c[1] / 20000), c[0])

        rest_main.sort(key=_key)
        rest_inset.sort(key=_key)
        main_nums = _place_numbers(placer, [(i, geoms[i]) for i in rest_main])
        inset_nums = _place_numbers(inset_placer, [(i, geoms[i]) for i in rest_inset]) if inset_placer else {}
        n = 0
        for target, nums in ((ax, main_nums), (inset_ax, inset_nums)):
            for i in (rest_main if target is ax else rest_inset):
                n += 1
                x, y, cx, cy = nums[i]
                _draw_number(target, n, x, y, cx, cy, fills[i])
                numbered.append((n, gdf["label"].iloc[i]))
        for target, placed in ((ax, names), (inset_ax, inset_names)):
            for i, (x, y, lines, fs) in placed.items():
                target.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=fs, family=_font(),
                            color=_colours.text_colour(fills[i]), zorder=10, linespacing=1.0)

    # -------------------------------------------------------- titles
    fig.text(0.02, 1 - 0.22 / h_in, md.title, ha="left", va="top", fontsize=15, fontweight="bold", family=_font(),
             color=_colours.NHS["NHS Dark Blue"])
    if md.subtitle:
        fig.text(0.02, 1 - 0.58 / h_in, md.subtitle, ha="left", va="top", fontsize=9.5, family=_font(),
                 color=_colours.NHS["NHS Dark Grey"])
    fig.text(0.02, 0.1 / h_in, "\n".join(foot_lines), ha="left", va="bottom", fontsize=6.3, family=_font(),
             color=_colours.NHS["NHS Dark Grey"], linespacing=1.35)

    # -------------------------------------------------------- legend and key
    if side:
        kx = 0.02 + map_w + 0.015
        key_ax = fig.add_axes((kx, bottom, 0.98 - kx, top - bottom))
        key_ax.set_axis_off()
        note_chars = max(20, int((0.98 - kx) * w_in * 72 / (6.5 * 0.52)))
        y = 1.0
        handles = []
        lg = md.legend
        label_chars = max(16, int((0.98 - kx) * w_in * 72 / (7.5 * 0.55)) - 5)
        if lg.kind in ("categories", "classes"):
            handles = [_Swatch(lg.swatches.get(l, [c]), label=textwrap.fill(str(l), label_chars)) for l, c in lg.entries]
        if lg.missing:
            sw = _Swatch([_colours.MISSING], lg.missing)
            sw.stp_hatch = "////"
            handles.append(sw)
        if handles:
            leg = key_ax.legend(handles=handles, handler_map={_Swatch: _SwatchHandler()}, loc="upper left", bbox_to_anchor=(0.0, 1.0), frameon=False,
                                title=lg.title, title_fontsize=8.5, fontsize=7.5, alignment="left",
                                handlelength=1.6, handleheight=1.1, borderaxespad=0.0, labelspacing=0.35)
            for t in leg.get_texts():
                t.set_family(_font())
            leg.get_title().set_fontweight("bold")
            leg.get_title().set_family(_font())
            key_ax.add_artist(leg)
            bb = leg.get_window_extent(renderer).transformed(key_ax.transAxes.inverted())
            y = bb.y0 - 0.12 / (top - bottom) / h_in  # 0.12 in below the legend
        if lg.note:
            t = key_ax.text(0.0, y, textwrap.fill(lg.note, note_chars), fontsize=6.3, color=_colours.NHS["NHS Dark Grey"],
                            va="top", family=_font(), transform=key_ax.transAxes)
            bb = t.get_window_extent(renderer).transformed(key_ax.transAxes.inverted())
            y = bb.y0 - 0.2 / (top - bottom) / h_in
        if numbered:
            _draw_key(key_ax, numbered, y, renderer, key_fontsize)
    return fig


def _london_mask(gdf) -> np.ndarray:
    if "region_code" in gdf:
        return (gdf["region_code"] == LONDON_CODES_PREFIX).to_numpy()
    if "region" in gdf:
        return (gdf["region"] == "London").to_numpy()
    return np.zeros(len(gdf), dtype=bool)


def _draw_number(ax, n, x, y, cx, cy, fill):
    moved = (x, y) != (cx, cy)
    if moved:
        ax.plot([cx, x], [cy, y], color=_colours.NHS["NHS Dark Grey"], lw=0.5, zorder=11, solid_capstyle="round")
        ax.plot([cx], [cy], marker="o", ms=1.6, color=_colours.NHS["NHS Dark Grey"], zorder=11)
    ax.text(x, y, str(n), ha="center", va="center", fontsize=6.2, family=_font(), color=_colours.TEXT, zorder=12,
            fontweight="bold",
            bbox=dict(boxstyle="circle,pad=0.18", fc="white", ec=_colours.NHS["NHS Dark Grey"], lw=0.5))


def _draw_key(key_ax, numbered, y_top, renderer, fontsize=None):
    """The numbered key: '12  North Central London', wrapped, in one or two columns."""
    fig = key_ax.figure
    bb = key_ax.get_window_extent(renderer)
    avail_h = bb.height * max(y_top, 0.05)
    fs = fontsize or 7.0
    for _ in range(8):
        line_px = fs * fig.dpi / 72 * 1.28
        width_chars = max(18, int(bb.width / (fs * fig.dpi / 72 * 0.52)) - 4)
        cols = 1
        wrapped = [textwrap.wrap(name, width_chars) or [""] for _, name in numbered]
        lines = sum(len(w) for w in wrapped)
        if lines * line_px > avail_h:
            cols = 2
            width_chars = max(14, width_chars // 2 - 2)
            wrapped = [textwrap.wrap(name, width_chars) or [""] for _, name in numbered]
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
    key_ax.text(0.0, y, "Key to numbers", fontsize=fs + 1, fontweight="bold", va="top", family=_font(),
                color=_colours.TEXT, transform=key_ax.transAxes)
    y -= step * 1.4
    top_y = y
    for (n, _), wl in zip(numbered, wrapped):
        if cols == 2 and used >= per_col and x == 0.0:
            x, y = 0.5, top_y
        key_ax.text(x + 0.055, y, f"{n}", fontsize=fs, fontweight="bold", va="top", ha="right", family=_font(),
                    color=_colours.TEXT, transform=key_ax.transAxes)
        key_ax.text(x + 0.075, y, "\n".join(wl), fontsize=fs, va="top", ha="left", family=_font(), color=_colours.TEXT,
                    transform=key_ax.transAxes, linespacing=1.28)
        y -= step * len(wl)
        used += len(wl)


def _footnote(md, width_in: float) -> list[str]:
    width = max(60, int(width_in * 20.5))
    parts = [md.attribution, *md.notes]
    lines = []
    for p in parts:
        lines.extend(textwrap.wrap(p, width))
    return lines[:9]


# ------------------------------------------------------------------- save


def save(fig, path, fmt: str | None = None, dpi: float = 200.0) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (text stays text in SVG and PDF)."""
    import matplotlib

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "png").lower()
    if fmt not in STATIC_FORMATS:
        raise ChoiceError("format", fmt, STATIC_FORMATS)
    path.parent.mkdir(parents=True, exist_ok=True)
    rc = {"svg.fonttype": "none", "pdf.fonttype": 42}
    if fmt == "png" and dpi >= 200:  # grid-fitting glyphs is invisible at print resolution, and costs a quarter of the drawing
        rc["text.hinting"] = "no_hinting"
    with matplotlib.rc_context(rc):
        if fmt == "png" and _save_png_rgb(fig, path, dpi):
            return path
        meta = {"png": {"Software": "stpmap"}, "svg": {"Creator": "stpmap"}, "pdf": {"Creator": "stpmap"}}[fmt]
        fig.savefig(path, format=fmt, dpi=dpi, facecolor="white", metadata=meta)
    return path


def _save_png_rgb(fig, path: Path, dpi: float) -> bool:
    """Write a PNG with no alpha channel (the map has a white background) and
    zlib's run-length strategy, which suits maps' flat fills: no larger and
    about twice as quick to write as matplotlib's RGBA PNG.
    Returns False, writing nothing, if the pixels cannot be had as expected."""
    import io
    import zlib

    from PIL import Image, PngImagePlugin

    buf = io.BytesIO()
    fig.savefig(buf, format="raw", dpi=dpi, facecolor="white")
    w, h = int(fig.get_figwidth() * dpi), int(fig.get_figheight() * dpi)
    raw = buf.getbuffer()
    if w * h * 4 != raw.nbytes:
        return False
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "stpmap")
    image = Image.frombuffer("RGBA", (w, h), raw, "raw", "RGBA", 0, 1).convert("RGB")
    image.save(path, format="png", pnginfo=info, dpi=(dpi, dpi), compress_type=zlib.Z_RLE)
    return True


# -------------------------------------------------------------------- API


def plot(
    vintage=None,
    group=None,
    *,
    footprint=None,
    layer: str = "stp",
    overlay: str | None = None,
    colour_by: str | None = None,
    data=None,
    join_on: str | None = None,
    value: str | None = None,
    aggregate: str | None = None,
    scheme: str | None = None,
    k: int = 5,
    bins=None,
    ramp: str = _colours.DEFAULT_RAMP,
    labels: str = "name",
    title: str | None = None,
    groups_file=None,
    size=None,
    dpi: float = 100.0,
    inset: bool | None = None,
):
    """A publication-quality static map of footprints, CCGs or districts.

    Parameters
    ----------
    vintage : int, default 2017
        2017 (44 footprints) or 2021 (42).
    group : str, optional
        Only the footprints of a named group ("East of England",
        "nhs_region:London"...; ``stpmap groups`` lists them).
    footprint : str or list of str, optional
        Only these footprints (codes or names).
    layer : {"stp", "ccg", "lad"}
        Areas to fill.
    overlay : {"ccg", "lad"}, optional
        Areas to outline on top.
    colour_by : str, optional
        ``"region"`` (ONS region, the default), ``"nhs_region"``,
        ``"nhs_local_office"`` (2017), ``"footprint"`` (each area its own fill),
        ``"population"`` or any column of the layer (numeric: a choropleth;
        text: categories), or the ``value`` column of ``data``. Categories use
        NHS identity colours, with tints so neighbours never share a fill;
        choropleths a colour-blind-safe ramp.
    data, join_on, value, aggregate
        The user's CSV/XLSX (or DataFrame) to map; see
        :func:`stpmap.maps.userdata.join`. Rows that match nothing are reported as
        warnings, never dropped silently.
    scheme : str, default "quantiles"
        mapclassify scheme for numbers: quantiles, natural_breaks,
        equal_interval, fisher_jenks, headtail_breaks, prettybreaks,
        user_defined (with ``bins``)...
    k : int, default 5
        Number of classes.
    ramp : str, default "nhs_blues"
        Colour ramp for numbers (or any matplotlib colormap, e.g. "cividis").
    labels : {"name", "code", "none"}
        Area labels: names inside areas where they fit, numbers with a key
        where they do not.
    title : str, optional
        Title (default: says what, where and when).
    size : (float, float) or str, optional
        Figure size: inches, or "20x15cm", "297x210mm", "1600x1200px".
        Pixels are pixels at ``dpi``; when they make less than 8 x 5.5
        inches, the map is laid out at that size with a lower dpi, so its
        title, legend and key still fit in the pixels asked for.
    dpi : float
        Dots per inch the map is laid out for; save at the same dpi
        (``fig.savefig(path, dpi=fig.dpi)``, or matplotlib's default).
    inset : bool, optional
        London inset on national maps (default: yes when London is shown).

    Returns
    -------
    matplotlib.figure.Figure
        Shown inline in Jupyter; save with ``fig.savefig("map.png", dpi=300)``.

    Examples
    --------
    >>> import stpmap
    >>> fig = stpmap.plot()                                   # 44 footprints by region
    >>> fig = stpmap.plot(group="East of England", overlay="ccg")
    >>> fig = stpmap.plot(colour_by="population", scheme="natural_breaks", k=4)
    >>> fig.savefig("footprints.png", dpi=300)
    """
    if isinstance(size, str) and size.strip().lower().endswith("px"):
        w_in, h_in = parse_size(size, dpi)
        shrink = max(1.0, MIN_LAYOUT[0] / w_in, MIN_LAYOUT[1] / h_in)
        if shrink > 1.0:  # lay a small map out at the smallest size it fits, then scale it down: same pixels, smaller text
            size, dpi = (w_in * shrink, h_in * shrink), dpi / shrink
    w_in, _ = parse_size(size, dpi)
    md = _prepare_for_static(vintage, group, footprint, layer, overlay, colour_by, data, join_on, value, aggregate,
                             scheme, k, bins, ramp, labels, title, groups_file, w_in)
    fig = render(md, size=size, dpi=dpi, inset=inset)
    _inline(fig)
    return fig


def _inline(fig):
    """Let Jupyter show the figure even when it was not made through pyplot."""
    import io

    def _repr_png_():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
        return buf.getvalue()

    fig._repr_png_ = _repr_png_


def _prepare_for_static(vintage, group, footprint, layer, overlay, colour_by, data, join_on, value, aggregate,
                        scheme, k, bins, ramp, labels, title, groups_file, width_in):
    """Prepare with a simplification tolerance of about a third of a printed
    pixel at 300 dpi: invisible in print, much faster to draw."""
    from stpmap.data import atlas as _atlas
    from stpmap import settings as _settings
    from stpmap.data.selection import select_codes
    from stpmap.maps.prepare import prepare
    from stpmap.data.registry import registry

    v = registry().check_vintage(vintage)
    codes = select_codes(v, group, groups_file, footprint)
    extent = 620_000.0
    if codes is not None:
        stp = _atlas.layer("stp", v)
        b = stp[stp["code"].isin(codes)].total_bounds
        extent = max(b[2] - b[0], b[3] - b[1])
    tolerance = max(10.0, min(250.0, extent / (width_in * 0.66 * 300) / 3))
    return prepare(v, group, footprint, layer=layer, overlay=overlay, colour_by=colour_by, data=data,
                   join_on=join_on, value=value, aggregate=aggregate, scheme=scheme, k=k, bins=bins, ramp=ramp,
                   labels=labels, title=title, groups_file=groups_file, tolerance=tolerance)
