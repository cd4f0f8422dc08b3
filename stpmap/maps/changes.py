"""The lineage picture: how the footprints of one vintage became those of
another, as a table with geometry and as a map (PNG, SVG, PDF or HTML).

:func:`changes` says, for every footprint of ``to_vintage``, what became of
the footprints of ``from_vintage``: merged, split, gained or lost area,
renumbered, renamed or unchanged, with the people that moved. The facts come
from :func:`stpmap.data.lineage.lineage` (exact, LSOA by LSOA); which
footprint continues which is decided as :mod:`stpmap.data.history` decides
it (the one that took, or gave, most of the people).

:func:`moved` is the territory that changed footprint: each piece is a
from-footprint intersected with a to-footprint where neither is the other's
continuation. Every vintage's atlas is drawn from the April 2017 CCGs, so
these pieces are April 2017 CCGs, or the parts of the few CCGs later split
LSOA by LSOA (whose new border is approximate; see
:mod:`stpmap.data.geometry`), with their borders exactly where they were.

:func:`plot` and :func:`explore` draw it with the map machinery of the other
maps (page, legend, labels, scale bar, title, attribution, alternative text;
the folium map with its tooltips), and :func:`write` writes a file as
``stpmap map --changes 2017 2022`` does.

>>> import stpmap
>>> ch = stpmap.changes(2017, 2018)
>>> ch.loc[ch["code"] == "E54000049", ["category", "from_codes"]].values.tolist()
[['merged', 'E54000045; E54000046; E54000047']]
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.data.registry import registry
from stpmap.errors import InputError
from stpmap.maps import colours as _colours
from stpmap.maps.words import as_of, capital, layer_words

#: What a footprint can have undergone, in the order the map's legend lists them.
CATEGORIES = ("unchanged", "renamed", "renumbered", "merged", "split", "gained area", "lost area",
              "gained and lost area")
#: Which category colours a footprint that underwent several changes: the first that applies.
PRIORITY = ("merged", "split", "gained and lost area", "gained area", "lost area", "renumbered", "renamed",
            "unchanged")
#: The categories of a change of area.
AREA_CHANGES = ("merged", "split", "gained area", "lost area", "gained and lost area")
#: The fill of each category (NHS identity colours): what did not change stays pale.
FILLS = {
    "unchanged": _colours.NHS["NHS Pale Grey"],
    "renamed": _colours.mix(_colours.NHS["NHS Light Blue"], "#FFFFFF", 0.45),
    "renumbered": _colours.NHS["NHS Aqua Blue"],
    "merged": _colours.mix(_colours.NHS["NHS Purple"], "#FFFFFF", 0.55),
    "split": _colours.NHS["NHS Pink"],
    "gained area": _colours.NHS["NHS Light Green"],
    "lost area": _colours.NHS["NHS Warm Yellow"],
    "gained and lost area": _colours.NHS["NHS Aqua Green"],
}
#: Colour of the moved territory's hatching and outline, of the borders that went, and of the call-outs.
INK = _colours.NHS["NHS Dark Blue"]
HATCH = "////"
#: Polygons of an intersection smaller than this (m²) are where two vintages' borders meet, not territory.
MIN_PIECE_M2 = 100.0
#: Parts of moved territory smaller than this (m²) are not ringed on static maps: a ring would mark a dot.
MIN_RINGED_M2 = 1e6
TITLE_WORDS = "How the footprints changed"
COLUMNS = ["code", "name", "vintage", "category", "change", "from_codes", "from_names", "merged_from", "split_from",
           "population", "population_gained", "population_lost", "story", "geometry"]
PIECE_COLUMNS = ["letter", "label", "from_code", "from_name", "to_code", "to_name", "population", "lsoa_count",
                 "area_km2", "story", "geometry"]


# ------------------------------------------------------------------ facts


def check_pair(from_vintage, to_vintage) -> tuple[int, int]:
    """The two vintages as ints: each must be a vintage stpmap knows (else a
    ChoiceError listing them), and they must differ."""
    reg = registry()
    if from_vintage is None or to_vintage is None:
        raise InputError(f"Give two vintages to compare, e.g. 2017 2022 (valid: {', '.join(map(str, reg.vintages))}).")
    a, b = reg.check_vintage(from_vintage), reg.check_vintage(to_vintage)
    if a == b:
        other = next(v for v in reversed(reg.vintages) if v != a)
        raise InputError(f"Both vintages are {a}: nothing changes between a vintage and itself. Give two different "
                         f"ones, e.g. {a} {other} (valid: {', '.join(map(str, reg.vintages))}).")
    return a, b


def _short(name) -> str:
    """A footprint's or CCG's name without "NHS " and "Integrated Care Board"."""
    s = str(name)
    return (s[4:] if s.startswith("NHS ") else s).removesuffix(" Integrated Care Board")


def _links(t: pd.DataFrame):
    """(forward, backward, moved rows) of a lineage table: which to-footprint
    continues each from-footprint, which from-footprint each to-footprint
    continues, and the pairs that are neither (territory that moved)."""
    from stpmap.data.history import main_links

    forward, backward = main_links(t)
    cont = t["from_code"].map(forward) == t["to_code"]
    core = t["to_code"].map(backward) == t["from_code"]
    return forward, backward, t[~cont & ~core].reset_index(drop=True)


def _piece_labels(a: int, b: int, pairs: pd.DataFrame) -> list[str]:
    """What each moved piece is, in the CCGs of the earlier vintage: "Bassetlaw
    CCG", or "High Peak part of Tameside and Glossop CCG" where only some
    of a CCG's LSOAs moved (named by their local authorities)."""
    e = min(a, b)
    cols = ["lsoa_code", "stp_code"]
    la, lb = _atlas.layer("lsoa", a)[cols], _atlas.layer("lsoa", b)[cols]
    key = la.merge(lb, on="lsoa_code", suffixes=("_from", "_to"))
    key = key.merge(_atlas.layer("lsoa", e)[["lsoa_code", "ccg_code", "lad_code"]], on="lsoa_code")
    ccg_names = _atlas.table("ccg", e, columns=["code", "name"]).set_index("code")["name"]
    lad_names = _atlas.table("lad", e, columns=["code", "name"]).set_index("code")["name"]
    ccg_size = key.groupby("ccg_code").size()
    out = []
    for r in pairs.itertuples():
        mine = key[(key["stp_code_from"] == r.from_code) & (key["stp_code_to"] == r.to_code)]
        parts = []
        for ccg, rows in mine.groupby("ccg_code", sort=True):
            name = _short(ccg_names.get(ccg, ccg))
            if len(rows) == ccg_size[ccg]:
                parts.append(name)
            else:
                lads = " and ".join(str(lad_names.get(x, x)) for x in sorted(rows["lad_code"].unique()))
                parts.append(f"{lads} part of {name}")
        out.append(" and ".join(parts))
    return out


