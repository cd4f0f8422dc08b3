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
    side: bool  # a panel for the legend and the key
    foot_lines: list
    bounds: tuple  # the areas' (x0, y0, x1, y1)
    pad: float  # margin around them, metres
    panel: str = "right"  # where the panel is: "right" of the map or "below" it ("" when there is none)
    panel_box: tuple = ()  # the panel's (x, y, width, height)
    title_size: float = 15.0  # points: smaller, down to 11, where a long title would not fit the page


#: A fitted page's map takes at most this (inches, width and height): wide
#: areas get a 10 in wide landscape page, tall ones a narrower portrait one.
AUTO_MAP_IN = (6.6, 8.8)
PANEL_IN = 3.0  # the side panel's width on a wide page
HEAD_IN = 0.95  # title and subtitle
LEGEND_SHARE = 0.42  # a panel below the map: the legend's share of its width (the key or figures take the rest)


def new_page(md, size, dpi: float, font: str) -> Page:
    """The figure and the map's axes, sized for the map, its panel (beside
    the map or, on a page that suits the map better so, below it) and its
    footnote, with the map's extent set.

    With no ``size``, a regional map's page takes the area's shape: landscape
    for a wide area, portrait for a tall one (the national map keeps
    :data:`DEFAULT_SIZE`'s width).
    """
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    geoms = md.gdf.geometry.values
    side = md.legend.kind != "identity" or md.labels != "none"
    if md.legend.kind == "identity" and md.layer == "stp" and len(md.gdf) == 1:
        side = False  # one footprint, named on the map: a panel would hold nothing
    map_w = 0.66 if side else 0.96
    w_in, h_in = parse_size(size, dpi)
    if size is None and not md.national:
        w_in, map_w = _auto_width(md, map_w)
    elif side and not md.national:  # on a wide page the panel keeps to ~3 in and the map takes the rest
        map_w = max(map_w, 1 - 0.06 - PANEL_IN / w_in)
    foot_lines = footnote_lines(md, w_in)
    foot_in = 0.16 + 0.115 * len(foot_lines)
    if fitted_height(size):
        h_in = page_height_for(md, map_w * w_in, side, foot_in)
    panel, panel_in = ("right" if side else ""), 0.0
    if side and not fitted_height(size):
        panel, panel_in = _panel_place(md, w_in, h_in, map_w, foot_in)
    fig = Figure(figsize=(w_in, h_in), dpi=dpi)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    title_size = _title_size(md.title, w_in, renderer, font)

    top = 1 - HEAD_IN / h_in
    bottom = foot_in / h_in
    if panel == "below":
        lift = (panel_in + 0.15) / h_in
        ax = fig.add_axes((0.02, bottom + lift, 0.96, top - bottom - lift))
        panel_box = (0.02, bottom, 0.96, panel_in / h_in)
    else:
        ax = fig.add_axes((0.02, bottom, map_w, top - bottom))
        kx = 0.02 + map_w + 0.015
        panel_box = (kx, bottom, 0.98 - kx, top - bottom)
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_anchor("NW" if panel == "right" else "N")

    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = 0.03 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    if md.context is not None and len(md.context):  # only surroundings can fill the band; white would not
        box = ax.get_position(original=True)
        _fill_box(ax, box.width * w_in, box.height * h_in, md.context)
    ax.apply_aspect()
    return Page(fig=fig, renderer=renderer, ax=ax, font=font, w_in=w_in, h_in=h_in, top=top, bottom=bottom,
                map_w=map_w, side=side, foot_lines=foot_lines, bounds=(x0, y0, x1, y1), pad=pad, panel=panel,
                panel_box=panel_box, title_size=title_size)


def _fill_box(ax, box_w_in: float, box_h_in: float, context) -> None:
    """On a page of another shape than the map (a slide, an A4 page), show
    more of the surroundings left and right (as much on each side), or
    above and below (more on the side with more of them: a coast leaves
    only sea on the other), rather than leave a band beside the map."""
    import shapely

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    wanted_w = (y1 - y0) * box_w_in / max(box_h_in, 1e-6)
    wanted_h = (x1 - x0) * box_h_in / max(box_w_in, 1e-6)
    if wanted_w > 1.05 * (x1 - x0):
        mid = (x0 + x1) / 2
        ax.set_xlim(mid - wanted_w / 2, mid + wanted_w / 2)
    elif wanted_h > 1.05 * (y1 - y0):
        extra = wanted_h - (y1 - y0)
        shares = (0.5, 0.0, 1.0)  # of the extra put below: centred, all above, all below
        geoms = context.geometry.values
        shown = [float(shapely.area(shapely.clip_by_rect(geoms, x0, y0 - extra * f, x1, y1 + extra * (1 - f))).sum())
                 for f in shares]
        best = max(range(3), key=lambda i: shown[i])
        f = shares[best] if shown[best] > 1.02 * shown[0] else 0.5  # centred unless a side shows more
        ax.set_ylim(y0 - extra * f, y1 + extra * (1 - f))


