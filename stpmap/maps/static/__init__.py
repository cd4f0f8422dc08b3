"""Static maps (PNG, SVG, PDF) with matplotlib, for reports and board papers.

British National Grid, names placed where they fit and numbered (with a key)
where they do not, a London inset on national maps, legend, scale bar, north
arrow, title and the ONS/OS attribution as a footnote.

The page and its areas are drawn by :mod:`.figure`, names and numbers placed
by :mod:`.labels`, legend, scale bar and inset by :mod:`.furniture`.
"""

from __future__ import annotations

from pathlib import Path

from stpmap.errors import ChoiceError
from stpmap.maps.options import MapOptions, Selection, select
from stpmap.maps.static import figure as _figure
from stpmap.maps.static import furniture as _furniture
from stpmap.maps.static import labels as _labels
from stpmap.maps.static.figure import DEFAULT_SIZE, MIN_LAYOUT, parse_size

__all__ = ["plot", "map_figure", "render", "save", "parse_size", "STATIC_FORMATS", "DEFAULT_SIZE", "MIN_LAYOUT", "FONTS"]

STATIC_FORMATS = ("png", "svg", "pdf")
FONTS = ("Arial", "Helvetica", "Liberation Sans", "DejaVu Sans")  # NHS documents use Arial/Frutiger
FONT: str | None = None  # the font in use, found on first use (tests set it)