def _piece_geometry(x, y):
    """The territory two footprints of different vintages share, without the
    zero-width slivers where their borders meet."""
    import shapely

    parts = shapely.get_parts(shapely.intersection(x, y))
    keep = [p for p in parts if p.geom_type == "Polygon" and p.area >= MIN_PIECE_M2]
    return shapely.multipolygons(keep) if len(keep) > 1 else (keep[0] if keep else shapely.Polygon())


def _reading_order(geoms) -> np.ndarray:
    """Indices of ``geoms`` north to south (bands of 20 km), then west to east."""
    import shapely

    c = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms, dtype=object)))
    return np.lexsort((c[:, 0], -np.round(c[:, 1] / 20_000))) if len(c) else np.zeros(0, dtype=int)


def moved(from_vintage, to_vintage):
    """The territory that changed footprint between two vintages.

    Returns a GeoDataFrame (British National Grid), one row per piece, north
    to south: ``letter`` (A, B, ...: the piece's mark on the map), ``label``
    (what it is, in the earlier vintage's CCGs), ``from_code``,
    ``from_name``, ``to_code``, ``to_name`` (the footprints it left and
    joined), ``population`` (ONS mid-2017, exact from the LSOA lookups),
    ``lsoa_count``, ``area_km2`` and ``story`` (the same in words).
    """
    return _facts(from_vintage, to_vintage)[1]


def _moved_frame(a: int, b: int, pairs: pd.DataFrame):
    import geopandas as gpd
    import shapely

    ga = _atlas.layer("stp", a).set_index("code")
    gb = _atlas.layer("stp", b).set_index("code")
    geoms = [_piece_geometry(ga.geometry[r.from_code], gb.geometry[r.to_code]) for r in pairs.itertuples()]
    out = gpd.GeoDataFrame({
        "label": _piece_labels(a, b, pairs) if len(pairs) else [],
        "from_code": pairs["from_code"], "from_name": pairs["from_name"], "to_code": pairs["to_code"],
        "to_name": pairs["to_name"], "population": pairs["population"].astype(int),
        "lsoa_count": pairs["lsoa_count"].astype(int),
    }, geometry=gpd.GeoSeries(geoms, crs=ga.crs))
    out["area_km2"] = (shapely.area(out.geometry.values) / 1e6).round(2)
    out = out.iloc[_reading_order(out.geometry.values)].reset_index(drop=True)
    out.insert(0, "letter", [_letter(i) for i in range(len(out))])
    out["story"] = [f"{r.label}: {r.population:,} people moved from {r.from_code} {r.from_name} ({a}) to "
                    f"{r.to_code} {r.to_name} ({b})." for r in out.itertuples()]
    out = out[PIECE_COLUMNS]
    out.attrs.update({"from_vintage": a, "to_vintage": b})
    return out


