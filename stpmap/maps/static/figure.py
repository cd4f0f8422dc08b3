"""The page of a static map: its size, the figure and the map's axes laid
out on it, the areas drawn, and the title, subtitle and footnote."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from stpmap.errors import InputError
from stpmap.maps import colours as _colours

DEFAULT_SIZE = (10.0, 9.0)  # inches: landscape-ish, fits an A4 page at 80 %
MIN_LAYOUT = (8.0, 5.5)  # inches: maps sized in pixels are laid out at least this big (see stpmap.plot)


# ------------------------------------------------------------------ sizes

#: Sizes by name, inches (width, height); a height of None is fitted to the map.
NAMED_SIZES = {
    "a4-text": (16 / 2.54, None),  # A4's text width (21 cm less 2.5 cm margins)
    "a4": (21 / 2.54, 29.7 / 2.54),
    "a4-landscape": (29.7 / 2.54, 21 / 2.54),
    "slide": (13.333, 7.5),  # a 16:9 PowerPoint slide
}


def fitted_height(size) -> bool:
    """Whether the page's height is fitted to the map: no size given, or a
    named size with a width only (``a4-text``)."""
    return size is None or (isinstance(size, str) and NAMED_SIZES.get(size.strip().lower(), (0, 0))[1] is None)


def parse_size(size, dpi: float = 100.0, default=DEFAULT_SIZE) -> tuple[float, float]:
    """Figure size in inches from ``(w, h)``, ``"WxH[in|cm|mm|px]"`` or a
    name of :data:`NAMED_SIZES` (``a4-text``: 16 cm wide, its height fitted
    to the map when drawn; ``slide``: 13.33 x 7.5 in; ``a4``, ``a4-landscape``).

    >>> parse_size("8x6")
    (8.0, 6.0)
    >>> parse_size("20x15cm")
    (7.874015748031496, 5.905511811023622)
    >>> parse_size("1200x900px", dpi=150)
    (8.0, 6.0)
    >>> parse_size("slide")
    (13.333, 7.5)
    """
    if size is None:
        return default
    named = NAMED_SIZES.get(size.strip().lower()) if isinstance(size, str) else None
    if named is not None:
        w, h = named
        return w, h if h is not None else round(w * default[1] / default[0], 3)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        w, h = (float(x) for x in size)
    else:
        m = re.fullmatch(r"\s*([\d.]+)\s*[x×,]\s*([\d.]+)\s*(in|cm|mm|px)?\s*", str(size).lower())
        if not m:
            raise InputError(f"Size {size!r} is not WIDTHxHEIGHT or a named size: write e.g. 10x9 (inches), 20x15cm, "
                             f"297x210mm, 1600x1200px, or one of {', '.join(NAMED_SIZES)}.")
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


# ------------------------------------------------------------------- page


@dataclass
class Page:
    """A static map's figure and how it is laid out (fractions of the figure)."""

    fig: object  # matplotlib Figure
    renderer: object
    ax: object  # the map's axes, British National Grid metres
    font: str
    w_in: float
    h_in: float
    top: float  # below the title and subtitle
    bottom: float  # above the footnote
    map_w: float
    side: bool  # a side panel for the legend and the key
    foot_lines: list
    bounds: tuple  # the areas' (x0, y0, x1, y1)
    pad: float  # margin around them, metres


def new_page(md, size, dpi: float, font: str) -> Page:
    """The figure and the map's axes, sized for the map, its side panel and
    its footnote, with the map's extent set."""
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    geoms = md.gdf.geometry.values
    side = md.legend.kind != "identity" or md.labels != "none"
    map_w = 0.66 if side else 0.96
    w_in, h_in = parse_size(size, dpi)
    if side and not md.national:  # on a wide page the panel keeps to ~3 in and the map takes the rest
        map_w = max(map_w, 1 - 0.06 - 3.0 / w_in)
    foot_lines = _footnote(md, w_in)
    foot_in = 0.16 + 0.115 * len(foot_lines)
    if fitted_height(size):
        h_in = _fitted_height(md, map_w * w_in, side, foot_in)
    fig = Figure(figsize=(w_in, h_in), dpi=dpi)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()

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
    if md.context is not None and len(md.context):  # only surroundings can fill the band; white would not
        _widen(ax, map_w * w_in, (top - bottom) * h_in)
    ax.apply_aspect()
    return Page(fig=fig, renderer=renderer, ax=ax, font=font, w_in=w_in, h_in=h_in, top=top, bottom=bottom,
                map_w=map_w, side=side, foot_lines=foot_lines, bounds=(x0, y0, x1, y1), pad=pad)


