"""The furniture of a static map: the legend (with a swatch of every tint
a category has), the scale bar and north arrow, and the London inset."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from matplotlib.legend_handler import HandlerBase
from matplotlib.patches import Patch, Rectangle

from stpmap.maps import colours as _colours
from stpmap.maps.static.figure import LEGEND_SHARE, draw_lines, draw_polygons

LONDON_CODES_PREFIX = "E12000007"  # ONS region code of London


# ------------------------------------------------------------------ legend


class Swatch(Patch):
    """A legend swatch showing every tint a category's areas have."""

    def __init__(self, colours, label):
        super().__init__(facecolor=colours[0], label=label)
        self.colours = list(colours)


class SwatchHandler(HandlerBase):
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


#: Up to this many areas, the side panel lists them: a key of each footprint's colour, or the figures mapped.
MAX_LISTED = 20


def _identity_handles(md, label_chars: int) -> list:
    """A key of footprints coloured each in their own colour: the fill, the
    name and the population (a compact table of the areas shown)."""
    from stpmap.maps.alttext import number

    gdf = md.gdf
    if md.legend.kind != "identity" or md.layer != "stp" or not 1 < len(gdf) <= MAX_LISTED:
        return []
    out = []
    for _, r in gdf.sort_values("name", kind="stable").iterrows():
        label = textwrap.fill(str(r["name"]), label_chars)
        if "population" in gdf and r["population"] == r["population"]:
            label += f"\npopulation {number(float(r['population']))}"
        out.append(Swatch([r["fill"]], label=label))
    return out


def _size_in(page, ax) -> tuple[float, float]:
    """Width and height of ``ax`` in inches."""
    pos = ax.get_position(original=True)
    return pos.width * page.w_in, pos.height * page.h_in


def figures_list(page, md, key_ax, y: float) -> float:
    """The figures mapped, area by area (highest first), in ``key_ax`` from
    height ``y`` down, when the map shows numbers for a few areas; returns
    the height below it."""
    import pandas as pd

    from stpmap.maps.alttext import number

    gdf = md.gdf
    if md.legend.kind != "classes" or not 1 < len(gdf) <= MAX_LISTED:
        return y
    values = pd.to_numeric(gdf["value"], errors="coerce")
    rows = gdf.assign(_v=values).sort_values("_v", ascending=False, kind="stable")
    w_in, h_in = _size_in(page, key_ax)
    step = 7.0 * 1.45 / 72 / h_in
    if y - step * (len(rows) + 1.5) < 0:  # no room: the legend is enough
        return y
    chars = max(14, int(w_in * 72 / (7.0 * 0.55)) - 12)
    key_ax.text(0.0, y, "Figures", fontsize=8.5, fontweight="bold", va="top", family=page.font, color=_colours.TEXT,
                transform=key_ax.transAxes)
    y -= step * 1.4
    for _, r in rows.iterrows():
        name = str(r["label"] if "label" in r else r["name"])
        name = name if len(name) <= chars else name[:chars - 1] + "…"
        val = "no data" if r["_v"] != r["_v"] else number(float(r["_v"]))
        for x, text, ha in ((0.0, name, "left"), (1.0, val, "right")):
            key_ax.text(x, y, text, fontsize=7.0, va="top", ha=ha, family=page.font, color=_colours.TEXT,
                        transform=key_ax.transAxes)
        y -= step
    return y - step


def legend_panel(page, md, figures: bool = True):
    """The panel (``page.panel_box``): the legend and its note, top left,
    then (with ``figures``) the figures mapped when there are few areas. A
    panel below the map has two halves: the legend on the left, the figures
    (or the key to numbers) on the right. Returns the axes for the key and
    the height (axes fraction) below which it can go."""
    x, y0, w, h = page.panel_box
    if page.panel == "below":
        legend_ax = page.fig.add_axes((x, y0, w * LEGEND_SHARE, h))
        key_ax = page.fig.add_axes((x + w * (LEGEND_SHARE + 0.03), y0, w * (0.97 - LEGEND_SHARE), h))
    else:
        legend_ax = key_ax = page.fig.add_axes((x, y0, w, h))
    for a in {legend_ax, key_ax}:
        a.set_axis_off()
    y = _legend(page, md, legend_ax)
    if key_ax is not legend_ax:
        y = 1.0
    if figures:
        y = figures_list(page, md, key_ax, y)
    return key_ax, y


