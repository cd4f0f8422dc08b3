"""The table of the figures a map shows: one row per area, names as on the
map, numbers written for reading, and a caption that states the measure,
its unit and year, for Word and PowerPoint reports (and anyone wanting the
figures behind a map as text); for small multiples, one table with a
column per map (:func:`facet_table`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from stpmap.maps.alttext import number
from stpmap.maps.words import as_of


@dataclass
class FigureTable:
    """A table ready to write: ``header`` and ``rows`` are text, ``numeric``
    says which columns to right-align, ``caption`` states unit and year."""

    header: list
    rows: list
    numeric: list
    caption: str
    title: str = ""
    notes: list = field(default_factory=list)


def _population_year(md) -> str:
    """The population's source and year, from the map's note (e.g. "ONS mid-2017")."""
    import re

    for n in md.notes:
        m = re.search(r"(ONS mid-\d{4})", n)
        if m:
            return m.group(1) + " estimate"
    return "ONS mid-year estimate"


def _measure(md):
    """(column of md.gdf, header, caption part) of what the colours show, or None."""
    kind = md.legend.kind
    if kind == "identity":
        return None
    word = md.colour_by[:1].upper() + md.colour_by[1:]
    if kind == "classes":
        if md.colour_by == "population" or (md.value_column is None and "pop" in md.colour_by):
            return "value", f"{word} (people)", f"{word}: people, {_population_year(md)}"
        if md.joined is not None:
            return "value", word, f"{word}: as given in your data ({md.joined.summary()})"
        return "value", word, f"{word}: from the {md.layer} layer of the {as_of(md.vintage)} atlas"
    return "value", word, f"{word}: the category each area is coloured by"


def figures_table(md, title: str = "") -> FigureTable:
    """The figures of :class:`stpmap.maps.prepare.MapData` ``md`` as a table.

    Columns: name, code, what the colours show (numbers or categories; none
    when each area simply has its own colour) and the population when the
    colours show something else. Rows are sorted by the number shown,
    highest first, else by name; areas with no figure say "no data".
    """
    gdf = md.gdf
    measure = _measure(md)
    header = ["Name", "Code"]
    cols, numeric = [], [False, False]
    caption = []
    if measure is not None:
        col, head, cap = measure
        cols.append((col, md.legend.kind == "classes"))
        header.append(head)
        numeric.append(md.legend.kind == "classes")
        caption.append(cap)
    if "population" in gdf and (measure is None or md.colour_by != "population"):
        cols.append(("population", True))
        header.append("Population")
        numeric.append(True)
        caption.append(f"Population: people, {_population_year(md)}")
    order = gdf
    if measure is not None and md.legend.kind == "classes":
        order = gdf.assign(_v=pd.to_numeric(gdf["value"], errors="coerce")).sort_values("_v", ascending=False,
                                                                                        kind="stable")
    else:
        order = gdf.sort_values("name", kind="stable")
    rows = []
    for _, r in order.iterrows():
        row = [str(r["name"]), str(r["code"])]
        for col, is_number in cols:
            v = r[col]
            if v is None or (isinstance(v, float) and pd.isna(v)):
                row.append("no data")
            else:
                row.append(number(float(v)) if is_number else str(v))
        rows.append(row)
    caption.append(f"Areas: {as_of(md.vintage)} boundaries." if md.vintage else "")
    return FigureTable(header=header, rows=rows, numeric=numeric, caption=". ".join(c for c in caption if c).replace("..", "."),
                       title=title)


def names_table(gdf, title: str, caption: str) -> FigureTable:
    """A table of areas' names and codes (and population when known), by name."""
    cols = ["name", "code"] + (["population"] if "population" in gdf else [])
    rows = []
    for _, r in gdf.sort_values("name", kind="stable").iterrows():
        row = [str(r["name"]), str(r["code"])]
        if "population" in cols:
            row.append("no data" if pd.isna(r["population"]) else number(float(r["population"])))
        rows.append(row)
    header = ["Name", "Code"] + (["Population"] if "population" in cols else [])
    return FigureTable(header=header, rows=rows, numeric=[False, False, True][:len(header)], caption=caption,
                       title=title)


#: In a table of small multiples, the cell of an area that is not one of that map's vintage.
NOT_AN_AREA = "–"


def facet_table(facets, title: str = "") -> FigureTable:
    """The figures of small multiples (:class:`stpmap.maps.static.facet.Facets`)
    as one table: one row per area, one column per map (headed with the
    map's title, or its vintage's date), numbers written for reading.

    Over columns, rows are sorted by the first map's number, highest first;
    over vintages (whose areas differ) by code, the latest name kept, and an
    area that is not one of a vintage's says "–" there. Numbers have the
    same decimals throughout. Maps of footprints
    each in their own colour show each footprint's population.
    """
    panels = facets.panels
    kind = facets.legend.kind
    column = "population" if kind == "identity" else "value"
    numbers = kind in ("classes", "identity")
    names: dict = {}
    cells: list = []
    for md in panels:
        gdf = md.gdf
        names.update(zip(gdf["code"].astype(str), gdf["name"].astype(str)))  # the latest vintage's name wins
        cells.append(dict(zip(gdf["code"].astype(str), gdf[column] if column in gdf else [None] * len(gdf))))
    codes = list(dict.fromkeys(c for md in panels for c in md.gdf["code"].astype(str)))
    if facets.by == "columns" and numbers:
        first = pd.to_numeric(pd.Series([cells[0].get(c) for c in codes], dtype=object), errors="coerce")
        codes = [codes[i] for i in first.sort_values(ascending=False, kind="stable").index]
    else:
        codes.sort(key=lambda c: (c, names[c]) if facets.by == "vintages" else (names[c], c))
    integer = None
    if numbers:
        every = pd.to_numeric(pd.Series([v for d in cells for v in d.values()], dtype=object), errors="coerce").dropna()
        integer = bool((every % 1 == 0).all())
    rows = [[names[c], c, *(_cell_text(cells[i], c, numbers, integer) for i in range(len(panels)))] for c in codes]
    heads = [as_of(md.vintage) for md in panels] if facets.by == "vintages" else list(facets.panel_titles)
    return FigureTable(header=["Name", "Code", *heads], rows=rows, numeric=[False, False] + [numbers] * len(panels),
                       caption=_facet_caption(facets), title=title)


def _cell_text(values: dict, code: str, is_number: bool, integer) -> str:
    if code not in values:
        return NOT_AN_AREA
    v = values[code]
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "no data"
    return number(float(v), integer) if is_number else str(v)


def _facet_caption(facets) -> str:
    """What the table's figures are, their unit and year, and of which boundaries."""
    first = facets.panels[0]
    kind = facets.legend.kind
    if kind == "identity" or facets.measure == "Population" or first.colour_by == "population":
        what = f"{'Population' if kind == 'identity' else facets.measure}: people, {_population_year(first)}"
    elif kind == "categories":
        what = f"{facets.measure}: the category each area is coloured by"
    elif first.joined is not None:
        j = first.joined
        what = f"{facets.measure}: as given in your data ({', '.join(facets.panel_titles)} from {j.source})"
    else:
        what = f"{facets.measure}: from the {first.layer} layer of the atlas"
    if facets.by == "vintages":
        where = (f"Each column on its own vintage's boundaries; {NOT_AN_AREA} where an area is not one of that "
                 "vintage's")
    else:
        where = f"Areas: {as_of(first.vintage)} boundaries"
    return f"{what}. {where}."
