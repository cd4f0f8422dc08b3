"""What a map shows, worked out once for both the static and the interactive
renderer: the selected areas with their fills, the legend, the overlay, the
context, titles and the attribution.

Geometry for maps is simplified as a *coverage* (``shapely.coverage_simplify``
on the CCGs or districts, which moves shared borders identically on both
sides), and footprints are dissolved from the simplified CCGs, so footprint
and CCG borders still match exactly and neighbours never gap or overlap.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.maps import colours as _colours
from stpmap import _cache
from stpmap import settings as _settings
from stpmap.errors import ChoiceError, InputError
from stpmap.data.registry import registry

LAYERS = ("stp", "ccg", "lad")
OVERLAYS = ("ccg", "lad")
LABELS = ("name", "code", "none")
BUILTIN_COLOUR_BY = ("region", "nhs_region", "nhs_local_office", "footprint", "population")

#: Classification schemes, by the names geopandas uses, -> mapclassify class name.
SCHEMES = {
    "quantiles": "Quantiles",
    "natural_breaks": "NaturalBreaks",
    "equal_interval": "EqualInterval",
    "fisher_jenks": "FisherJenks",
    "fisher_jenks_sampled": "FisherJenksSampled",
    "headtail_breaks": "HeadTailBreaks",
    "jenks_caspall": "JenksCaspall",
    "jenks_caspall_forced": "JenksCaspallForced",
    "jenks_caspall_sampled": "JenksCaspallSampled",
    "max_p": "MaxP",
    "maximum_breaks": "MaximumBreaks",
    "box_plot": "BoxPlot",
    "percentiles": "Percentiles",
    "prettybreaks": "PrettyBreaks",
    "std_mean": "StdMean",
    "user_defined": "UserDefined",
}
DEFAULT_SCHEME = "quantiles"

LAYER_WORDS = {"stp": ("STP footprint", "STP footprints"), "ccg": ("CCG", "CCGs"), "lad": ("local authority", "local authorities")}
COLOUR_BY_WORDS = {"region": "ONS region", "nhs_region": "NHS England region", "nhs_local_office": "NHS England local office",
                   "footprint": "footprint", "population": "population"}

_lock = threading.Lock()
_memo: dict = {}


# ------------------------------------------------------------- geometry


def simplified(name: str, vintage: int, tolerance: float):
    """Layer ``name`` with its geometry simplified as a coverage.

    ``stp`` is dissolved from the simplified CCGs, so its borders are CCG
    borders exactly. ``tolerance`` is in metres (British National Grid).
    Kept in memory and in the cache folder (``maps/`` beside the atlas),
    rebuilt when the atlas is.
    """
    key = (name, vintage, round(float(tolerance), 3), str(_settings.cache_dir()))
    with _lock:
        if key in _memo:
            return _memo[key].copy()
    out = _from_disk(name, vintage, tolerance)
    if out is None:
        out = _simplify(name, vintage, tolerance)
        _to_disk(out, name, vintage, tolerance)
    with _lock:
        _memo[key] = out
    return out.copy()


def _disk_path(name: str, vintage: int, tolerance: float):
    m = _atlas.manifest(vintage) or {}
    stamp = "".join(ch for ch in str(m.get("built", "")) if ch.isalnum())
    if not stamp:
        return None
    return _cache.mapgeom_folder(vintage) / f"{name}-{tolerance:g}m-{stamp}.parquet"


def _from_disk(name, vintage, tolerance):
    if tolerance <= 0:
        return None
    _atlas.ensure(vintage)
    path = _disk_path(name, vintage, tolerance)
    if path is None or not path.exists():
        return None
    try:
        import geopandas as gpd

        return gpd.read_parquet(path)
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None


def _to_disk(gdf, name, vintage, tolerance):
    if tolerance <= 0:
        return
    path = _disk_path(name, vintage, tolerance)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{name}-{tolerance:g}m-*.parquet"):  # earlier atlas builds
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(".part")
        gdf.to_parquet(tmp, index=False)
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
    selection: str | None = None
    joined: object = None  # stpmap.maps.userdata.Joined, when the user's data are mapped
    value_column: str | None = None

    @property
    def bounds(self):
        return self.gdf.total_bounds


# ------------------------------------------------------------ preparing


def check_scheme(scheme: str | None) -> str | None:
    if scheme is None:
        return None
    s = str(scheme).strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"naturalbreaks": "natural_breaks", "equalinterval": "equal_interval", "fisherjenks": "fisher_jenks",
               "headtailbreaks": "headtail_breaks", "pretty_breaks": "prettybreaks", "boxplot": "box_plot",
               "maximumbreaks": "maximum_breaks", "stdmean": "std_mean", "userdefined": "user_defined",
               "jenks": "natural_breaks", "quantile": "quantiles"}
    s = aliases.get(s, s)
    if s not in SCHEMES:
        raise ChoiceError("scheme", scheme, list(SCHEMES))
    return s


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


def classify(values: pd.Series, scheme: str, k: int, bins=None, ramp: str = _colours.DEFAULT_RAMP):
    """Fills and legend entries for numeric values (NaN = missing)."""
    import mapclassify

    v = values.astype(float)
    ok = v.notna().to_numpy()
    y = v[ok].to_numpy()
    fills = np.array([_colours.MISSING] * len(v), dtype=object)
    if len(y) == 0:
        return fills.tolist(), []
    integer = bool(np.all(np.mod(y, 1) == 0))
    cls_name = SCHEMES[scheme]
    kwargs = {}
    if scheme == "user_defined":
        if not bins:
            raise InputError("The user_defined scheme needs class limits: give bins, e.g. --bins 100000,500000,1000000.")
        kwargs["bins"] = sorted(float(b) for b in bins)
    elif scheme not in ("box_plot", "headtail_breaks", "std_mean", "percentiles", "max_p"):
        kwargs["k"] = int(k)
    uniq = np.unique(y)
    if len(uniq) <= 1:
        colour = _colours.ramp(ramp, 1)[0]
        fills[ok] = colour
        return fills.tolist(), [(_fmt_number(float(uniq[0]), integer), colour)]
    if "k" in kwargs:
        kwargs["k"] = max(1, min(kwargs["k"], len(uniq)))
    state = np.random.get_state()
    np.random.seed(0)  # natural breaks and friends start at random: same data, same map
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if cls_name == "MaxP":
                c = mapclassify.MaxP(y)
            else:
                c = getattr(mapclassify, cls_name)(y, **kwargs)
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


def _find_column(gdf, name: str):
    wanted = str(name).strip().lower()
    for c in gdf.columns:
        if c.lower() == wanted and c != "geometry":
            return c
    return None


def prepare(
    vintage=None,
    group=None,
    footprint=None,
    *,
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
    labels: str | None = "name",
    title: str | None = None,
    groups_file=None,
    tolerance: float = 0.0,
    warn: bool = True,
) -> MapData:
    """Work out what a map shows. See :func:`stpmap.plot` for the parameters."""
    from stpmap.data.selection import select_codes

    reg = registry()
    v = reg.check_vintage(vintage)
    if layer not in LAYERS:
        raise ChoiceError("layer", layer, LAYERS)
    if overlay is not None and overlay not in OVERLAYS:
        raise ChoiceError("overlay", overlay, OVERLAYS)
    if overlay == layer:
        overlay = None
    labels = "none" if labels is None else str(labels).lower()
    if labels not in LABELS:
        raise ChoiceError("labels", labels, LABELS)
    scheme = check_scheme(scheme)
    if k is None:
        k = 5
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise InputError(f"--k must be a whole number of classes, not {k!r}.") from None
    if not 1 <= k <= 12:
        raise InputError(f"--k {k}: give between 1 and 12 classes (more cannot be told apart on a map).")
    if (join_on or value or aggregate) and data is None:
        raise InputError("--join-on, --value and --aggregate describe a data file: give it with --data FILE.")

    codes = select_codes(v, group, groups_file, footprint)
    national = codes is None
    selection = None
    if group is not None:
        from stpmap.data.groups import resolve

        selection = resolve(group, v, groups_file).name  # the official spelling, whatever was typed
    elif footprint:
        selection = None  # named by the footprint(s) in the title below

    gdf = simplified(layer, v, tolerance)
    if codes is not None:
        if layer == "stp":
            gdf = gdf[gdf["code"].isin(codes)]
        elif layer == "ccg":
            gdf = gdf[gdf["stp_code"].isin(codes)]
        else:
            parts = _atlas.layer("stp_lad", v)
            gdf = gdf[gdf["code"].isin(set(parts.loc[parts["stp_code"].isin(codes), "lad_code"]))]
    gdf = gdf.reset_index(drop=True)
    if gdf.empty:
        raise InputError("The selection holds no areas to map. Check --group / --footprint.")
    if footprint and group is None:
        stp_names = _atlas.table("stp", v, columns=["code", "name"]).set_index("code")["name"]
        selection = "; ".join(stp_names[c] for c in codes) if len(codes) <= 3 else f"{len(codes)} footprints"

    # ---------------------------------------------------------- the user's data
    joined = None
    value_column = None
    if data is not None:
        from stpmap.maps.userdata import join

        joined = join(data, v, layer=layer, join_on=join_on, value=value, aggregate=aggregate,
                      areas=None if national else list(gdf["code"]))
        value_column = joined.value_column
        if value_column in gdf.columns or value_column in ("fill", "value", "label"):
            value_column = f"{value_column} (data)"
        if joined.numeric:
            gdf[value_column] = gdf["code"].map(joined.values).astype(float)
        else:
            gdf[value_column] = gdf["code"].map(joined.values)
        if warn:
            for msg in joined.messages:
                warnings.warn(msg, UserWarning, stacklevel=3)

    # ---------------------------------------------------------- colours
    if colour_by is None:  # regions on national footprint maps, else which footprint each area is in
        colour_by = value_column or ("region" if national and layer == "stp" else "footprint")
    gdf, legend, colour_word, column = colour(gdf, colour_by, layer=layer, scheme=scheme, k=k, bins=bins, ramp=ramp,
                                              value_column=value_column, distance=max(50.0, tolerance),
                                              context=f"for the {layer} layer of vintage {v}")

    gdf["label"] = gdf["code"] if labels == "code" else gdf["name"].map(lambda s: _short_name(layer, s))

    # ---------------------------------------------------------- context and overlay
    context = outline = None
    allfp = simplified("stp", v, tolerance)
    chosen = allfp["code"].isin(codes) if codes is not None else np.ones(len(allfp), dtype=bool)
    if not national:
        context = allfp[~chosen].reset_index(drop=True)
    if layer != "stp":
        outline = allfp[chosen].reset_index(drop=True)
    ov = None
    if overlay is not None:
        ov = simplified(overlay, v, tolerance)
        if codes is not None:
            if overlay == "ccg":
                ov = ov[ov["stp_code"].isin(codes)]
            else:
                parts = _atlas.layer("stp_lad", v)
                ov = ov[ov["code"].isin(set(parts.loc[parts["stp_code"].isin(codes), "lad_code"]))]
        ov = ov.reset_index(drop=True)

    # ---------------------------------------------------------- words
    when = f"April {v}"
    one, many = LAYER_WORDS[layer]
    where = "England" if national else (selection or "")
    if title is None:
        if joined is not None:
            title = f"{value_column} by {one}, {where}"
        elif column == "population" or (column and column.startswith("pop_")):
            title = f"Population by {one}, {where}"
        else:
            title = f"{many[:1].upper() + many[1:]} of {where}, {when}" if national else f"{where}: {many}, {when}"
    sub = [f"{len(gdf)} {many if len(gdf) != 1 else one}, {when} boundaries"]
    if colour_word and legend.kind != "identity":
        sub.append(f"coloured by {colour_word}")
    elif legend.kind == "identity" and layer != "stp":
        sub.append("coloured by footprint")
    if overlay:
        sub.append(f"{LAYER_WORDS[overlay][1]} outlined")
    subtitle = "; ".join(sub)
    notes = []
    if joined is not None:
        notes.append(f"Data: {joined.summary()}.")
        notes.extend(joined.messages)
    notes.append(reg.population_note(v))
    return MapData(
        vintage=v, layer=layer, gdf=gdf, legend=legend, title=title, subtitle=subtitle,
        attribution=reg.attribution(), notes=notes, national=national, colour_by=colour_word,
        labels=labels, context=context, outline=outline, overlay=ov, overlay_layer=overlay if ov is not None else None,
        selection=selection, joined=joined, value_column=value_column,
    )


def colour(gdf, colour_by: str, *, layer: str = "stp", scheme=None, k: int = 5, bins=None,
           ramp: str = _colours.DEFAULT_RAMP, value_column=None, distance: float = 50.0, context: str = ""):
    """Add ``fill`` and ``value`` columns to ``gdf`` for ``colour_by``; return
    (gdf, legend, words for the colouring, the column used or None)."""
    gdf = gdf.copy()
    key = str(colour_by).strip()
    neighbours = _colours.adjacency(gdf.geometry.values, distance=distance)
    gdf["value"] = None
    if key.lower() == "footprint":
        if layer == "stp" or "stp_name" not in gdf:
            order = np.argsort(gdf["code"].to_numpy())
            gdf["fill"] = _colours.identity_fills(neighbours, order=[int(i) for i in order])
            legend = Legend("Footprints", "identity", note="Each footprint has its own fill; neighbours never share one.")
        else:
            fills, legend_map = _colours.categorical_fills(gdf["stp_name"].tolist(), neighbours)
            gdf["fill"] = fills
            words = LAYER_WORDS[layer][1]
            note = f"{words[:1].upper() + words[1:]} coloured by footprint; neighbours never share a fill."
            if len(legend_map) <= 12:
                legend = Legend("Footprint", "categories", [(lbl, sh[0]) for lbl, sh in legend_map.items()],
                                note=note, swatches=dict(legend_map))
            else:
                legend = Legend("Footprints", "identity", note=note)
        colour_word = "footprint"
        column = None
    else:
        column = value_column if (value_column and key.lower() == value_column.lower()) else _find_column(gdf, key)
        skip = ("geometry", "fill", "value", "label")
        if column is None or column in skip:
            valid = [c for c in BUILTIN_COLOUR_BY if c == "footprint" or _find_column(gdf, c)]
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
                valid = [c for c in BUILTIN_COLOUR_BY if c == "footprint" or (_find_column(gdf, c) and gdf[_find_column(gdf, c)].notna().any())]
                raise ChoiceError("colour-by", colour_by, valid, f"(it has no values here; {context})")
            fills, legend_map = _colours.categorical_fills(series.tolist(), neighbours)
            gdf["fill"] = fills
            gdf["value"] = series.astype(object).where(series.notna(), None)
            legend = Legend(colour_word[:1].upper() + colour_word[1:], "categories",
                            [(label, shades[0]) for label, shades in legend_map.items()],
                            note="Neighbouring areas of one category take different tints of its colour.",
                            swatches=dict(legend_map))
    n_missing = int((gdf["fill"] == _colours.MISSING).sum())
    if n_missing:
        legend.missing = f"{_colours.MISSING_LABEL} ({n_missing})"
    return gdf, legend, colour_word, column


def from_frame(gdf, *, colour_by: str = "footprint", layer: str = "stp", labels: str = "name", title: str = "",
               subtitle: str = "", attribution: str = "", notes=(), national: bool = False, scheme=None, k: int = 5,
               bins=None, ramp: str = _colours.DEFAULT_RAMP, overlay=None, context=None, vintage: int = 0) -> MapData:
    """A :class:`MapData` from any GeoDataFrame with ``code`` and ``name``
    columns (for tests with made-up geometry, and for users' own areas)."""
    gdf, legend, colour_word, _ = colour(gdf.reset_index(drop=True), colour_by, layer=layer, scheme=scheme, k=k,
                                         bins=bins, ramp=ramp, distance=0.0)
    gdf["label"] = gdf["code"] if labels == "code" else gdf["name"].astype(str)
    return MapData(vintage=vintage, layer=layer, gdf=gdf, legend=legend, title=title, subtitle=subtitle,
                   attribution=attribution, notes=list(notes), national=national, colour_by=colour_word, labels=labels,
                   context=context, overlay=overlay, overlay_layer="ccg" if overlay is not None else None)