def _aspect(md) -> float:
    """Height over width of the box around the areas."""
    import shapely

    bx0, by0, bx1, by1 = shapely.total_bounds(md.gdf.geometry.values)
    return (by1 - by0) / max(bx1 - bx0, 1.0)


def _auto_width(md, map_w: float) -> tuple[float, float]:
    """A regional map's page width (inches) and the map's share of it, when
    no size is given: 10 in with the map :data:`AUTO_MAP_IN` wide for an
    area wider than that box (a landscape page, as the national map's), and
    for a taller area a map as tall as the box and a page as much narrower
    (a portrait page), the panel's width kept."""
    base_w = DEFAULT_SIZE[0]
    full = AUTO_MAP_IN[0] * map_w / 0.66  # the widest map: its share of a 10 in page
    map_in = AUTO_MAP_IN[1] / max(_aspect(md), 1e-6)
    if map_in >= full:
        return base_w, map_w
    w_in = round(max(5.5, map_in + base_w - full), 2)
    return w_in, map_in / w_in


def page_height_for(md, map_width_in: float, side: bool, foot_in: float) -> float:
    """A page height (inches) that fits the map's shape and the key's length."""
    map_h = map_width_in * _aspect(md)
    key_h = 0.0
    if side:
        key_h = 0.2 * (len(md.legend.entries) + 3) + (0.07 * min(len(md.gdf), 60) if md.labels != "none" else 0)
    return round(float(min(13.0, max(5.5, max(map_h, key_h) + HEAD_IN + foot_in + 0.1))), 1)


def _panel_place(md, w_in: float, h_in: float, map_w: float, foot_in: float) -> tuple[str, float]:
    """Where the panel goes on a page of a given size: ("right", 0) beside
    the map, or ("below", its height in inches) when that draws the map at
    least a tenth larger (a wide area on a portrait page)."""
    import shapely

    bx0, by0, bx1, by1 = shapely.total_bounds(md.gdf.geometry.values)
    pad = 0.03 * max(bx1 - bx0, by1 - by0)
    dw, dh = bx1 - bx0 + 2 * pad, by1 - by0 + 2 * pad
    avail = h_in - HEAD_IN - foot_in
    beside = min(map_w * w_in / dw, avail / dh)
    panel_in = min(below_panel_height(md, 0.96 * w_in), 0.45 * avail)
    below = min(0.96 * w_in / dw, (avail - panel_in - 0.15) / dh)
    return ("below", panel_in) if below > 1.1 * beside else ("right", 0.0)


def below_panel_height(md, width_in: float) -> float:
    """Inches the panel needs below the map, ``width_in`` wide: on its left
    the legend and its note, on its right the figures mapped or the key to
    numbered areas (as :func:`stpmap.maps.static.furniture.legend_panel`
    lays them out)."""
    half_in = width_in * LEGEND_SHARE
    label_chars = max(16, int(half_in * 72 / (7.5 * 0.55)) - 5)
    lines = 0
    entries = list(md.legend.entries) or ([(n, None) for n in md.gdf["name"]] if len(md.gdf) <= 20 else [])
    for label, _ in entries:
        lines += len(textwrap.wrap(str(label), label_chars)) + (1 if not md.legend.entries else 0)
    legend_in = 0.25 + 0.125 * lines + 0.045 * len(entries) + (0.17 if md.legend.missing else 0)
    note_in = 0.2 + 0.09 * len(textwrap.wrap(md.legend.note or "", int(half_in * 72 / (6.5 * 0.52))))
    right_in = 0.0
    if md.legend.kind == "classes" and 1 < len(md.gdf) <= 20:
        right_in = (len(md.gdf) + 2) * 7.0 * 1.45 / 72
    elif md.labels != "none":
        right_in = 0.35 + 0.125 * min(len(md.gdf), 12)  # room for a key to a few numbered areas
    return round(max(0.6, legend_in + note_in, right_in), 2)


def _title_size(title: str, w_in: float, renderer, font: str) -> float:
    """The title's size in points: 15, or smaller (down to 11) so that it fits the page's width."""
    from matplotlib.font_manager import FontProperties

    room = 0.96 * w_in * renderer.dpi
    size = 15.0
    while size > 11.0:
        prop = FontProperties(family=font, weight="bold", size=size)
        if renderer.get_text_width_height_descent(title or "", prop, ismath=False)[0] <= room:
            break
        size -= 0.5
    return size


def footnote_lines(md, width_in: float) -> list[str]:
    width = max(60, int(width_in * 20.5))
    parts = [md.attribution, *md.notes]
    lines = []
    for p in parts:
        lines.extend(textwrap.wrap(p, width))
    return lines[:9]


def draw_titles(page: Page, md) -> None:
    """Title and subtitle above the map, the attribution and notes below it."""
    fig, h_in, font = page.fig, page.h_in, page.font
    fig.text(0.02, 1 - 0.22 / h_in, md.title, ha="left", va="top", fontsize=page.title_size, fontweight="bold", family=font,
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
