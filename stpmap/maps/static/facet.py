"""Small multiples: 2 to 6 maps side by side in one figure, on one shared
scale with one legend, over several columns (of the user's data, or of the
layer: population age bands) or over several vintages (each map on its own
vintage's boundaries, titled with that vintage's words and date).

Each map is prepared as a single map is (:func:`stpmap.maps.prepare.prepare`)
and all are coloured together (:func:`stpmap.maps.prepare.share_colours`), so
one fill means one value everywhere. The grid is chosen from the number of
maps and the area's shape; the areas, legend, scale bar, London inset, titles
and footnote are drawn by the single map's machinery (:mod:`.figure`,
:mod:`.furniture`, :mod:`.labels`). Names are written only where every
area's name fits on every map: small maps are not cluttered with numbers.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

from stpmap.errors import ChoiceError
from stpmap.maps.words import as_of, capital, layer_words

#: Static formats only: small multiples are a picture, not an interactive map.
HTML_ERROR = ("Small multiples (--facet, --facet-vintages) are drawn as one picture: write them as png, svg or pdf "
              "(e.g. --format png); for an interactive map, map one column or vintage at a time.")
#: Inches: the figure's title and subtitle, each map's title, the space between maps.
TITLE_IN, PANEL_TITLE_IN, GAP_IN = 0.95, 0.3, 0.15
MAX_FITTED_HEIGHT = 13.0  # inches: a page fitted to the maps grows no taller
#: Titles of the layer's population columns on their maps.
COLUMN_WORDS = {"population": "All ages", "pop_0_17": "Aged 0 to 17", "pop_18_64": "Aged 18 to 64",
                "pop_65_plus": "Aged 65 and over", "pop_85_plus": "Aged 85 and over"}


@dataclass
class Facets:
    """What small multiples show: a :class:`~stpmap.maps.prepare.MapData`
    per map (coloured on one scale), each map's title, the shared legend,
    and the figure's title, subtitle, attribution and notes."""

    panels: list
    panel_titles: list
    legend: object  # stpmap.maps.prepare.Legend, shared by every map
    title: str
    subtitle: str
    attribution: str
    notes: list = field(default_factory=list)
    measure: str = ""  # what the colours show, e.g. "Population"
    by: str = "columns"  # or "vintages"
    place: str = "England"  # the selection's name, or England

    @property
    def vintages(self) -> list:
        return [md.vintage for md in self.panels]


# ------------------------------------------------------------------ prepare


def panel_options(options) -> list:
    """(title, MapOptions) of each map: one per column or per vintage."""
    base = dataclasses.replace(options, facet=None, facet_vintages=None)
    if options.facet_vintages:
        return [(f"{capital(layer_words(options.layer, v)[1])}, {as_of(v)}", dataclasses.replace(base, vintage=v))
                for v in options.facet_vintages]
    key = "value" if options.data is not None else "colour_by"
    return [(COLUMN_WORDS.get(str(c).lower(), str(c)), dataclasses.replace(base, **{key: c})) for c in options.facet]


def prepare_facets(options, tolerance: float = 0.0) -> Facets:
    """Prepare every map of ``options`` and colour them on one scale."""
    from stpmap.data.registry import registry
    from stpmap.maps.options import select
    from stpmap.maps.prepare import prepare, share_colours

    titles, panels = [], []
    for title, opts in panel_options(options):
        try:
            panels.append(prepare(opts, selection=select(opts), tolerance=tolerance, warn=False))
        except ChoiceError as exc:
            if options.facet and exc.what in ("colour-by", "value column"):
                where = "of the data file" if options.data is not None else f"of the {options.layer} layer"
                columns = [c for c in exc.choices if c != "footprint"]  # a colouring, not a column
                raise ChoiceError("--facet column", exc.value, columns, f"(the columns {where})") from None
            raise
        titles.append(title)
    measure = _measure(options, panels)
    legend = share_colours(panels, scheme=options.scheme, k=options.k, bins=options.bins, ramp=options.ramp,
                           title=measure, distance=max(50.0, tolerance), palette=options.palette)
    messages = list(dict.fromkeys(m for md in panels if md.joined is not None for m in md.joined.messages))
    for m in messages:
        warnings.warn(m, UserWarning, stacklevel=3)
    first = panels[0]
    notes = _one_population_note([n for md in panels for n in md.notes if not n.startswith("Data: ")])
    if first.joined is not None:  # the data note of one map, naming every map's column
        j = first.joined
        notes.insert(0, f"Data: {j.summary().replace(repr(j.value_column), ', '.join(map(repr, options.facet)), 1)}.")
    by = "vintages" if options.facet_vintages else "columns"
    place = "England" if first.national else (first.selection or "")
    facets = Facets(panels=panels, panel_titles=titles, legend=legend, title="", subtitle="",
                    attribution=registry().attribution(), notes=list(dict.fromkeys(notes)), measure=measure, by=by,
                    place=place)
    facets.title = options.title if options.title is not None else _title(facets, options)
    facets.subtitle = _subtitle(facets, options)
    return facets