def _letter(i: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def changes(from_vintage, to_vintage):
    """What became of the footprints of ``from_vintage`` by ``to_vintage``
    (either may be the earlier; any two different vintages).

    Returns
    -------
    GeoDataFrame (British National Grid), one row per footprint of
    ``to_vintage``, sorted by code:

    ``code``, ``name``, ``vintage``, ``geometry``
        the footprint of ``to_vintage``;
    ``category``
        the change the map colours it by, the first of :data:`PRIORITY`
        that applies: ``merged`` (two or more footprints went wholly or
        mostly into it), ``split`` (it and others came out of one),
        ``gained area`` / ``lost area`` / ``gained and lost area``
        (territory moved in or out), ``renumbered`` (a new code, the same
        LSOAs), ``renamed``, or ``unchanged``;
    ``change``
        every change that applies, as :func:`stpmap.history` words them
        ("merged, renamed, new code"; ``new code``: a new code along with a
        new area);
    ``from_codes``, ``from_names``
        the footprints of ``from_vintage`` it holds people of ("; ");
    ``merged_from``
        those of them that went wholly or mostly into it, when two or more
        did (it is a merger), else "";
    ``split_from``
        the footprint it and others came out of (wholly or mostly), when it
        split, else "";
    ``population``, ``population_gained``, ``population_lost``
        its people, and the people of the territory that moved in and out
        (ONS mid-2017, exact from the LSOA lookups);
    ``story``
        all of it in a sentence, e.g. "E54000049 Cumbria and North East
        (2018) = E54000045 + E54000046 + E54000047 of 2017."

    ``attrs`` carries ``from_vintage``, ``to_vintage``, ``attribution`` and
    ``population_source``. The territory that moved is :func:`moved`.
    """
    return _facts(from_vintage, to_vintage)[0]


def _facts(from_vintage, to_vintage):
    """(:func:`changes`, :func:`moved`) of two vintages, worked out together."""
    from stpmap.data.lineage import lineage

    a, b = check_pair(from_vintage, to_vintage)
    t = lineage(a, b)
    forward, backward, pairs = _links(t)
    pieces = _moved_frame(a, b, pairs)
    return _changes_frame(t, forward, backward, pairs, pieces), pieces


def _changes_frame(t: pd.DataFrame, forward, backward, pairs: pd.DataFrame, pieces):
    import geopandas as gpd

    a, b = t.attrs["from_vintage"], t.attrs["to_vintage"]
    stp = _atlas.layer("stp", b)[["code", "name", "population", "geometry"]].sort_values("code")
    from_names = t.drop_duplicates("from_code").set_index("from_code")["from_name"]
    labels = dict(zip(zip(pieces["from_code"], pieces["to_code"]), pieces["label"]))
    rows = [_one(t, code, name, int(pop), forward, backward, pairs, from_names, labels)
            for code, name, pop in zip(stp["code"], stp["name"], stp["population"])]
    out = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=stp.geometry.values, crs=stp.crs)
    out["vintage"] = b
    out = out[COLUMNS]
    reg = registry()
    out.attrs.update({"from_vintage": a, "to_vintage": b, "attribution": reg.attribution(),
                      "population_source": reg.population_note(max(a, b))})
    return out


def _one(t, code, name, population, forward, backward, pairs, from_names, labels) -> dict:
    """The row of :func:`changes` for the to-footprint ``code``."""
    a, b = t.attrs["from_vintage"], t.attrs["to_vintage"]
    mine = t[t["to_code"] == code]
    sources = sorted(c for c in mine["from_code"] if forward[c] == code)
    core = backward[code]
    siblings = sorted(c for c, f in backward.items() if f == core and c != code)
    gained = pairs[pairs["to_code"] == code]
    lost = pairs[pairs["from_code"].isin({core, *sources})]
    pair = mine[mine["from_code"] == core].iloc[0]
    same_area = len(mine) == 1 and pair["from_share"] == 1 and pair["to_share"] == 1
    kinds = [k for k, yes in (("merged", len(sources) > 1), ("split", bool(siblings)), ("gained", len(gained)),
                              ("lost", len(lost)), ("renamed", name != from_names[core])) if yes]
    if code != core:
        kinds.append("renumbered" if same_area else "new code")
    category = _category(kinds)
    terms = " + ".join(sources) if len(sources) > 1 else (f"part of {core}" if siblings else core)
    story = f"{code} {name} ({b}) = {terms} of {a}"
    story += "".join(f" + {labels[r.from_code, r.to_code]} ({r.population:,} people, from {r.from_code})"
                     for r in gained.itertuples())
    story += "".join(f" less {labels[r.from_code, r.to_code]} ({r.population:,} people, now in {r.to_code})"
                     for r in lost.itertuples())
    if siblings:
        story += f"; the rest of {core} is now {' and '.join(siblings)}"
    if "renamed" in kinds and len(sources) <= 1 and not siblings:
        story += f"; renamed from “{from_names[core]}”"
    if category == "unchanged":
        story = f"{code} {name} ({b}): the same area, code and name as in {a}"
    return {"code": code, "name": name, "category": category, "change": ", ".join(kinds) or "unchanged",
            "from_codes": "; ".join(sorted(mine["from_code"])),
            "from_names": "; ".join(from_names[c] for c in sorted(mine["from_code"])),
            "merged_from": "; ".join(sources) if len(sources) > 1 else "", "split_from": core if siblings else "",
            "population": population, "population_gained": int(gained["population"].sum()),
            "population_lost": int(lost["population"].sum()), "story": story + "."}


