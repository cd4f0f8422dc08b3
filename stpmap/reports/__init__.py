"""Reports: Word (.docx) and PowerPoint (.pptx) documents holding a map, its
alternative text, the table of its figures, and the source, attribution and
vintage, from the same options as a map (:class:`stpmap.maps.options.MapOptions`).

:func:`report` (``stpmap report``) writes one; the format follows the
file's suffix. With ``per_footprint`` each selected footprint gets its own
page (or slide): its CCGs mapped, its CCGs and local authorities named, and
their tables. The documents are written by :mod:`.docx` and :mod:`.pptx`,
the tables made by :mod:`.tables`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stpmap.errors import ChoiceError, InputError
from stpmap.maps.options import MapOptions, select
from stpmap.maps.words import as_of, layer_words

FORMATS = ("docx", "pptx")
#: The map's size in each format: 16 cm wide on A4 (its height fitted to the map), or the left of a 16:9 slide.
MAP_SIZES = {"docx": "a4-text", "pptx": (7.4, 6.2)}
DPI = 200


@dataclass
class Section:
    """One page (Word) or slide (PowerPoint): a map and its tables."""

    heading: str
    png: bytes
    size_in: tuple  # the picture's size as drawn, inches
    alt_text: str
    tables: list = field(default_factory=list)  # stpmap.reports.tables.FigureTable
    intro: str = ""
    notes: list = field(default_factory=list)


def check_format(path, fmt=None) -> str:
    f = str(fmt or Path(path).suffix or "").lower().lstrip(".")
    if f not in FORMATS:
        raise ChoiceError("report format", f or str(path), FORMATS,
                          "(the output's suffix: write e.g. -o report.docx or -o slides.pptx)")
    return f


def _section(options: MapOptions, fmt: str, dpi: float, heading=None, intro="") -> Section:
    from stpmap.maps.static import figure_and_data, save
    from stpmap.reports.tables import facet_table, figures_table, names_table

    fig, md = figure_and_data(options, size=MAP_SIZES[fmt], dpi=dpi)
    with tempfile.TemporaryDirectory() as tmp:
        png = save(fig, Path(tmp) / "map.png", "png", dpi=fig.dpi).read_bytes()
    if options.facet or options.facet_vintages:  # small multiples: one picture, one table with a column per map
        first = md.panels[0]
        by = "area" if options.facet_vintages else layer_words(first.layer, first.vintage)[0]
        return Section(heading=heading or md.title, png=png, size_in=(fig.get_figwidth(), fig.get_figheight()),
                       alt_text=fig.alt_text, tables=[facet_table(md, title=f"Figures by {by}")],
                       intro=intro or md.subtitle)
    tables = [figures_table(md, title=f"Figures by {layer_words(md.layer, md.vintage)[0]}")]
    if md.overlay is not None and md.overlay_layer == "lad":
        tables.append(names_table(md.overlay, "Local authorities",
                                  "Local authorities in or partly in the footprint; population of the whole authority, "
                                  f"{_pop_year(md)}. Areas: {as_of(md.vintage)} boundaries."))
    return Section(heading=heading or md.title, png=png, size_in=(fig.get_figwidth(), fig.get_figheight()),
                   alt_text=fig.alt_text, tables=tables, intro=intro or md.subtitle)


def _pop_year(md) -> str:
    from stpmap.reports.tables import _population_year

    return _population_year(md)


def _footprint_options(options: MapOptions, code: str) -> MapOptions:
    """A footprint's page: its CCGs filled, its local authorities outlined.
    The main map's colouring is kept when the CCG layer has it (population,
    or data given for CCGs); otherwise the CCGs are coloured by footprint."""
    keep_data = options.data is not None and options.layer == "ccg"
    colour_by = options.colour_by if (keep_data or options.colour_by == "population") else None
    facet = options.facet if (keep_data or options.data is None) else None  # the layer's columns, or CCG data
    return dataclasses.replace(
        options, group=None, groups_file=None, footprint=code, layer="ccg", overlay="lad", title=None, shape="map",
        colour_by=colour_by, facet=facet, data=options.data if keep_data else None,
        join_on=options.join_on if keep_data else None, value=options.value if keep_data else None,
        aggregate=options.aggregate if keep_data else None,
        data_encoding=options.data_encoding if keep_data else None,
        data_vintage=options.data_vintage if keep_data else None)


def write_report(path, options: MapOptions | None = None, *, fmt: str | None = None, per_footprint: bool = False,
                 title: str | None = None, dpi: float = DPI) -> Path:
    """Write the report of ``options`` to ``path`` (.docx or .pptx); see :func:`report`."""
    from stpmap.data.registry import registry

    options = options if options is not None else MapOptions()
    fmt = check_format(path, fmt)
    if per_footprint and options.facet_vintages:
        raise InputError("--per-footprint with --facet-vintages: footprints differ between vintages, so there is "
                         "no one page per footprint. Drop --per-footprint, or make a report per vintage.")
    selection = select(options)
    main = _section(options, fmt, dpi)
    sections = [main]
    if per_footprint:
        from stpmap.data import atlas as _atlas

        stp = _atlas.table("stp", selection.vintage, columns=["code", "name"]).set_index("code")["name"]
        codes = selection.codes if selection.codes is not None else list(stp.index)
        for code in codes:
            sections.append(_section(_footprint_options(options, code), fmt, dpi, heading=f"{stp[code]} ({code})"))
    reg = registry()
    vintages = options.facet_vintages or [selection.vintage]
    footer = [reg.attribution(), *dict.fromkeys(reg.population_note(v) for v in vintages),
              "Boundaries: " + "; ".join(f"{layer_words('stp', v)[1]} of {as_of(v)} (vintage {v})" for v in vintages)
              + ".", "Made with stpmap. Every map has alternative text describing what it shows."]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    writer = _writer(fmt)
    writer(tmp, title or options.title or main.heading, sections, footer)
    tmp.replace(path)
    return path


def _writer(fmt: str):
    if fmt == "docx":
        from stpmap.reports.docx import write
    else:
        from stpmap.reports.pptx import write
    return write


def report(output, vintage=None, group=None, *, footprint=None, layer: str = "stp", overlay: str | None = None,
           colour_by: str | None = None, data=None, join_on: str | None = None, value: str | None = None,
           aggregate: str | None = None, data_encoding: str | None = None, data_vintage=None,
           scheme: str | None = None, k: int = 5, bins=None, ramp: str | None = None, palette: str | None = None,
           labels: str = "name", title: str | None = None, groups_file=None, shape: str = "map",
           per_footprint: bool = False, dpi: float = DPI, facet=None, facet_vintages=None) -> Path:
    """Write a Word (.docx) or PowerPoint (.pptx) report of a map.

    The options are :func:`stpmap.plot`'s. The report holds a title, the
    map as a picture (16 cm wide in Word, the left of a 16:9 slide in
    PowerPoint) with its alternative text, a table of the figures shown
    (one row per area, numbers with thousands separators, unit and year
    stated), and the source, attribution and vintage. ``per_footprint``
    adds a page (slide) per footprint: its CCGs mapped with its local
    authorities outlined, and tables of both. With ``facet`` or
    ``facet_vintages`` the map is small multiples: one picture, and one
    table with a column per map.

    >>> import stpmap
    >>> stpmap.report("east.docx", group="East of England", colour_by="population")  # doctest: +SKIP
    """
    options = MapOptions(vintage=vintage, group=group, footprint=footprint, groups_file=groups_file, layer=layer,
                         overlay=overlay, colour_by=colour_by, data=data, join_on=join_on, value=value,
                         aggregate=aggregate, data_encoding=data_encoding, data_vintage=data_vintage, scheme=scheme,
                         k=k, bins=bins, ramp=ramp, palette=palette, labels=labels, title=title, shape=shape,
                         facet=facet, facet_vintages=facet_vintages)
    return write_report(output, options, per_footprint=per_footprint, title=title, dpi=dpi)