def _legend(page, md, key_ax) -> float:
    """The legend and its note in ``key_ax``, from its top; returns the height below them."""
    w_in, h_in = _size_in(page, key_ax)
    note_chars = max(20, int(w_in * 72 / (6.5 * 0.52)))
    y = 1.0
    handles = []
    lg = md.legend
    label_chars = max(16, int(w_in * 72 / (7.5 * 0.55)) - 5)
    if lg.kind in ("categories", "classes"):
        handles = [Swatch(lg.swatches.get(l, [c]), label=textwrap.fill(str(l), label_chars)) for l, c in lg.entries]
    handles = handles or _identity_handles(md, label_chars)
    if lg.missing:
        sw = Swatch([_colours.MISSING], lg.missing)
        sw.stp_hatch = "////"
        handles.append(sw)
    if handles:
        leg = key_ax.legend(handles=handles, handler_map={Swatch: SwatchHandler()}, loc="upper left",
                            bbox_to_anchor=(0.0, 1.0), frameon=False, title=lg.title, title_fontsize=8.5, fontsize=7.5,
                            alignment="left", handlelength=1.6, handleheight=1.1, borderaxespad=0.0, labelspacing=0.35)
        for t in leg.get_texts():
            t.set_family(page.font)
        leg.get_title().set_fontweight("bold")
        leg.get_title().set_family(page.font)
        key_ax.add_artist(leg)
        bb = leg.get_window_extent(page.renderer).transformed(key_ax.transAxes.inverted())
        y = bb.y0 - 0.12 / h_in  # 0.12 in below the legend
    if lg.note:
        t = key_ax.text(0.0, y, textwrap.fill(lg.note, note_chars), fontsize=6.3, color=_colours.NHS["NHS Dark Grey"],
                        va="top", family=page.font, transform=key_ax.transAxes)
        bb = t.get_window_extent(page.renderer).transformed(key_ax.transAxes.inverted())
        y = bb.y0 - 0.2 / h_in
    return y


# --------------------------------------------------------------- scale bar


def _nice_length(width_m: float) -> float:
    target = width_m / 5
    for km in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500):
        if km * 1000 >= target * 0.7:
            return km * 1000.0
    return 500_000.0


def scale_bar(ax, geoms, avoid, font: str, fontsize=6.5):
    """Scale bar and north arrow in the corner of the map that covers least
    of the areas (lower right first). Returns the box it takes (data units)."""
    from matplotlib.patches import FancyBboxPatch

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice_length(w)
    bar_h = h * 0.008
    right, base, ext = _scale_bar_corner(ax, length, geoms, avoid)
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
                family=font)
    # north arrow (British National Grid: grid north is up)
    ax.annotate("N", xy=(left - w * 0.035, base + h * 0.06), xytext=(left - w * 0.035, base - h * 0.005),
                ha="center", va="bottom", fontsize=fontsize + 1, fontweight="bold", color=_colours.TEXT, zorder=22,
                family=font, arrowprops=dict(arrowstyle="-|>", color=_colours.TEXT, lw=0.8, shrinkA=9, shrinkB=0))
    return ext


def _scale_bar_corner(ax, length: float, geoms, avoid):
    """Where the scale bar goes: the corner whose box covers least of the
    areas and of the boxes to ``avoid``. Returns (right, base, box)."""
    import shapely

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0

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
    return best[1:]


# ------------------------------------------------------------------ inset