def _category(kinds: list[str]) -> str:
    have = set(kinds)
    if {"gained", "lost"} <= have:
        have.add("gained and lost area")
    have |= {f"{k} area" for k in ("gained", "lost") if k in have}
    return next((c for c in PRIORITY if c in have), "unchanged")


# ------------------------------------------------------------- map words


def _vintage_words(a: int, b: int, ch) -> tuple[str, str]:
    """("the 44 STP footprints of April 2017", "the 42 Integrated Care Boards of July 2022")."""
    n_a = len(set("; ".join(ch["from_codes"]).split("; ")))
    return (f"the {n_a} {layer_words('stp', a)[1]} of {as_of(a)}",
            f"the {len(ch)} {layer_words('stp', b)[1]} of {as_of(b)}")


def map_title(from_vintage, to_vintage) -> str:
    """E.g. "How the footprints changed, April 2017 to July 2022"."""
    return f"{TITLE_WORDS}, {as_of(from_vintage)} to {as_of(to_vintage)}"


def _counts(ch) -> str:
    counts = ch["category"].value_counts()
    return ", ".join(f"{counts[c]} {c}" for c in CATEGORIES if c in counts)


def alt_text(ch, pieces) -> str:
    """The map's alternative text, in the style of
    :func:`stpmap.maps.alttext.alt_text`: what the map compares, how many
    footprints underwent each change, which merged or split, and which
    territory moved where."""
    from stpmap.maps.alttext import MAX_LISTED

    a, b = ch.attrs["from_vintage"], ch.attrs["to_vintage"]
    before, after = _vintage_words(a, b, ch)
    text = f"Map of how {before} became {after}, coloured by what changed: {_counts(ch)}."
    joined = ch[ch["category"].isin(["merged", "split"])]
    text += "".join(f" {s}" for s in joined["story"].head(MAX_LISTED))
    if len(pieces):
        told = [f"{r.label} ({r.population:,} people) from {_short(r.from_name)} to {_short(r.to_name)}"
                for r in pieces.head(MAX_LISTED).itertuples()]
        more = f"; and {len(pieces) - MAX_LISTED} more" if len(pieces) > MAX_LISTED else ""
        word = "piece" if len(pieces) == 1 else "pieces"
        text += (f" {len(pieces)} {word} of territory moved footprint, {int(pieces['population'].sum()):,} people "
                 f"(hatched): {'; '.join(told)}{more}.")
    else:
        text += " No territory moved footprint."
    return text


def map_data(ch, pieces, *, tolerance: float = 0.0, labels: str = "name", title_text: str | None = None):
    """The :class:`~stpmap.maps.prepare.MapData` of the lineage picture: the
    to-footprints (simplified as on the other maps) filled by ``category``,
    labelled where their area, code or name changed."""
    import geopandas as gpd

    from stpmap.maps.prepare import Legend, MapData, simplified

    a, b = ch.attrs["from_vintage"], ch.attrs["to_vintage"]
    drawn = simplified("stp", b, tolerance).set_index("code")
    gdf = gpd.GeoDataFrame(ch.drop(columns="geometry"), geometry=drawn.geometry.reindex(ch["code"]).values,
                           crs=drawn.crs)
    gdf["region"] = drawn["region"].reindex(ch["code"]).values
    gdf["fill"] = gdf["category"].map(FILLS)
    gdf["value"] = gdf["category"]
    gdf["label"] = gdf["code"] if labels == "code" else gdf["name"].map(_short)
    counts = gdf["category"].value_counts()
    legend = Legend("What changed", "categories", [(f"{capital(c)} ({counts[c]})", FILLS[c])
                                                   for c in CATEGORIES if c in counts],
                    note=f"Each {layer_words('stp', b)[0]} of {as_of(b)} is coloured by what became of the "
                         f"{layer_words('stp', a)[1]} of {as_of(a)} it holds people of.")
    before, after = _vintage_words(a, b, ch)
    reg = registry()
    notes = [reg.population_note(max(a, b))]
    if len(pieces):
        notes.append("Moved territory is drawn from the April 2017 CCG boundaries; a new border through a CCG "
                     "split LSOA by LSOA is approximate. People are counted exactly through the LSOA lookups.")
    return MapData(vintage=b, layer="stp", gdf=gdf, legend=legend, title=title_text or map_title(a, b),
                   subtitle=capital(f"{before} became {after}: {_counts(ch)}"), attribution=reg.attribution(),
                   notes=notes, national=True, colour_by="what changed", labels=labels, selection=None)


def _former_borders(ch, a: int):
    """The borders of ``a``'s footprints that are gone: those now inside a
    footprint whose area changed (lines, British National Grid)."""
    import shapely

    ga = _atlas.layer("stp", a).set_index("code").geometry
    out = []
    for r in ch[ch["category"].isin(AREA_CHANGES)].itertuples():
        codes = r.from_codes.split("; ")
        if len(codes) < 2:
            continue
        lines = shapely.union_all(shapely.boundary(ga.loc[codes].values))
        inside = shapely.get_parts(shapely.intersection(lines, shapely.buffer(r.geometry, -5.0)))
        inside = [p for p in inside if p.geom_type == "LineString"]
        if inside:
            merged = shapely.line_merge(shapely.multilinestrings(inside))
            out.extend(p for p in shapely.get_parts(merged) if p.length > 50)
    return out