def _one_population_note(notes: list) -> list:
    """The vintages' population notes said once: "... aggregated through
    the April 2017, April 2019 and July 2022 lookups." when they differ
    only in the lookup."""
    import re

    pattern = re.compile(r"(Population is .*) through the (.+) lookup\.")
    found = [pattern.fullmatch(n) for n in notes]
    heads = {m.group(1) for m in found if m}
    if len(heads) != 1:
        return list(dict.fromkeys(notes))
    lookups = list(dict.fromkeys(m.group(2) for m in found if m))
    listed = lookups[0] + " lookup" if len(lookups) == 1 else f"{', '.join(lookups[:-1])} and {lookups[-1]} lookups"
    said = f"{heads.pop()} through the {listed}."
    rest = [n for n, m in zip(notes, found) if not m]
    return list(dict.fromkeys(rest + [said]))


def _measure(options, panels) -> str:
    """What the colours show, for the legend's title and the figure's."""
    if options.facet_vintages or len({md.colour_by for md in panels}) == 1:
        return capital(panels[0].colour_by)
    cols = [str(c).lower() for c in options.facet]
    if all(c in COLUMN_WORDS for c in cols):
        return "Population"
    stem = _common_words(cols)
    return capital(stem) if stem else "Value"


def _common_words(columns: list) -> str:
    """The words every column starts with: "rate" of rate_2019 and
    rate_2020; "" when they share none."""
    import re

    split = [[w for w in re.split(r"[\s_\-.:]+", c) if w] for c in columns]
    common = []
    for words in zip(*split):
        if len(set(words)) > 1:
            break
        common.append(words[0])
    return " ".join(common)


def _in_text(words: str) -> str:
    """``words`` inside a sentence: "Population" -> "population", "ONS region" as it is."""
    return words if words[1:2].isupper() else words[:1].lower() + words[1:]


def _title(facets: Facets, options) -> str:
    first = facets.panels[0]
    if facets.by == "vintages":
        when = f"{as_of(facets.vintages[0])} to {as_of(facets.vintages[-1])}"
        if facets.legend.kind == "identity":
            kinds = list(dict.fromkeys(layer_words(first.layer, v)[1] for v in facets.vintages))
            return f"{facets.place}: {' and '.join(kinds)}, {when}"
        if facets.legend.kind == "categories":
            return f"Areas by {_in_text(facets.measure)}, {facets.place}, {when}"
        return f"{facets.measure} by area, {facets.place}, {when}"
    one = layer_words(first.layer, first.vintage)[0]
    listed = ", ".join(facets.panel_titles[:-1]) + f" and {facets.panel_titles[-1]}"
    return f"{listed if facets.measure == 'Value' else facets.measure} by {one}, {facets.place}"


def _subtitle(facets: Facets, options) -> str:
    first = facets.panels[0]
    if facets.by == "vintages":
        sub = [f"{len(facets.panels)} maps, each on its own vintage's boundaries"]
    else:
        n = len(first.gdf)
        one, many = layer_words(first.layer, first.vintage)
        sub = [f"{len(facets.panels)} maps of {n} {many if n != 1 else one}, {as_of(first.vintage)} boundaries"]
    if facets.legend.kind != "identity":
        scale = "one scale" if facets.legend.kind == "classes" else "one set of colours"
        sub.append(f"{scale} for every map, coloured by {_in_text(facets.measure)}")
    if options.drawn_overlay:
        sub.append(f"{layer_words(options.drawn_overlay, first.vintage)[1]} outlined")
    return "; ".join(sub)


# ------------------------------------------------------------------- figure