@dataclass
class Inset:
    """The London inset of a national map."""

    ax: object  # its axes
    box: tuple  # where it sits on the map (data units)
    bounds: tuple  # what it shows (data units)
    members: np.ndarray  # which areas are London's (and labelled on the inset)


def london_mask(gdf) -> np.ndarray:
    if "region_code" in gdf:
        return (gdf["region_code"] == LONDON_CODES_PREFIX).to_numpy()
    if "region" in gdf:
        return (gdf["region"] == "London").to_numpy()
    return np.zeros(len(gdf), dtype=bool)


def london_inset(page, md, inset: bool | None):
    """A London inset in an empty corner of a national map (unless ``inset``
    is False), framed on the map; None when there is no room or no London."""
    import shapely

    gdf, ax = md.gdf, page.ax
    geoms = gdf.geometry.values
    is_london = london_mask(gdf)
    if not (md.national and is_london.any() and (inset is None or inset)):
        return None
    lb = shapely.total_bounds(geoms[is_london])
    lpad = 0.12 * max(lb[2] - lb[0], lb[3] - lb[1])
    lbounds = (lb[0] - lpad, lb[1] - lpad, lb[2] + lpad, lb[3] + lpad)
    aspect = (lbounds[2] - lbounds[0]) / (lbounds[3] - lbounds[1])
    (ax_x0, ax_x1), (ax_y0, ax_y1) = ax.get_xlim(), ax.get_ylim()
    corner = _empty_corner(geoms, (ax_x0, ax_y0, ax_x1, ax_y1), aspect)
    if corner is None:
        return None
    trans = ax.transData + page.fig.transFigure.inverted()
    (fx0, fy0), (fx1, fy1) = trans.transform([(corner[0], corner[1]), (corner[2], corner[3])])
    inset_ax = page.fig.add_axes((fx0, fy0, fx1 - fx0, fy1 - fy0))
    inset_ax.set_aspect("equal")
    inset_ax.set_xlim(lbounds[0], lbounds[2])
    inset_ax.set_ylim(lbounds[1], lbounds[3])
    inset_ax.set_xticks([])
    inset_ax.set_yticks([])
    for s in inset_ax.spines.values():
        s.set_edgecolor(_colours.NHS["NHS Dark Grey"])
        s.set_linewidth(0.8)
    inset_ax.set_facecolor("white")
    _draw_inset_areas(inset_ax, md, lbounds)
    inset_ax.set_title("London", fontsize=7.5, loc="left", pad=2, color=_colours.TEXT, family=page.font, fontweight="bold")
    inset_ax.apply_aspect()
    ax.add_patch(Rectangle((lbounds[0], lbounds[1]), lbounds[2] - lbounds[0], lbounds[3] - lbounds[1],
                           fill=False, ec=_colours.NHS["NHS Dark Grey"], lw=0.7, zorder=6))
    return Inset(ax=inset_ax, box=corner, bounds=lbounds, members=is_london)


def _draw_inset_areas(inset_ax, md, lbounds) -> None:
    import shapely

    gdf = md.gdf
    geoms = gdf.geometry.values
    fills = gdf["fill"].tolist()
    near = gdf[gdf.intersects(shapely.box(*lbounds))]
    idx = near.index.to_numpy()
    draw_polygons(inset_ax, geoms[idx], [fills[i] if fills[i] != _colours.MISSING else _colours.MISSING for i in idx],
                  edgecolor="none", linewidth=0, zorder=1)
    if md.overlay is not None and len(md.overlay):
        ovn = md.overlay[md.overlay.intersects(shapely.box(*lbounds))]
        draw_lines(inset_ax, ovn.geometry.values, _colours.NHS["NHS Dark Grey"], 0.3, zorder=3, linestyle=(0, (3, 1.5)))
    draw_lines(inset_ax, geoms[idx], "white", 0.9, zorder=2)


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