# ------------------------------------------------------------------ static


def _static_tolerance(width_in: float) -> float:
    """Simplification (metres) of the national static maps (see stpmap.maps.static)."""
    return max(10.0, min(250.0, 620_000.0 / (width_in * 0.66 * 300) / 3))


def plot(from_vintage, to_vintage, *, size=None, dpi: float = 100.0, labels: str = "name", title: str | None = None):
    """The lineage picture as a static map (matplotlib Figure): each footprint
    of ``to_vintage`` filled by what became of the footprints of
    ``from_vintage`` (see :func:`changes`), the territory that moved hatched
    and lettered (A, B, ... listed beside the map, small pieces ringed), the
    borders that went dashed. ``size``, ``dpi`` as for :func:`stpmap.plot`;
    ``labels``: "name", "code" or "none" for the footprints that changed.
    ``fig.alt_text`` is :func:`alt_text`; save with
    :func:`stpmap.maps.static.save` to write it into the file.

    >>> import stpmap.maps.changes as changes
    >>> fig = changes.plot(2017, 2022)
    """
    import matplotlib

    from stpmap.maps import static as _static
    from stpmap.maps.options import LABELS
    from stpmap.errors import ChoiceError

    if labels not in LABELS:
        raise ChoiceError("labels", labels, LABELS)
    ch, pieces = _facts(from_vintage, to_vintage)
    w_in, _ = _static.parse_size(size, dpi)
    tol = _static_tolerance(w_in)
    md = map_data(ch, pieces, tolerance=tol, labels=labels, title_text=title)
    former = _former_borders(ch, ch.attrs["from_vintage"])
    size = _page_size(md, pieces, size, dpi)
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = _render(md, pieces, former, tol, size, dpi, _static._font())
    fig.alt_text = alt_text(ch, pieces)
    fig.map_title = md.title
    _static._inline(fig)
    return fig


def _page_size(md, pieces, size, dpi: float):
    """``size``, or where the page's height is left to the map (no size,
    ``a4-text``), a height that also fits the side panel's lists and key
    (at most 13 inches, as other maps)."""
    from stpmap.maps.static import figure as _figure

    if not _figure.fitted_height(size):
        return size
    w_in, _ = _figure.parse_size(size, dpi)
    chars = max(24, int(0.3 * w_in * 72 / (6.8 * 0.52)) - 6)
    line = 6.8 * 1.3 / 72
    texts = [f"{r.label}, {r.population:,} people: from {r.from_name} to {r.to_name}" for r in pieces.itertuples()]
    texts += [" + ".join(r.from_names.split("; ")) for r in md.gdf.itertuples() if r.category in ("merged", "split")]
    lists = sum(len(textwrap.wrap(t, chars)) + 0.45 for t in texts) * line + 0.35 * bool(texts) + 0.3 * bool(len(pieces))
    keyed = len(_labelled(md.gdf, [])) if md.labels != "none" else 0
    panel = 0.3 + 0.16 * (len(md.legend.entries) + 2) + 0.6 + lists + (0.3 + 0.12 * keyed if keyed else 0)
    foot = 0.16 + 0.115 * len(_figure.footnote_lines(md, w_in))
    height = max(_figure.page_height_for(md, 0.66 * w_in, True, foot), panel + 0.95 + foot + 0.1)
    return (w_in, round(min(13.0, height), 1))


def _render(md, pieces, former, tolerance: float, size, dpi: float, font: str):
    import matplotlib
    import shapely

    from stpmap.maps.static import figure as _figure
    from stpmap.maps.static import furniture as _furniture
    from stpmap.maps.static import labels as _labels

    page = _figure.new_page(md, size, dpi, font)
    _figure.draw_areas(page, md)
    drawn = shapely.simplify(np.asarray(pieces.geometry.values, dtype=object), tolerance)
    former = shapely.simplify(np.asarray(former, dtype=object), tolerance)
    if len(former):
        _lines(page.ax, former)
    with matplotlib.rc_context({"hatch.linewidth": 0.7}):
        _figure.draw_polygons(page.ax, drawn, "none", edgecolor=INK, linewidth=0.6, zorder=5, hatch=HATCH)
    scale_box = _furniture.scale_bar(page.ax, md.gdf.geometry.values, font=page.font, avoid=[])
    marked = _letter_pieces(page, pieces, drawn, scale_box)
    marked += list(shapely.buffer(former, 1.5 * _metres_per_point(page)))  # names stay off the dashed lines
    numbered = []
    if md.labels != "none":
        numbered = _labels.label_areas(page, dataclasses.replace(md, gdf=_labelled(md.gdf, drawn)), None, scale_box,
                                       avoid=marked)
    _figure.draw_titles(page, md)
    plain = dataclasses.replace(md, legend=dataclasses.replace(md.legend, note=""))
    key_ax, y = _furniture.legend_panel(page, plain, figures=False)
    y = _more_legend(page, key_ax, y, bool(len(pieces)), bool(len(former)))
    y = _note(page, key_ax, y, md.legend.note)
    y = _side_lists(page, key_ax, y, md, pieces)
    if numbered:
        _labels.draw_key(key_ax, numbered, y, page.renderer, page.font)
    return page.fig