def _font() -> str:
    """The first of :data:`FONTS` that is installed (Liberation Sans has Arial's metrics)."""
    global FONT
    if FONT is None:
        from matplotlib import font_manager

        have = {f.name for f in font_manager.fontManager.ttflist}
        FONT = next((f for f in FONTS if f in have), "DejaVu Sans")
    return FONT


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
    data_encoding: str | None = None,
    data_vintage=None,
    scheme: str | None = None,
    k: int = 5,
    bins=None,
    ramp: str | None = None,
    palette: str | None = None,
    labels: str = "name",
    title: str | None = None,
    groups_file=None,
    shape: str = "map",
    size=None,
    dpi: float = 100.0,
    inset: bool | None = None,
    facet=None,
    facet_vintages=None,
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
        the palette's colours, with tints so neighbours never share a fill;
        choropleths a colour-blind-safe ramp.
    data, join_on, value, aggregate
        The user's CSV/XLSX (or DataFrame) to map; see
        :func:`stpmap.maps.userdata.join`. Rows that match nothing are reported as
        warnings, never dropped silently.
    data_encoding : str, optional
        Encoding of a CSV ``data`` file, e.g. "cp1252" (default: UTF-8,
        with or without a byte-order mark).
    data_vintage : int, optional
        The vintage of the codes or names in ``data`` (default: found from
        them; an error asks for it when they fit several vintages that
        differ). Without ``vintage`` the map is drawn on the data's own
        vintage; with it, the figures are carried to ``vintage``'s
        footprints by population share (``aggregate`` says sum or mean)
        and the map says so.
    scheme : str, default "quantiles"
        mapclassify scheme for numbers: quantiles, natural_breaks,
        equal_interval, fisher_jenks, headtail_breaks, prettybreaks,
        user_defined (with ``bins``)...
    k : int, default 5
        Number of classes.
    ramp : str, optional
        Colour ramp for numbers (or any matplotlib colormap, e.g. "cividis");
        default the palette's: "nhs_blues", or "af_blues".
    palette : {"nhs", "analysis-function"}, default "nhs"
        NHS identity colours, or the UK Government Analysis Function's
        accessible data-visualisation colours (its blues for numbers), handed
        out so that neighbouring fills contrast as much as the palette
        allows (3:1 where it can; the legend's note says when it cannot).
    labels : {"name", "code", "none"}
        Area labels: names inside areas where they fit, numbers with a key
        where they do not.
    title : str, optional
        Title (default: says what, where and when).
    shape : {"map", "hex"}
        ``"hex"``: a hex cartogram, one hexagon of the same size per
        footprint (or CCG, with ``layer="ccg"``), placed roughly where it is
        in England (:mod:`stpmap.maps.hexes`), coloured as the map; names
        that do not fit a hex are shortened (BLMK, BNSSG...) and listed in a
        key. No overlay, scale or London inset.
    size : (float, float) or str, optional
        Figure size: inches, or "20x15cm", "297x210mm", "1600x1200px", or
        a name ("a4-text", "slide", "a4", "a4-landscape"). Pixels are
        pixels at ``dpi``; when they make less than 8 x 5.5 inches, the map
        is laid out at that size with a lower dpi, so its title, legend and
        key still fit in the pixels asked for. Default: 10 in wide, as tall
        as the map needs; a group's or footprints' map takes the area's
        shape (a narrower, portrait page for a tall area).
    dpi : float
        Dots per inch the map is laid out for; save at the same dpi
        (``fig.savefig(path, dpi=fig.dpi)``, or matplotlib's default).
    inset : bool, optional
        London inset on national maps (default: yes when London is shown).
    facet : list of str, optional
        Small multiples: one map per column, 2 to 6 side by side on one
        shared scale and legend; columns of ``data`` when given, else of the
        layer (e.g. ``["pop_0_17", "pop_65_plus"]``). Not with ``colour_by``
        or ``value``.
    facet_vintages : list of int, optional
        Small multiples: one map per vintage (e.g. ``[2017, 2019, 2022]``),
        each on its own boundaries, coloured by ``colour_by`` on one scale.

    Returns
    -------
    matplotlib.figure.Figure
        Shown inline in Jupyter; save with ``fig.savefig("map.png", dpi=300)``
        (or :func:`stpmap.maps.static.save`, which writes the alternative
        text into the file). ``fig.alt_text`` is the map's alternative text
        (:func:`stpmap.maps.alttext.alt_text`), for a report's picture.

    Examples
    --------
    >>> import stpmap
    >>> fig = stpmap.plot()                                   # 44 footprints by region
    >>> fig = stpmap.plot(group="East of England", overlay="ccg")
    >>> fig = stpmap.plot(colour_by="population", scheme="natural_breaks", k=4)
    >>> fig.savefig("footprints.png", dpi=300)
    >>> fig = stpmap.plot(2022, shape="hex", colour_by="population")   # a hex cartogram of the 42 ICBs
    >>> fig = stpmap.plot(colour_by="population", facet_vintages=[2017, 2019, 2022])  # one figure, one scale
    """
    options = MapOptions(vintage=vintage, group=group, footprint=footprint, groups_file=groups_file, layer=layer,
                         overlay=overlay, colour_by=colour_by, data=data, join_on=join_on, value=value,
                         aggregate=aggregate, data_encoding=data_encoding, data_vintage=data_vintage, scheme=scheme,
                         k=k, bins=bins, ramp=ramp,
                         palette=palette, labels=labels, title=title, shape=shape, facet=facet,
                         facet_vintages=facet_vintages)
    return map_figure(options, size=size, dpi=dpi, inset=inset)


def map_figure(options: MapOptions, *, size=None, dpi: float = 100.0, inset: bool | None = None):
    """The static map of ``options`` as a matplotlib Figure (what
    :func:`plot` returns; see it for ``size``, ``dpi`` and ``inset``)."""
    return figure_and_data(options, size=size, dpi=dpi, inset=inset)[0]


def figure_and_data(options: MapOptions, *, size=None, dpi: float = 100.0, inset: bool | None = None):
    """(the Figure of :func:`map_figure`, the :class:`~stpmap.maps.prepare.MapData`
    it draws), for callers that also show the map's figures (reports); for
    small multiples, the :class:`~stpmap.maps.static.facet.Facets` drawn."""
    from stpmap.maps.prepare import prepare

    if isinstance(size, str) and size.strip().lower().endswith("px"):
        w_in, h_in = parse_size(size, dpi)
        shrink = max(1.0, MIN_LAYOUT[0] / w_in, MIN_LAYOUT[1] / h_in)
        if shrink > 1.0:  # lay a small map out at the smallest size it fits, then scale it down: same pixels, smaller text
            size, dpi = (w_in * shrink, h_in * shrink), dpi / shrink
    w_in, _ = parse_size(size, dpi)
    if options.facet or options.facet_vintages:
        from stpmap.maps.static import facet as _facet

        fig, facets = _facet.figure_and_data(options, size=size, dpi=dpi, inset=inset, font=_font(),
                                             tolerance=lambda sel: _tolerance(sel, w_in))
        _inline(fig)
        return fig, facets
    selection = select(options)
    md = prepare(options, selection=selection, tolerance=_tolerance(selection, w_in))
    fig = render(md, size=size, dpi=dpi, inset=inset)
    _inline(fig)
    return fig, md


def _tolerance(selection: Selection, width_in: float) -> float:
    """Simplification (metres) of about a third of a printed pixel at 300
    dpi: invisible in print, much faster to draw."""
    extent = selection.extent()
    if extent is None:
        extent = 620_000.0  # England, north to south
    return max(10.0, min(250.0, extent / (width_in * 0.66 * 300) / 3))


def _inline(fig):
    """Let Jupyter show the figure even when it was not made through pyplot."""
    import io

    def _repr_png_():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
        return buf.getvalue()

    fig._repr_png_ = _repr_png_


# ----------------------------------------------------------------- figure


def render(md, size=None, dpi: float = 100.0, inset: bool | None = None, key_fontsize: float | None = None):
    """Draw a :class:`stpmap.maps.prepare.MapData` as a matplotlib Figure."""
    import matplotlib

    from stpmap.maps.alttext import alt_text

    with matplotlib.rc_context({"text.parse_math": False}):  # names and titles are text, never mathtext ("$" is a dollar)
        fig = _render(md, size, dpi, inset, key_fontsize)
    fig.alt_text = alt_text(md)  # written into PNG, SVG and PDF files by save(), and into reports
    fig.map_title = md.title
    return fig


def _render(md, size, dpi, inset, key_fontsize):
    import shapely

    page = _figure.new_page(md, size, dpi, _font())
    _figure.draw_areas(page, md)
    london, scale_box = None, None
    if md.to_scale:  # a hex cartogram has no scale, and London's hexes are as big as any
        london = _furniture.london_inset(page, md, inset)
        scale_box = _furniture.scale_bar(page.ax, md.gdf.geometry.values, font=page.font,
                                         avoid=[shapely.box(*london.box)] if london is not None else [])
    numbered = _labels.label_areas(page, md, london, scale_box) if md.labels != "none" else []
    _figure.draw_titles(page, md)
    if page.side:
        key_ax, y = _furniture.legend_panel(page, md, figures=not numbered)
        if numbered:
            _labels.draw_key(key_ax, numbered, y, page.renderer, page.font, key_fontsize)
    return page.fig


# ------------------------------------------------------------------- save


def save(fig, path, fmt: str | None = None, dpi: float = 200.0) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (text stays text in SVG and PDF).

    A figure with ``alt_text`` (every map :func:`render` draws) carries it:
    in PNG as a "Description" text chunk, in SVG as ``<title>`` and
    ``<desc>`` (the SVG has role="img"), in PDF as the document's subject.
    """
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
        alt = getattr(fig, "alt_text", None)
        if alt and fmt == "png":
            meta["Description"] = alt
        elif alt and fmt == "pdf":
            meta.update({"Title": getattr(fig, "map_title", None) or "Map", "Subject": alt})
        fig.savefig(path, format=fmt, dpi=dpi, facecolor="white", metadata=meta)
    if alt and fmt == "svg":
        _svg_describe(path, getattr(fig, "map_title", None) or "Map", alt)
    return path


def _svg_describe(path: Path, title: str, description: str) -> None:
    """Give the SVG a ``<title>`` and ``<desc>`` as its first children and
    label it with them, as screen readers expect of an image."""
    import re
    from xml.sax.saxutils import escape

    text = path.read_text(encoding="utf-8")
    m = re.search(r"<svg\b[^>]*>", text)
    if m is None:
        return
    tag = m.group(0)
    opened = tag[:-1].rstrip("/") + ' role="img" aria-labelledby="stpmap-title stpmap-desc">'
    inner = f'<title id="stpmap-title">{escape(title)}</title><desc id="stpmap-desc">{escape(description)}</desc>'
    path.write_text(text[:m.start()] + opened + inner + text[m.end():], encoding="utf-8")


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
    if getattr(fig, "alt_text", None):
        info.add_itxt("Description", fig.alt_text)  # iTXt: UTF-8, names may have any character
    image = Image.frombuffer("RGBA", (w, h), raw, "raw", "RGBA", 0, 1).convert("RGB")
    image.save(path, format="png", pnginfo=info, dpi=(dpi, dpi), compress_type=zlib.Z_RLE)
    return True