def figure_and_data(options, *, size=None, dpi: float = 100.0, inset: bool | None = None, font: str = "DejaVu Sans",
                    tolerance=None):
    """(the Figure of the small multiples of ``options``, their :class:`Facets`).
    ``tolerance(selection)`` gives the simplification in metres."""
    from stpmap.maps.options import select

    sel = select(dataclasses.replace(options, facet=None, facet_vintages=None))
    facets = prepare_facets(options, tolerance=tolerance(sel) if tolerance is not None else 0.0)
    return render(facets, size=size, dpi=dpi, inset=inset, font=font), facets


def render(facets: Facets, size=None, dpi: float = 100.0, inset: bool | None = None, font: str = "DejaVu Sans"):
    """Draw :class:`Facets` as one matplotlib Figure: a grid of maps with
    their titles, one legend, the figure's title, subtitle and footnote."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):  # names and titles are text, never mathtext
        fig = _render(facets, size, dpi, inset, font)
    fig.alt_text = alt_text(facets)
    fig.map_title = facets.title
    return fig


@dataclass
class _Grid:
    """How the maps and the legend share the page (inches)."""

    rows: int
    cols: int
    legend_at: str  # "side" (a column right of the maps), "cell" (the last row's empty cells), "below", or ""
    map_w: float  # each map's width
    map_h: float  # each map's height
    side: float = 0.0  # the legend column's width
    below: float = 0.0  # the legend band's height under the maps

    @property
    def cell_w(self) -> float:
        return self.map_w + GAP_IN

    @property
    def cell_h(self) -> float:
        return self.map_h + PANEL_TITLE_IN + GAP_IN


def _legend_height(legend) -> float:
    """About how tall (inches) the legend, its title and its note are."""
    return 0.19 * (len(legend.entries) + bool(legend.missing)) + 0.45


def _band_columns(legend, width_in: float) -> int:
    """How many entries a row of the legend under the maps holds (about 1.9 in each)."""
    return max(1, min(len(legend.entries) + bool(legend.missing), int(width_in / 1.9)))


def _band_height(legend, width_in: float) -> float:
    """How tall (inches) the legend under the maps is: its title, rows of entries, its note."""
    rows = math.ceil((len(legend.entries) + bool(legend.missing)) / _band_columns(legend, width_in))
    return 0.3 + 0.2 * rows + 0.25


def choose_grid(n: int, aspect: float, w_in: float, h_in: float, legend=None, row_cost: float = 0.85) -> _Grid:
    """The grid that draws ``n`` maps of ``aspect`` (height / width) largest
    in a ``w_in`` x ``h_in`` box, with the legend beside, under or among
    them. With ``row_cost`` 0.85, a grid with fewer rows wins unless its maps
    are 15 % smaller a row (maps compared side by side read best, and the
    page's height is fitted to them); 1 on a page of a given size."""
    best = None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        if (rows - 1) * cols >= n:
            continue  # an empty row
        places = ("cell",) if rows * cols > n else ("side", "below")
        for at in places if legend is not None else ("",):
            side = min(2.8, max(1.9, 0.22 * w_in)) if at == "side" else 0.0
            below = _band_height(legend, w_in) if at == "below" else 0.0
            cell_h = (h_in - below) / rows
            map_w = max(0.5, min((w_in - side) / cols - GAP_IN, (cell_h - PANEL_TITLE_IN - GAP_IN) / aspect))
            key = (round(map_w * row_cost ** (rows - 1), 3), -(rows * cols - n))
            if best is None or key > best[0]:
                best = (key, _Grid(rows, cols, at, map_w, map_w * aspect, side, below))
    return best[1]


def _extent(facets: Facets):
    """One extent for every map, so they share a scale: (x0, y0, x1, y1), pad."""
    import numpy as np

    b = np.array([md.gdf.total_bounds for md in facets.panels])
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    return (x0, y0, x1, y1), 0.03 * max(x1 - x0, y1 - y0)


def _wrapped(text: str, fontsize: float, width_in: float, font: str) -> list:
    """``text`` in lines no wider than ``width_in`` (bold, as titles are)."""
    from stpmap.maps.static.labels import text_width_px

    lines: list = []
    for word in str(text).split():
        line = f"{lines[-1]} {word}" if lines else word
        if lines and text_width_px(line, fontsize, 72, font) * 1.1 / 72 <= width_in:
            lines[-1] = line
        else:
            lines.append(word)
    return lines or [""]


def _render(facets: Facets, size, dpi: float, inset, font: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from stpmap.maps.static import figure as _figure

    bounds, pad = _extent(facets)
    aspect = (bounds[3] - bounds[1] + 2 * pad) / (bounds[2] - bounds[0] + 2 * pad)
    legend = facets.legend if facets.legend.kind != "identity" else None
    w_in, h_in = _figure.parse_size(size, dpi)
    title = _wrapped(facets.title, 15, w_in - 0.4, font)
    subtitle = _wrapped(facets.subtitle, 9.5, w_in - 0.4, font) if facets.subtitle else []
    title_in = TITLE_IN + 0.26 * (len(title) - 1) + 0.17 * max(0, len(subtitle) - 1)
    foot_lines = _figure.footnote_lines(facets, w_in)
    foot_in = 0.16 + 0.115 * len(foot_lines)
    fitted = _figure.fitted_height(size)
    if fitted:  # no taller than wide, then as tall as the maps need
        h_in = min(MAX_FITTED_HEIGHT, max(5.5, w_in))
    grid = choose_grid(len(facets.panels), aspect, w_in - 0.4, h_in - title_in - foot_in, legend,
                       row_cost=0.85 if fitted else 1.0)
    if fitted:
        maps_h = max(grid.rows * grid.cell_h, _legend_height(legend) if grid.legend_at == "side" else 0.0)
        h_in = round(max(4.0, title_in + foot_in + grid.below + maps_h + 0.1), 1)
    fig = Figure(figsize=(w_in, h_in), dpi=dpi)
    FigureCanvasAgg(fig)
    page = _figure.Page(fig=fig, renderer=fig.canvas.get_renderer(), ax=None, font=font, w_in=w_in, h_in=h_in,
                        top=1 - title_in / h_in, bottom=foot_in / h_in, map_w=0.0, side=legend is not None,
                        foot_lines=foot_lines, bounds=bounds, pad=pad)
    drawn = _draw_maps(page, facets, grid, inset)
    n_texts = len(fig.texts)
    _figure.draw_titles(page, dataclasses.replace(facets, title="\n".join(title), subtitle="\n".join(subtitle)))
    if len(title) > 1 and subtitle:  # the subtitle under a title of several lines
        fig.texts[n_texts + 1].set_y(1 - (0.58 + 0.26 * (len(title) - 1)) / h_in)
    if legend is not None:
        _draw_legend(page, facets, grid)
    _name_areas(drawn, facets)
    return fig


def _left(page, grid: _Grid) -> float:
    """Where the maps start (inches): the maps and their legend centred on the page."""
    return 0.2 + max(0.0, (page.w_in - 0.4 - grid.cols * grid.cell_w - grid.side) / 2)


def _cell(page, grid: _Grid, i: int):
    """(x0, y0, width, height) of cell ``i`` of the grid, figure fractions."""
    r, c = divmod(i, grid.cols)
    x = _left(page, grid) + c * grid.cell_w
    return x / page.w_in, page.top - (r + 1) * grid.cell_h / page.h_in, grid.cell_w / page.w_in, \
        grid.cell_h / page.h_in


def _draw_maps(page, facets: Facets, grid: _Grid, inset) -> list:
    """Each map in its cell, titled, at one scale; the London inset on
    national maps, the scale bar on the last map. Returns each map as drawn."""
    from stpmap.maps import colours as _colours
    from stpmap.maps.static import figure as _figure
    from stpmap.maps.static import furniture as _furniture

    x0, y0, x1, y1 = page.bounds
    pages = []
    for i, (md, title) in enumerate(zip(facets.panels, facets.panel_titles)):
        cx, cy, cw, ch = _cell(page, grid, i)
        ax = page.fig.add_axes((cx, cy + GAP_IN / page.h_in, grid.map_w / page.w_in, grid.map_h / page.h_in))
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_anchor("N")
        ax.set_xlim(x0 - page.pad, x1 + page.pad)
        ax.set_ylim(y0 - page.pad, y1 + page.pad)
        ax.apply_aspect()
        t = ax.set_title(title, loc="left", fontsize=10, fontweight="bold", family=page.font, pad=6,
                         color=_colours.NHS["NHS Dark Blue"])
        wide = t.get_window_extent(page.renderer).width / ax.get_window_extent(page.renderer).width
        if wide > 1:  # a long title keeps to its map
            t.set_fontsize(max(7.0, 10 / wide))
        p = dataclasses.replace(page, ax=ax, side=False)
        _figure.draw_areas(p, md)
        drawn = _Drawn(p, _furniture.london_inset(p, md, inset) if md.to_scale else None)
        if drawn.london is not None:  # its name inside its frame: above it, it would run into the map's title
            drawn.london.ax.set_title("London", loc="left", fontsize=6.5, fontweight="bold", family=page.font,
                                      x=0.03, y=1.0, pad=-8, color=_colours.TEXT,
                                      bbox=dict(fc="white", ec="none", alpha=0.85, pad=1.0))
        if i == len(facets.panels) - 1 and grid.map_w >= 2.2 and md.to_scale:  # one scale bar: one scale for all
            import shapely

            avoid = [shapely.box(*drawn.london.box)] if drawn.london is not None else []
            drawn.scale_box = _furniture.scale_bar(ax, md.gdf.geometry.values, font=page.font, avoid=avoid,
                                                   fontsize=5.5)
        pages.append(drawn)
    return pages


@dataclass
class _Drawn:
    """One map as drawn: its page (axes), its London inset, its scale bar's box."""

    page: object
    london: object = None
    scale_box: tuple | None = None


def _draw_legend(page, facets: Facets, grid: _Grid) -> None:
    """The one legend: right of the maps, in the empty cells of the last row, or under the maps."""
    from stpmap.maps.static import furniture as _furniture

    maps_bottom = page.top - grid.rows * grid.cell_h / page.h_in
    if grid.legend_at == "below":
        _legend_band(page, facets.legend, maps_bottom, grid.below)
        return
    # legend_panel draws from page.top down, right of page.map_w (plus 0.035)
    if grid.legend_at == "cell":
        cx, cy, _, ch = _cell(page, grid, len(facets.panels))
        page = dataclasses.replace(page, map_w=cx + 0.1 / page.w_in - 0.035, top=cy + ch - 0.1 / page.h_in,
                                   bottom=cy)
    else:
        right = _left(page, grid) + grid.cols * grid.cell_w
        page = dataclasses.replace(page, map_w=right / page.w_in - 0.035, top=page.top - 0.1 / page.h_in)
    _furniture.legend_panel(page, dataclasses.replace(facets.panels[0], legend=facets.legend), figures=False)


def _legend_band(page, legend, top: float, height_in: float) -> None:
    """The legend as a band under the maps (from ``top``, a figure fraction):
    its title, its entries in rows across the page (their swatches as the
    side panel draws them), its note."""
    import textwrap

    from stpmap.maps import colours as _colours
    from stpmap.maps.static.furniture import Swatch, SwatchHandler

    ax = page.fig.add_axes((0.2 / page.w_in, top - height_in / page.h_in, 1 - 0.4 / page.w_in, height_in / page.h_in))
    ax.set_axis_off()
    handles = [Swatch(legend.swatches.get(label, [c]), label=str(label)) for label, c in legend.entries]
    if legend.missing:
        handles.append(Swatch([_colours.MISSING], legend.missing))
        handles[-1].stp_hatch = "////"
    leg = ax.legend(handles=handles, handler_map={Swatch: SwatchHandler()}, loc="upper left", bbox_to_anchor=(0, 1),
                    frameon=False, title=legend.title, title_fontsize=8.5, fontsize=7.5, alignment="left",
                    ncols=_band_columns(legend, page.w_in - 0.4), handlelength=1.6, handleheight=1.1, borderaxespad=0.0,
                    columnspacing=1.6, labelspacing=0.35)
    for t in [*leg.get_texts(), leg.get_title()]:
        t.set_family(page.font)
    leg.get_title().set_fontweight("bold")
    if legend.note:
        bb = leg.get_window_extent(page.renderer).transformed(ax.transAxes.inverted())
        ax.text(0.0, bb.y0 - 0.08 / height_in, textwrap.fill(legend.note, int(page.w_in * 72 / (6.5 * 0.52))),
                fontsize=6.3, color=_colours.NHS["NHS Dark Grey"], va="top", family=page.font, transform=ax.transAxes)


def _name_areas(pages: list, facets: Facets, fontsizes=(6.5, 5.8, 5.2)) -> None:
    """Each area's name inside it, on every map, when every name fits on
    every map; none otherwise (the report's table and the alt text name them)."""
    import shapely

    from stpmap.maps import colours as _colours
    from stpmap.maps.static import labels as _labels

    if facets.panels[0].labels == "none":
        return
    placed = []
    for d, md in zip(pages, facets.panels):
        placer = _labels.Placer(d.page.ax, d.page.renderer, d.page.font)
        for box in ([d.scale_box] if d.scale_box is not None else []) + ([d.london.box] if d.london else []):
            placer.block(shapely.box(*box))
        geoms, names = md.gdf.geometry.values, md.gdf["label"]
        names_at = _labels.place_names(placer, [(i, names.iloc[i], geoms[i]) for i in range(len(md.gdf))], fontsizes)
        if len(names_at) < len(md.gdf):
            return
        placed.append(names_at)
    for d, md, names_at in zip(pages, facets.panels, placed):
        fills = md.gdf["fill"].tolist()
        for i, (x, y, lines, fs) in names_at.items():
            d.page.ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=fs, family=d.page.font,
                           color=_colours.text_colour(fills[i]), zorder=10, linespacing=1.0)


# ----------------------------------------------------------------- alt text


def alt_text(facets: Facets) -> str:
    """The figure's alternative text: what the maps show and of where, the
    shared range, and each map's highest and lowest areas (or its areas)."""
    import numpy as np
    import pandas as pd

    from stpmap.maps.alttext import number

    n = len(facets.panels)
    first = facets.panels[0]
    if facets.by == "vintages":
        head = (f"{n} maps side by side of {facets.place}, one for each of "
                f"{', '.join(as_of(v) for v in facets.vintages)}, each on its own boundaries")
    else:
        head = f"{n} maps side by side of {_where(first, facets.place)}"
        head += f", {as_of(first.vintage)}" if first.vintage else ""  # made-up areas have no vintage
    kind = facets.legend.kind
    values = [pd.to_numeric(md.gdf["value"], errors="coerce") for md in facets.panels]
    every = pd.concat(values)
    integer = bool(np.all(np.mod(every.dropna(), 1) == 0))  # one way of writing the numbers throughout
    if kind == "classes":
        head += (f", on one shared scale of {_in_text(facets.measure)} from {number(every.min(), integer)} to "
                 f"{number(every.max(), integer)}")
    elif kind == "categories":
        head += f", coloured by {_in_text(facets.measure)} with one set of colours"
    parts = [head + "."]
    for md, title, v in zip(facets.panels, facets.panel_titles, values):
        parts.append(f"{title}: {_panel_words(md, v, kind, integer)}.")
    return " ".join(parts)


def _where(md, place: str) -> str:
    """The areas of one map, as :mod:`stpmap.maps.alttext` says them: "the 6 East of England STP footprints"."""
    n = len(md.gdf)
    many = layer_words(md.layer, md.vintage or None)[1]
    if md.national:
        return f"the {n} {many} of England"
    if not place:
        return f"{n} {many}"
    if ";" in place or place.endswith("footprints"):  # a list of footprints, not a group's name
        return f"the {n} {many} of {place}"
    return f"the {n} {place} {many}"


def _panel_words(md, values, kind: str, integer: bool) -> str:
    """One map's areas: how many, the highest and lowest (numbers), the
    areas in each category, or the areas' names."""
    from stpmap.maps import colours as _colours
    from stpmap.maps.alttext import number

    one, many = layer_words(md.layer, md.vintage or None)
    n = len(md.gdf)
    out = f"{n} {many if n != 1 else one}"
    names = md.gdf["name"].astype(str)
    if kind == "classes" and values.notna().any():
        hi, lo = values.idxmax(), values.idxmin()
        out += (f", highest {names[hi]} ({number(values[hi], integer)}), "
                f"lowest {names[lo]} ({number(values[lo], integer)})")
    elif kind == "categories":
        counts = md.gdf["value"].dropna().astype(str).value_counts()
        shown = sorted(counts.index) if len(counts) <= 10 else sorted(counts.index)[:8]
        out += " (areas in each): " + ", ".join(f"{c} ({counts[c]})" for c in shown)
        out += f" and {len(counts) - len(shown)} more" if len(counts) > len(shown) else ""
    elif kind == "identity":
        listed = sorted(names)
        out += ": " + "; ".join(listed[:8]) + (f"; and {len(listed) - 8} more" if len(listed) > 8 else "")
    missing = int((md.gdf["fill"] == _colours.MISSING).sum())
    if missing:
        out += f"; {missing} with no data"
    return out