def _labelled(gdf, pieces):
    """The footprints a static map names: those whose area changed, or where
    none did, those renamed or renumbered (naming them all would bury the
    changes under forty names); their names go outside the hatched
    territory, where they stay readable."""
    import shapely

    area = gdf["category"].isin(AREA_CHANGES)
    out = gdf[area if area.any() else gdf["category"] != "unchanged"].reset_index(drop=True)
    if len(pieces):
        clear = shapely.difference(out.geometry.values, shapely.union_all(pieces))
        usable = ~shapely.is_empty(clear)
        out = out.set_geometry(np.where(usable, clear, out.geometry.values))
    return out


def _lines(ax, geoms, zorder: int = 4):
    from matplotlib.collections import LineCollection

    import shapely

    segs = [shapely.get_coordinates(g) for g in geoms if not g.is_empty]
    ax.add_collection(LineCollection(segs, colors=INK, linewidths=0.8, linestyles=(0, (3, 1.6)), zorder=zorder,
                                     capstyle="round"))


def _metres_per_point(page) -> float:
    """How many metres of the map a typographic point spans on the page."""
    x0, x1 = page.ax.get_xlim()
    return (x1 - x0) / page.ax.get_window_extent(page.renderer).width * page.fig.dpi / 72.0


def _letter_pieces(page, pieces, drawn, scale_box) -> list:
    """Letter each moved piece, in a dark disc at its centre or beside it with
    a leader line, and ring the pieces (and parts of pieces) too small to
    see at the map's scale. Returns what it drew, for the names to avoid."""
    import shapely
    from matplotlib.patches import Circle

    from stpmap.maps.static import labels as _labels

    if not len(pieces):
        return []
    ax = page.ax
    placer = _labels.Placer(ax, page.renderer, page.font)
    placer.block(shapely.box(*scale_box))
    pt = _metres_per_point(page)
    marked, lettered = [], []
    for i, g in enumerate(drawn):
        parts = shapely.get_parts(g)
        main = int(np.argmax(shapely.area(parts))) if len(parts) else -1
        for k, part in enumerate(parts):
            x0, y0, x1, y1 = shapely.bounds(part)
            extent = max(x1 - x0, y1 - y0)
            if extent < 14 * pt and part.area >= MIN_RINGED_M2:  # under about 5 mm on the page
                (cx, cy), r = shapely.get_coordinates(shapely.centroid(part))[0], extent / 2 + 3.5 * pt
                ax.add_patch(Circle((cx, cy), r, fill=False, ec=INK, lw=1.1, zorder=6))
                marked.append(shapely.Point(cx, cy).buffer(r, 16))
                if k != main:  # a ringed outlying part takes its piece's letter too
                    lettered.append(((i, k), part))
        marked.append(g)
        lettered.append(((i, main), g))
    for m in marked:
        placer.block(m)
    spots = _labels.place_numbers(placer, lettered)
    letters = pieces["letter"].tolist()
    for key, _ in lettered:
        x, y, cx, cy = spots[key]
        if (x, y) != (cx, cy):
            ax.plot([cx, x], [cy, y], color=INK, lw=0.7, zorder=11, solid_capstyle="round")
        ax.text(x, y, letters[key[0]], ha="center", va="center", fontsize=6.4, family=page.font, color="#FFFFFF",
                zorder=12, fontweight="bold", bbox=dict(boxstyle="circle,pad=0.22", fc=INK, ec="#FFFFFF", lw=0.6))
        marked.append(shapely.Point(x, y).buffer(6.5 * pt, 8))
    return marked


def _more_legend(page, key_ax, y: float, pieces: bool, former: bool) -> float:
    """Swatches for the hatched territory and the dashed borders, under the legend."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    if pieces:
        handles.append(Patch(facecolor="#FFFFFF", edgecolor=INK, hatch=HATCH, lw=0.0,
                             label="Territory that moved (lettered)"))
    if former:
        handles.append(Line2D([], [], color=INK, lw=0.8, linestyle=(0, (3, 1.6)), label="Border that went"))
    if not handles:
        return y
    leg = key_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, y), frameon=False, fontsize=7.5,
                        alignment="left", handlelength=1.6, handleheight=1.1, borderaxespad=0.0, labelspacing=0.35)
    for t in leg.get_texts():
        t.set_family(page.font)
    key_ax.add_artist(leg)
    bb = leg.get_window_extent(page.renderer).transformed(key_ax.transAxes.inverted())
    return bb.y0 - 0.12 / (page.top - page.bottom) / page.h_in


def _note(page, key_ax, y: float, note: str) -> float:
    """The legend's note, as :func:`stpmap.maps.static.furniture.legend_panel` writes it."""
    chars = max(20, int((0.98 - (0.02 + page.map_w + 0.015)) * page.w_in * 72 / (6.5 * 0.52)))
    t = key_ax.text(0.0, y, textwrap.fill(note, chars), fontsize=6.3, color=_colours.NHS["NHS Dark Grey"], va="top",
                    family=page.font, transform=key_ax.transAxes)
    bb = t.get_window_extent(page.renderer).transformed(key_ax.transAxes.inverted())
    return bb.y0 - 0.2 / (page.top - page.bottom) / page.h_in