def _widen(ax, box_w_in: float, box_h_in: float) -> None:
    """On a page much wider than the map (a slide), show more of the
    surroundings left and right rather than leave a band beside the map."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    wanted = (y1 - y0) * box_w_in / max(box_h_in, 1e-6)
    if wanted > 1.05 * (x1 - x0):
        mid = (x0 + x1) / 2
        ax.set_xlim(mid - wanted / 2, mid + wanted / 2)


def _fitted_height(md, map_width_in: float, side: bool, foot_in: float) -> float:
    """A page height (inches) that fits the map's shape and the key's length."""
    import shapely

    bx0, by0, bx1, by1 = shapely.total_bounds(md.gdf.geometry.values)
    aspect = (by1 - by0) / max(bx1 - bx0, 1.0)
    map_h = map_width_in * aspect
    key_h = 0.0
    if side:
        key_h = 0.2 * (len(md.legend.entries) + 3) + (0.07 * min(len(md.gdf), 60) if md.labels != "none" else 0)
    return round(float(min(13.0, max(5.5, max(map_h, key_h) + 0.95 + foot_in + 0.1))), 1)


def _footnote(md, width_in: float) -> list[str]:
    width = max(60, int(width_in * 20.5))
    parts = [md.attribution, *md.notes]
    lines = []
    for p in parts:
        lines.extend(textwrap.wrap(p, width))
    return lines[:9]


def draw_titles(page: Page, md) -> None:
    """Title and subtitle above the map, the attribution and notes below it."""
    fig, h_in, font = page.fig, page.h_in, page.font
    fig.text(0.02, 1 - 0.22 / h_in, md.title, ha="left", va="top", fontsize=15, fontweight="bold", family=font,
             color=_colours.NHS["NHS Dark Blue"])
    if md.subtitle:
        fig.text(0.02, 1 - 0.58 / h_in, md.subtitle, ha="left", va="top", fontsize=9.5, family=font,
                 color=_colours.NHS["NHS Dark Grey"])
    fig.text(0.02, 0.1 / h_in, "\n".join(page.foot_lines), ha="left", va="bottom", fontsize=6.3, family=font,
             color=_colours.NHS["NHS Dark Grey"], linespacing=1.35)


# ------------------------------------------------------------------ areas


def draw_areas(page: Page, md) -> None:
    """The footprints around a selection, the areas' fills (hatched where
    there is no data), the overlay, the areas' borders and footprint outlines."""
    import shapely

    ax, pad = page.ax, page.pad
    x0, y0, x1, y1 = page.bounds
    geoms = md.gdf.geometry.values
    fills = md.gdf["fill"].tolist()
    if md.context is not None and len(md.context):
        ctx = md.context
        (vx0, vx1), (vy0, vy1) = ax.get_xlim(), ax.get_ylim()  # what the axes show, wider than the areas on wide pages
        near = ctx[ctx.intersects(shapely.box(min(x0 - 4 * pad, vx0), min(y0 - 4 * pad, vy0), max(x1 + 4 * pad, vx1),
                                              max(y1 + 4 * pad, vy1)))]
        draw_polygons(ax, near.geometry.values, _colours.CONTEXT_FILL, edgecolor="white", linewidth=0.5, zorder=0)
    missing = np.array([f == _colours.MISSING for f in fills])
    draw_polygons(ax, geoms[~missing], [f for f, m in zip(fills, missing) if not m], edgecolor="none", linewidth=0, zorder=1)
    if missing.any():
        draw_polygons(ax, geoms[missing], _colours.MISSING, edgecolor=_colours.NHS["NHS Mid Grey"], linewidth=0,
                      zorder=1, hatch="////")
    if md.overlay is not None and len(md.overlay):
        draw_lines(ax, md.overlay.geometry.values, _colours.NHS["NHS Dark Grey"], 0.3, zorder=3, linestyle=(0, (3, 1.5)))
    draw_lines(ax, geoms, "white", 0.7 if md.layer == "stp" else 0.35, zorder=2)
    if md.outline is not None and len(md.outline):
        draw_lines(ax, md.outline.geometry.values, _colours.NHS["NHS Dark Grey"], 0.9, zorder=4)


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


def draw_polygons(ax, geoms, facecolors, edgecolor="white", linewidth=0.6, zorder=1, hatch=None, alpha=None):
    from matplotlib.collections import PatchCollection, PathCollection
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


def draw_lines(ax, geoms, color, linewidth, zorder, linestyle="-"):
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
