"""What a map shows, worked out once for both the static and the interactive
renderer: the selected areas with their fills, the legend, the overlay, the
context, titles and the attribution.

Geometry for maps is simplified as a *coverage* (``shapely.coverage_simplify``
on the CCGs or districts, which moves shared borders identically on both
sides), and footprints are dissolved from the simplified CCGs, so footprint
and CCG borders still match exactly and neighbours never gap or overlap.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from stpmap import _cache
from stpmap.data import atlas as _atlas
from stpmap.data.registry import registry
from stpmap.errors import CacheError, ChoiceError, InputError
from stpmap.maps import colours as _colours
from stpmap.maps.options import DEFAULT_SCHEME, MapOptions, Selection, select
from stpmap.maps.words import as_of, capital, layer_words

BUILTIN_COLOUR_BY = ("region", "nhs_region", "nhs_local_office", "footprint", "population")
COLOUR_BY_WORDS = {"region": "ONS region", "nhs_region": "NHS England region", "nhs_local_office": "NHS England local office",
                   "footprint": "footprint", "population": "population"}


# ------------------------------------------------------------- geometry


def simplified(name: str, vintage: int, tolerance: float):
    """Layer ``name`` with its geometry simplified as a coverage.

    ``stp`` is dissolved from the simplified CCGs, so its borders are CCG
    borders exactly. ``tolerance`` is in metres (British National Grid),
    to the millimetre. Kept in memory and in the cache's folder of
    simplified geometry (:func:`stpmap._cache.mapgeom_folder`), which is
    emptied when the atlas is rebuilt.
    """
    vintage = int(vintage)
    atlas_built = str((_cache.read_manifest(_cache.atlas_folder(vintage)) or {}).get("built", ""))
    return _simplified(name, vintage, round(float(tolerance), 3), str(_cache.root()), atlas_built).copy()


@cache
def _simplified(name: str, vintage: int, tolerance: float, cache_root: str, atlas_built: str):
    """:func:`simplified`, worked out once a process for each layer,
    tolerance, cache folder and build of the atlas."""
    out = _from_disk(name, vintage, tolerance)
    if out is None:
        out = _simplify(name, vintage, tolerance)
        _to_disk(out, name, vintage, tolerance)
    return out


def _current_folder(vintage: int):
    """The vintage's folder of simplified geometry, emptied (with a new
    manifest) if it was made from an earlier atlas build; ``None`` when
    the atlas has no build stamp or the folder cannot be written."""
    built = (_atlas.manifest(vintage) or {}).get("built")
    if not built:
        return None
    folder = _cache.mapgeom_folder(vintage)
    expected = {"atlas_built": built}
    if not _cache.is_current(folder, expected):
        try:
            with _cache.writing(folder, expected):
                pass  # an empty folder with the manifest replaces the stale one
        except (OSError, CacheError):  # a read-only cache: nothing is kept, maps are simplified afresh
            return None
    return folder


def _disk_path(name: str, vintage: int, tolerance: float):
    folder = _current_folder(vintage)
    return None if folder is None else folder / f"{name}-{tolerance:g}m.parquet"


def _from_disk(name, vintage, tolerance):
    if tolerance <= 0:
        return None
    _atlas.ensure(vintage)
    path = _disk_path(name, vintage, tolerance)
    if path is None or not path.exists():
        return None
    try:
        import geopandas as gpd

        # page checksums (written by _to_disk) catch damage that still parses
        return gpd.read_parquet(path, page_checksum_verification=True)
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None


def _to_disk(gdf, name, vintage, tolerance):
    if tolerance <= 0:
        return
    path = _disk_path(name, vintage, tolerance)
    if path is None:
        return
    try:
        tmp = path.with_suffix(".part")
        gdf.to_parquet(tmp, index=False, write_page_checksum=True)
        tmp.replace(path)
    except OSError:  # a read-only cache is fine: we just recompute next time
        pass


def _simplify(name: str, vintage: int, tolerance: float):
    import shapely

    if name == "stp":
        stp = _atlas.layer("stp", vintage)
        ccg = simplified("ccg", vintage, tolerance)
        groups = ccg.groupby("stp_code").indices
        geoms = ccg.geometry.values
        merged = {}
        for code, idx in groups.items():
            g = shapely.coverage_union_all(geoms[idx])  # fast: CCGs share their borders exactly
            if not shapely.is_valid(g) or g.is_empty:
                g = shapely.union_all(geoms[idx])  # robust where the source coverage is not perfect
            merged[code] = g
        for c in stp["code"]:
            if c not in merged:  # a footprint with no CCG cannot happen in a valid atlas; keep its outline
                merged[c] = shapely.simplify(stp.loc[stp["code"] == c, "geometry"].values[0], tolerance)
        return stp.set_geometry(np.array([merged[c] for c in stp["code"]], dtype=object), crs=stp.crs)
    gdf = _atlas.layer(name, vintage)
    if tolerance > 0:
        geoms = shapely.coverage_simplify(gdf.geometry.values, tolerance)
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        gdf = gdf.set_geometry(geoms, crs=gdf.crs)
    return gdf


# --------------------------------------------------------------- legend


@dataclass
class Legend:
    """What the colours mean. ``entries`` are (label, fill) pairs."""

    title: str
    kind: str  # "categories", "classes" or "identity"
    entries: list = field(default_factory=list)
    missing: str | None = None  # label of the no-data fill, when some areas have none
    note: str = ""
    swatches: dict = field(default_factory=dict)  # label -> every tint its areas have


@dataclass
class MapData:
    """Everything both renderers need."""

    vintage: int
    layer: str
    gdf: object  # GeoDataFrame, EPSG:27700: code, name, label, fill, value, ... geometry
    legend: Legend
    title: str
    subtitle: str
    attribution: str
    notes: list
    national: bool
    colour_by: str
    labels: str
    context: object = None  # GeoDataFrame of footprints not selected, or None
    outline: object = None  # GeoDataFrame of the selected footprints, drawn over CCG/district layers
    overlay: object = None  # GeoDataFrame of the overlay layer, or None
    overlay_layer: str | None = None
    selection: str | None = None  # the selection's name: the group's, or the footprints'
    joined: object = None  # stpmap.maps.userdata.Joined, when the user's data are mapped
    value_column: str | None = None
    shape: str = "map"  # "hex": each area is a hexagon of a hex cartogram (stpmap.maps.hexes.cartogram)

    @property
    def bounds(self):
        return self.gdf.total_bounds

    @property
    def to_scale(self) -> bool:
        """Whether areas are drawn where they are, so that a scale bar, a
        London inset and a basemap mean something: not on a hex cartogram,
        whose hexes are all one size and only roughly placed."""
        return self.shape != "hex"


# ------------------------------------------------------------ preparing


def _short_name(layer: str, name: str) -> str:
    if layer == "ccg":
        s = str(name)
        if s.startswith("NHS "):
            s = s[4:]
        if s.endswith(" CCG"):
            s = s[:-4]
        return s
    return str(name)


def _fmt_number(x: float, integer: bool) -> str:
    if integer or abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:,.3g}"


#: Schemes whose classes follow from the data, not from ``k`` (max_p keeps mapclassify's own 5).
_NO_K = ("box_plot", "headtail_breaks", "std_mean", "percentiles", "max_p")
#: mapclassify.classify starts these from 100 solutions; maps keep the classifiers' own defaults.
_INITIAL = {"natural_breaks": 10, "max_p": 1000}


def _mapclassify():
    """mapclassify, imported without numba.

    With numba installed (the postcode reader uses it) mapclassify compiles
    its Fisher-Jenks kernel eagerly at import: 2.5 s of CPU in every process
    that shades a map, for a few hundred values that need no compiled code.
    A ``None`` in ``sys.modules`` makes its ``from numba import njit`` fail,
    and mapclassify then keeps its pure-Python kernel."""
    import sys

    if "mapclassify" in sys.modules:
        return sys.modules["mapclassify"]
    had, numba = "numba" in sys.modules, sys.modules.get("numba")
    sys.modules["numba"] = None
    try:
        import mapclassify
    finally:
        if had:
            sys.modules["numba"] = numba
        else:
            del sys.modules["numba"]
    return mapclassify


def classify(values: pd.Series, scheme: str, k: int, bins=None, ramp: str = _colours.DEFAULT_RAMP):
    """Fills and legend entries for numeric values (NaN = missing), classed
    by ``mapclassify.classify`` with ``scheme`` (a name of
    :data:`stpmap.maps.options.SCHEMES`)."""
    mapclassify = _mapclassify()
    v = values.astype(float)
    ok = v.notna().to_numpy()
    y = v[ok].to_numpy()
    fills = np.array([_colours.MISSING] * len(v), dtype=object)
    if len(y) == 0:
        return fills.tolist(), []
    integer = bool(np.all(np.mod(y, 1) == 0))
    if scheme == "user_defined" and not bins:
        raise InputError("The user_defined scheme needs class limits: give bins, e.g. --bins 100000,500000,1000000.")
    uniq = np.unique(y)
    if len(uniq) <= 1:
        colour = _colours.ramp(ramp, 1)[0]
        fills[ok] = colour
        return fills.tolist(), [(_fmt_number(float(uniq[0]), integer), colour)]
    k = 5 if scheme in _NO_K else max(1, min(int(k), len(uniq)))
    state = np.random.get_state()
    np.random.seed(0)  # natural breaks and friends start at random: same data, same map
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = mapclassify.classify(y, scheme, k=k, bins=sorted(float(b) for b in bins) if bins else None,
                                     initial=_INITIAL.get(scheme, 100), pct_sampled=_sample_share(len(y)))
    finally:
        np.random.set_state(state)
    upper = list(np.asarray(c.bins, dtype=float))
    yb = np.asarray(c.yb)
    colours = _colours.ramp(ramp, len(upper))
    fills[ok] = [colours[i] for i in yb]
    entries = []
    lower = float(y.min())
    for i, hi in enumerate(upper):
        lo = lower if i == 0 else upper[i - 1]
        if i == len(upper) - 1:
            hi = max(hi, float(y.max())) if np.isfinite(hi) else float(y.max())
        if i == 0 and not np.isfinite(lo):
            lo = float(y.min())
        count = int((yb == i).sum())
        label = f"{_fmt_number(lo, integer)} – {_fmt_number(hi, integer)}"
        entries.append((f"{label}  ({count})", colours[i]))
    return fills.tolist(), entries


def _sample_share(n: int) -> float:
    """The share of values the *_sampled schemes class from: all of them up
    to 1,000 (mapclassify's default 10 % of a map's few hundred areas is
    fewer values than classes, and jenks_caspall_sampled then never ends)."""
    return min(1.0, max(0.1, 1000 / n))


def _column_named(gdf, name: str):
    """The column of ``gdf`` called ``name`` in any case (never the geometry), or None."""
    wanted = str(name).strip().lower()
    for c in gdf.columns:
        if c.lower() == wanted and c != "geometry":
            return c
    return None


def prepare(options: MapOptions | int | None = None, *, tolerance: float = 0.0, selection: Selection | None = None,
            warn: bool = True, **option_values) -> MapData:
    """Work out what a map shows.

    ``options`` is a :class:`~stpmap.maps.options.MapOptions` (see
    :func:`stpmap.plot` for what each option means); for short,
    ``prepare(2017, layer="ccg")`` makes one from a vintage and options given
    as keywords. ``selection`` is ``select(options)``, when the caller has it
    already. ``tolerance`` simplifies the geometry (metres). With ``warn``,
    what the user's data file lacks is raised as :class:`UserWarning`.
    """
    options = _as_options(options, option_values)
    sel = selection if selection is not None else select(options)
    layer = options.layer
    gdf = _areas(layer, sel, tolerance)
    if gdf.empty:
        raise InputError("The selection holds no areas to map. Check --group / --footprint.")
    joined, value_column = _join_user_data(gdf, options, sel)
    if joined is not None and warn:
        for msg in joined.messages:
            warnings.warn(msg, UserWarning, stacklevel=3)
    if options.shape == "hex":  # each area drawn as its hexagon, so fills keep neighbouring hexes apart
        from stpmap.maps.hexes import as_hexagons

        gdf = as_hexagons(gdf, layer, sel.vintage)
    colour_by = options.colour_by
    if colour_by is None:  # regions on national footprint maps, else which footprint each area is in
        colour_by = value_column or ("region" if sel.national and layer == "stp" else "footprint")
    gdf, legend, colour_word, column = colour(gdf, colour_by, layer=layer, scheme=options.scheme, k=options.k,
                                              bins=options.bins, ramp=options.ramp, palette=options.palette,
                                              value_column=value_column,
                                              distance=max(50.0, tolerance),
                                              context=f"for the {layer} layer of vintage {sel.vintage}",
                                              vintage=sel.vintage)
    gdf["label"] = gdf["code"] if options.labels == "code" else gdf["name"].map(lambda s: _short_name(layer, s))
    context, outline = _context_and_outline(layer, sel, tolerance)
    overlay_layer = options.drawn_overlay
    overlay = _areas(overlay_layer, sel, tolerance) if overlay_layer is not None else None
    reg = registry()
    notes = [f"Data: {joined.summary()}.", *joined.messages] if joined is not None else []
    notes.append(reg.population_note(sel.vintage))
    md = MapData(
        vintage=sel.vintage, layer=layer, gdf=gdf, legend=legend, title=_title(options, sel, column, value_column),
        subtitle=_subtitle(options, sel, len(gdf), legend, colour_word, joined), attribution=reg.attribution(), notes=notes,
        national=sel.national, colour_by=colour_word, labels=options.labels, context=context, outline=outline,
        overlay=overlay, overlay_layer=overlay_layer if overlay is not None else None, selection=sel.name,
        joined=joined, value_column=value_column,
    )
    if options.shape == "hex":  # its surroundings, labels and words are a hex cartogram's
        from stpmap.maps.hexes import cartogram

        md = cartogram(md)
    return md


def _as_options(options, option_values: dict) -> MapOptions:
    if isinstance(options, MapOptions):
        return dataclasses.replace(options, **option_values) if option_values else options
    return MapOptions(options, **option_values)


def _areas(name: str, sel: Selection, tolerance: float):
    """The areas of layer ``name`` in the selection, simplified."""
    gdf = simplified(name, sel.vintage, tolerance)
    if sel.codes is not None:
        if name == "stp":
            gdf = gdf[gdf["code"].isin(sel.codes)]
        elif name == "ccg":
            gdf = gdf[gdf["stp_code"].isin(sel.codes)]
        else:
            parts = _atlas.layer("stp_lad", sel.vintage)
            gdf = gdf[gdf["code"].isin(set(parts.loc[parts["stp_code"].isin(sel.codes), "lad_code"]))]
    return gdf.reset_index(drop=True)


def _join_user_data(gdf, options: MapOptions, sel: Selection):
    """Add the user's figures to ``gdf`` as a column; return (the
    :class:`~stpmap.maps.userdata.Joined`, the column's name), or (None, None)
    when the map has no data file."""
    if options.data is None:
        return None, None
    from stpmap.maps.userdata import join

    joined = join(options.data, sel.vintage, layer=options.layer, join_on=options.join_on, value=options.value,
                  aggregate=options.aggregate, areas=None if sel.national else list(gdf["code"]),
                  encoding=options.data_encoding, data_vintage=options.data_vintage)
    column = joined.value_column
    if column in gdf.columns or column in ("fill", "value", "label"):
        column = f"{column} (data)"
    values = gdf["code"].map(joined.values)
    gdf[column] = values.astype(float) if joined.numeric else values
    return joined, column


def _context_and_outline(layer: str, sel: Selection, tolerance: float):
    """The footprints around a selection (greyed out), and the selected
    footprints' borders to draw over a CCG or district layer; None when
    there are none."""
    allfp = simplified("stp", sel.vintage, tolerance)
    chosen = allfp["code"].isin(sel.codes) if sel.codes is not None else np.ones(len(allfp), dtype=bool)
    context = None if sel.national else allfp[~chosen].reset_index(drop=True)
    outline = allfp[chosen].reset_index(drop=True) if layer != "stp" else None
    return context, outline


def _title(options: MapOptions, sel: Selection, column, value_column) -> str:
    """The title given, else one that says what, where and when."""
    if options.title is not None:
        return options.title
    one, many = layer_words(options.layer, sel.vintage)
    where = "England" if sel.national else (sel.name or "")
    when = as_of(sel.vintage)
    if value_column is not None:
        return f"{value_column} by {one}, {where}"
    if column == "population" or (column and column.startswith("pop_")):
        return f"Population by {one}, {where}"
    return f"{capital(many)} of {where}, {when}" if sel.national else f"{where}: {many}, {when}"


def _subtitle(options: MapOptions, sel: Selection, count: int, legend: Legend, colour_word, joined=None) -> str:
    """How many areas, of when, coloured by what, what is outlined, and
    which vintage the user's figures are of when it is not the map's own."""
    one, many = layer_words(options.layer, sel.vintage)
    sub = [f"{count} {many if count != 1 else one}, {as_of(sel.vintage)} boundaries"]
    if colour_word and legend.kind != "identity":
        sub.append(f"coloured by {colour_word}")
    elif legend.kind == "identity" and options.layer != "stp":
        sub.append("coloured by footprint")
    if options.drawn_overlay:
        sub.append(f"{layer_words(options.drawn_overlay, sel.vintage)[1]} outlined")
    if joined is not None and joined.vintage_note:
        sub.append(joined.vintage_note)
    return "; ".join(sub)


def colour(gdf, colour_by: str, *, layer: str = "stp", scheme=None, k: int = 5, bins=None,
           ramp: str | None = None, palette: str = _colours.DEFAULT_PALETTE, value_column=None, distance: float = 50.0,
           context: str = "", vintage: int | None = None):
    """Add ``fill`` and ``value`` columns to ``gdf`` for ``colour_by`` in
    ``palette`` (numbers in ``ramp``, by default the palette's); return
    (gdf, legend, words for the colouring, the column used or None)."""
    palette = _colours.check_palette(palette)
    ramp = ramp or _colours.PALETTE_RAMPS[palette]
    gdf = gdf.copy()
    key = str(colour_by).strip()
    neighbours = _colours.adjacency(gdf.geometry.values, distance=distance)
    gdf["value"] = None
    if key.lower() == "footprint":
        if layer == "stp" or "stp_name" not in gdf:
            order = np.argsort(gdf["code"].to_numpy())
            gdf["fill"] = _colours.identity_fills(neighbours, order=[int(i) for i in order], palette=palette)
            legend = Legend("Footprints", "identity", note="Each footprint has its own fill; neighbours never share one.")
        else:
            fills, legend_map = _colours.categorical_fills(gdf["stp_name"].tolist(), neighbours, palette=palette)
            gdf["fill"] = fills
            note = f"{capital(layer_words(layer, vintage)[1])} coloured by footprint; neighbours never share a fill."
            if len(legend_map) <= 12:
                legend = Legend("Footprint", "categories", [(lbl, sh[0]) for lbl, sh in legend_map.items()],
                                note=note, swatches=dict(legend_map))
            else:
                legend = Legend("Footprints", "identity", note=note)
        colour_word = "footprint"
        column = None
    else:
        column = value_column if (value_column and key.lower() == value_column.lower()) else _column_named(gdf, key)
        skip = ("geometry", "fill", "value", "label")
        if column is None or column in skip:
            valid = [c for c in BUILTIN_COLOUR_BY if c == "footprint" or _column_named(gdf, c)]
            valid += [c for c in gdf.columns if c not in valid and c not in (*skip, "vintage", "code", "name")]
            raise ChoiceError("colour-by", colour_by, valid, context)
        series = gdf[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        colour_word = COLOUR_BY_WORDS.get(column, column)
        if numeric:
            fills, entries = classify(series, scheme or DEFAULT_SCHEME, k, bins=bins, ramp=ramp)
            gdf["fill"] = fills
            gdf["value"] = series.astype(float)
            sch = (scheme or DEFAULT_SCHEME).replace("_", " ")
            legend = Legend(colour_word[:1].upper() + colour_word[1:], "classes", entries,
                            note=f"{sch}, {len(entries)} classes")
        else:
            if series.isna().all():
                valid = [c for c in BUILTIN_COLOUR_BY if c == "footprint" or (_column_named(gdf, c) and gdf[_column_named(gdf, c)].notna().any())]
                raise ChoiceError("colour-by", colour_by, valid, f"(it has no values here; {context})")
            fills, legend_map = _colours.categorical_fills(series.tolist(), neighbours, palette=palette)
            gdf["fill"] = fills
            gdf["value"] = series.astype(object).where(series.notna(), None)
            legend = Legend(colour_word[:1].upper() + colour_word[1:], "categories",
                            [(label, shades[0]) for label, shades in legend_map.items()],
                            note="Neighbouring areas of one category take different tints of its colour.",
                            swatches=dict(legend_map))
    if palette != _colours.DEFAULT_PALETTE and legend.kind != "classes":
        legend.note = _contrast_note(legend.note, gdf["fill"].tolist(), neighbours)
    n_missing = int((gdf["fill"] == _colours.MISSING).sum())
    if n_missing:
        legend.missing = f"{_colours.MISSING_LABEL} ({n_missing})"
    return gdf, legend, colour_word, column


def share_colours(panels: list, *, scheme=None, k: int = 5, bins=None, ramp: str = _colours.DEFAULT_RAMP,
                  title: str | None = None, distance: float = 50.0, palette: str = _colours.DEFAULT_PALETTE) -> Legend:
    """Colour several maps (small multiples) on one scale: numbers classed
    together, so a fill means one range on every map; categories given one
    palette. Each panel's ``fill`` is replaced; returns the shared legend
    (footprints each in their own colour keep their fills: no legend)."""
    kinds = {md.legend.kind for md in panels}
    if len(kinds) > 1:
        raise InputError("Small multiples show one kind of measure: every map numbers, or every map categories; "
                         f"these mix {' and '.join(sorted(kinds))}. Facet over columns of one kind.")
    kind = kinds.pop()
    first = panels[0].legend
    title = title or first.title
    if kind == "identity":
        return Legend(title, "identity", note=first.note)
    if kind == "classes":
        values = pd.concat([md.gdf["value"].astype(float) for md in panels], ignore_index=True)
        fills, entries = classify(values, scheme or DEFAULT_SCHEME, k, bins=bins, ramp=ramp)
        entries = [(label.rsplit("  (", 1)[0], c) for label, c in entries]  # counts of every map together mislead
        sch = (scheme or DEFAULT_SCHEME).replace("_", " ")
        legend = Legend(title, "classes", entries, note=f"{sch}, {len(entries)} classes, one scale for all "
                                                         f"{len(panels)} maps")
        start = 0
        for md in panels:
            md.gdf["fill"] = fills[start:start + len(md.gdf)]
            start += len(md.gdf)
    else:
        labels = sorted({v for md in panels for v in md.gdf["value"] if v is not None and v == v}, key=str)
        # one colour per category on every map: the palette's colours in order, tints for neighbours
        base = _colours.category_colours(labels)
        if palette != "nhs":  # each category's colour as the palette chose it on the first map that has it
            chosen = {label: c for md in reversed(panels) for label, c in md.legend.entries}
            base = {label: chosen.get(label, base[label]) for label in labels}
        swatches: dict = {}
        for md in panels:
            neighbours = _colours.adjacency(md.gdf.geometry.values, distance=distance)
            md.gdf["fill"], shades = _colours.categorical_fills(md.gdf["value"].tolist(), neighbours, base)
            for label, tints in shades.items():
                swatches.setdefault(label, [])
                swatches[label] += [t for t in tints if t not in swatches[label]]
        legend = Legend(title, "categories", [(label, swatches[label][0]) for label in labels if label in swatches],
                        note=first.note,
                        swatches=swatches)
    missing = sum(int((md.gdf["fill"] == _colours.MISSING).sum()) for md in panels)
    if missing:
        legend.missing = f"{_colours.MISSING_LABEL} ({missing})"
    return legend


def _contrast_note(note: str, fills: list, neighbours) -> str:
    """The legend's note, with the lowest contrast between neighbouring
    fills when it falls short of 3:1 (the palette cannot do better there)."""
    low = _colours.min_neighbour_contrast(fills, neighbours)
    if low is None or low >= _colours.MIN_CONTRAST:
        return note
    said = f"Lowest contrast between neighbouring fills: {int(low * 10) / 10:.1f}:1 (3:1 cannot be had everywhere with this palette here)."
    return f"{note} {said}".strip()


def from_frame(gdf, *, colour_by: str = "footprint", layer: str = "stp", labels: str = "name", title: str = "",
               subtitle: str = "", attribution: str = "", notes=(), national: bool = False, scheme=None, k: int = 5,
               bins=None, ramp: str | None = None, palette: str = _colours.DEFAULT_PALETTE, overlay=None, context=None,
               vintage: int = 0) -> MapData:
    """A :class:`MapData` from any GeoDataFrame with ``code`` and ``name``
    columns (for tests with made-up geometry, and for users' own areas)."""
    gdf, legend, colour_word, _ = colour(gdf.reset_index(drop=True), colour_by, layer=layer, scheme=scheme, k=k,
                                         bins=bins, ramp=ramp, palette=palette, distance=0.0, vintage=vintage or None)
    gdf["label"] = gdf["code"] if labels == "code" else gdf["name"].astype(str)
    return MapData(vintage=vintage, layer=layer, gdf=gdf, legend=legend, title=title, subtitle=subtitle,
                   attribution=attribution, notes=list(notes), national=national, colour_by=colour_word, labels=labels,
                   context=context, overlay=overlay, overlay_layer="ccg" if overlay is not None else None)