def _side_lists(page, key_ax, y: float, md, pieces) -> float:
    """Beside the map: the footprints that merged (or split), with the names
    of those they were, and the lettered pieces of territory that moved."""
    gdf = md.gdf
    names = {}
    for codes, joined in zip(gdf["from_codes"], gdf["from_names"]):
        names.update(zip(codes.split("; "), joined.split("; ")))
    joined = gdf[gdf["category"].isin(["merged", "split"])]
    items = []
    for r in joined.itertuples():
        if r.category == "merged":
            items.append(("", f"{_short(r.name)} = " + " + ".join(_short(names[c]) for c in r.merged_from.split("; "))))
        else:
            items.append(("", f"{_short(r.name)}: split from {_short(names[r.split_from])}"))
    if items:
        kinds = sorted(set(joined["category"]))
        y = _text_section(page, key_ax, y, capital(" and ".join(kinds)), items)
    items = [(r.letter, f"{r.label}, {r.population:,} people: from {_short(r.from_name)} to {_short(r.to_name)}")
             for r in pieces.itertuples()]
    if items:
        y = _text_section(page, key_ax, y, "Territory that moved", items)
    return y


def _text_section(page, key_ax, y: float, heading: str, items) -> float:
    """A heading and its items ([(mark, text)]: the mark in bold, the text
    wrapped beside it), from ``y`` down; returns the height below them."""
    span_in = (page.top - page.bottom) * page.h_in
    fs = 6.8
    chars = max(24, int((0.98 - (0.02 + page.map_w + 0.015)) * page.w_in * 72 / (fs * 0.52)) - 6)
    step = fs * 1.3 / 72 / span_in
    key_ax.text(0.0, y, heading, fontsize=8.5, fontweight="bold", va="top", family=page.font,
                color=_colours.TEXT, transform=key_ax.transAxes)
    y -= step * 1.6
    for mark, text in items:
        indent = 0.075 if mark else 0.0
        lines = textwrap.wrap(text, chars if mark else chars + 4)
        if mark:
            key_ax.text(0.0, y, mark, fontsize=fs, fontweight="bold", va="top", family=page.font, color=INK,
                        transform=key_ax.transAxes)
        key_ax.text(indent, y, "\n".join(lines), fontsize=fs, va="top", family=page.font, color=_colours.TEXT,
                    transform=key_ax.transAxes, linespacing=1.3)
        y -= step * (len(lines) + 0.45)
    return y - step


# -------------------------------------------------------------------- html

#: The hatching of moved territory on the interactive map: an SVG pattern the
#: territory's fill refers to, and the same look as a legend swatch (CSS).
_HATCH_SVG = (f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
              f'<pattern id="stpmap-hatch" patternUnits="userSpaceOnUse" width="7" height="7" '
              f'patternTransform="rotate(45)"><rect width="7" height="7" fill="#FFFFFF" fill-opacity="0.25"/>'
              f'<line x1="0" y1="0" x2="0" y2="7" stroke="{INK}" stroke-width="2.2"/></pattern></defs></svg>')
_HATCH_CSS = f"repeating-linear-gradient(135deg,{INK} 0 2px,#FFFFFF 2px 5px)"
_DASH_CSS = f"repeating-linear-gradient(90deg,{INK} 0 5px,transparent 5px 8px) center/100% 2px no-repeat"
#: Stories are long: the tooltips of this map wrap them (Leaflet keeps a tooltip on one line).
_TOOLTIP_CSS = "<style>.leaflet-tooltip.stpmap-tooltip{white-space:normal;min-width:260px;max-width:400px}</style>"
#: Each moved piece says its story on hover (tooltip) and click (popup); text is escaped in Python.
_ON_EACH_PIECE = ("function (feature, layer) {"
                  " layer.bindTooltip(feature.properties.tip, {sticky: true, className: 'stpmap-tooltip'});"
                  " layer.bindPopup(feature.properties.tip, {maxWidth: 340}); }")


def explore(from_vintage, to_vintage, *, offline: bool = False, tiles=None, height=None, title: str | None = None):
    """The lineage picture as an interactive map (folium.Map), as
    :func:`stpmap.explore` makes maps: each footprint of ``to_vintage``
    filled by what became of those of ``from_vintage``, its tooltip and
    popup saying so ("What changed: Merged. E54000049 Cumbria and North
    East (2018) = E54000045 + E54000046 + E54000047 of 2017."), and the
    territory that moved hatched on top, with its own story on hover and
    click. ``offline``, ``tiles`` and ``height`` as for
    :func:`stpmap.explore`.
    """
    import html as _escape

    import shapely

    from stpmap.maps import html as _html
    from stpmap.maps.alttext import alt_text as _generic_alt_text

    ch, pieces = _facts(from_vintage, to_vintage)
    tol = _html.NATIONAL_TOLERANCE
    md = map_data(ch, pieces, tolerance=tol, labels="none", title_text=title)
    md.gdf["value"] = [f"{capital(c)}. {s}" for c, s in zip(md.gdf["category"], md.gdf["story"])]
    md.value_column = "What changed"
    former = _former_borders(ch, ch.attrs["from_vintage"])
    extra = [("Territory that moved", _HATCH_CSS)] if len(pieces) else []
    extra += [("Border that went", _DASH_CSS)] if former else []
    md.legend = dataclasses.replace(md.legend, entries=[*md.legend.entries, *extra])
    m = _html.render(md, offline=offline, tiles=tiles, height=height)
    m.get_root().header.add_child(_html._element(_TOOLTIP_CSS), name="stpmap_changes_css")
    _add_moved(m, pieces, shapely.simplify(np.asarray(former, dtype=object), tol), tol)
    text = alt_text(ch, pieces)
    generic = _html.description_html(md)
    described = generic.replace(_escape.escape(_generic_alt_text(md)), _escape.escape(text))
    m.get_root().html.add_child(_html._element(described), name="stpmap_description")  # replaces the generic one
    m.stpmap_alt_text = text
    return m


def _add_moved(m, pieces, former, tolerance: float) -> None:
    """The moved territory (hatched, each piece with its story) and the
    borders that went (dashed) in a pane above the footprints, so hovering a
    footprint never hides them."""
    import html as _escape

    import folium
    import geopandas as gpd
    import shapely

    from stpmap.maps import html as _html

    if not len(pieces) and not len(former):
        return
    pane = "stpmap-moved"
    folium.map.CustomPane(pane, z_index=450, pointer_events=True).add_to(m)
    m.get_root().html.add_child(_html._element(_HATCH_SVG), name="stpmap_hatch")
    if len(former):
        lines = gpd.GeoSeries(list(former), crs=27700).to_crs(4326)
        folium.GeoJson(shapely.to_geojson(shapely.multilinestrings(list(lines.values))),
                       style_function=lambda _: {"color": INK, "weight": 1.6, "dashArray": "5 3", "opacity": 0.9},
                       interactive=False, pane=pane, control=False).add_to(m)
    if not len(pieces):
        return
    drawn = pieces.set_geometry(shapely.simplify(pieces.geometry.values, tolerance)).to_crs(4326)
    features = []
    for r in drawn.itertuples():
        tip = _escape.escape(f"{r.letter}. {r.story}").replace("`", "&#96;").replace("$", "&#36;")
        features.append({"type": "Feature", "properties": {"tip": tip, "code": r.letter},
                         "geometry": shapely.geometry.mapping(r.geometry)})
    style = {"color": INK, "weight": 1.4, "fillColor": "url(#stpmap-hatch)", "fillOpacity": 1.0}
    folium.GeoJson({"type": "FeatureCollection", "features": features}, name="Territory that moved",
                   style_function=lambda _: style, on_each_feature=folium.JsCode(_ON_EACH_PIECE), pane=pane,
                   control=False).add_to(m)


# ------------------------------------------------------------------- files


def default_name(from_vintage, to_vintage) -> str:
    """The file stem of the picture: ``changes-2017-2022``."""
    a, b = check_pair(from_vintage, to_vintage)
    return f"changes-{a}-{b}"


def write(path, from_vintage, to_vintage, fmt: str | None = None, *, offline: bool = False, dpi: float | None = None,
          size=None, labels: str = "name", title: str | None = None, describe=None) -> Path:
    """Write the lineage picture to ``path`` as PNG, SVG, PDF or HTML (the
    format from ``fmt`` or the file's suffix), as
    :func:`stpmap.maps.recipes.write_map` writes the other maps: the static
    ones at ``dpi`` (default 200) with their alternative text in the file,
    the HTML one as :func:`explore` makes it. ``describe``, when given, is
    called with the alternative text. Returns the path written."""
    from stpmap.maps import recipes as _recipes

    a, b = check_pair(from_vintage, to_vintage)  # before any work: a wrong vintage is told at once
    path = Path(path)
    fmt = _recipes.check_format(fmt or path.suffix or _recipes.DEFAULT_FORMAT)
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(path.name + f".{fmt}") if not path.suffix else path.with_suffix(f".{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if fmt == "html":
        from stpmap.maps.html import save

        m = explore(a, b, offline=offline, title=title)
        save(m, tmp)
        text = m.stpmap_alt_text
    else:
        from stpmap.maps.static import save

        fig = plot(a, b, size=size, dpi=dpi or _recipes.DEFAULT_DPI, labels=labels, title=title)
        save(fig, tmp, fmt, dpi=fig.dpi)
        text = fig.alt_text
    tmp.replace(path)
    if describe is not None:
        describe(text)
    return path
