"""Hex cartograms of the footprints and CCGs: one hex per area, for any vintage.

On a geographic map London's footprints are a few pixels while Cumbria's is
large; a hex cartogram gives every area the same room. :func:`hexes` places
one hex per footprint (or CCG) with :func:`stpmap.maps.hexlayout.layout`, so
that areas that share a border are hex neighbours as often as possible and
the whole still reads as England, north up. :func:`to_hexjson` writes the
layout as HexJSON, which Open Innovations' hex map tools (and d3-hexjson)
read.

Sharing a border: two areas share one when their boundaries touch or come
within :data:`BORDER_DISTANCE` metres of each other
(:func:`stpmap.maps.colours.adjacency`, the rule map colouring uses). Point
contacts count: in the generalised clipped boundaries some real neighbours
meet only at a point or across a river mouth (North East and South East
London across the Thames in 2017), and dropping those would drop real
borders with them.

Drawing: ``stpmap map --shape hex`` (``MapOptions(shape="hex")``) draws a
map's areas as their hexagons. :func:`stpmap.maps.prepare.prepare` swaps each
area's geometry for its hexagon (:func:`as_hexagons`; the grid is laid over
England in Web Mercator, :data:`CRS`, so Leaflet draws regular hexagons) before
colouring, so neighbouring hexes never share a fill, and :func:`cartogram`
makes the rest a cartogram's (short labels, footprint outlines on CCG maps,
words that say it is not to scale); the static and HTML renderers draw it as
any other map.

Layouts are generated once and cached under the cache folder
(``hexes/v2017/stp``...), with a manifest naming the atlas build they come
from (its ``built`` stamp), the algorithm version, the generator's
parameters, the seed and the border distance; a layout whose manifest does
not match is generated again, so it is never answered stale.

>>> import stpmap
>>> from stpmap.maps.hexes import to_hexjson
>>> hx = stpmap.hexes(2017)                 # 44 hexes, one per footprint
>>> text = to_hexjson(hx, "footprints-2017.hexjson")
"""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path

import numpy as np

from stpmap import _cache
from stpmap.maps import hexlayout as _layout

#: The layers that have a hex layout: footprints and CCGs.
LAYERS = ("stp", "ccg")

#: Seed of the layout generator: the same boundaries give the same layout.
SEED = 17

#: Areas whose boundaries come within this many metres share a border.
BORDER_DISTANCE = 50.0

#: Offset layout of :func:`hexes` (``r`` grows northwards, as in HexJSON).
LAYOUT = "odd-r"

LAYOUT_FILE = "layout.json"

#: Columns kept from the area layer, after ``code``, ``name``, ``q`` and ``r``,
#: when the vintage has them.
OTHER_CODES = {
    "stp": ("ods_code", "region", "region_code", "nhs_region", "nhs_region_code"),
    "ccg": ("ods_code", "stp_code", "stp_name", "region", "region_code", "nhs_region", "nhs_region_code"),
}

log = logging.getLogger("stpmap.maps.hexes")
_lock = threading.Lock()


def _check_layer(layer: str) -> str:
    if layer not in LAYERS:
        from stpmap.errors import ChoiceError

        raise ChoiceError("hex layer", layer, LAYERS)
    return layer


def areas(vintage=None, layer: str = "stp"):
    """The areas of a layer, one row each (footprints or CCGs, EPSG:27700)."""
    import stpmap

    _check_layer(layer)
    return stpmap.footprints(vintage) if layer == "stp" else stpmap.ccgs(vintage)


def border_pairs(geometries, distance: float = BORDER_DISTANCE) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of geometries that share a border: they
    touch or come within ``distance`` (point contacts included)."""
    from stpmap.maps.colours import adjacency

    nbs = adjacency(list(geometries), distance)
    return [(a, b) for a, s in enumerate(nbs) for b in sorted(s) if a < b]


def folder(vintage: int, layer: str) -> Path:
    """Where the layout of a vintage's layer is cached."""
    return _cache.root() / "hexes" / f"v{int(vintage)}" / layer


def expected_manifest(vintage: int, layer: str) -> dict:
    """What a current cached layout's manifest must say."""
    return {
        "vintage": int(vintage),
        "layer": layer,
        "atlas_built": _cache.stamp(_cache.atlas_folder(int(vintage))),
        "algorithm": _layout.ALGORITHM_VERSION,
        "parameters": _parameters(),
        "seed": SEED,
        "border_distance": BORDER_DISTANCE,
    }


def _parameters() -> dict:
    """The generator's tuning defaults, so that changing one rebuilds layouts."""
    import inspect

    return {k: p.default for k, p in inspect.signature(_layout.layout).parameters.items()
            if p.kind is p.KEYWORD_ONLY and k not in ("seed", "layout")}


def _generate(gdf) -> tuple[list[tuple[int, int]], float, int]:
    """The layout of a layer's areas, its recall and number of border pairs."""
    pairs = border_pairs(gdf.geometry.values)
    centroids = np.c_[gdf.geometry.centroid.x, gdf.geometry.centroid.y]
    cells = _layout.layout(centroids, pairs, seed=SEED, layout=LAYOUT)
    return cells, _layout.recall(cells, pairs, LAYOUT), len(pairs)


def _read(path: Path, codes: list[str]) -> dict | None:
    """The cached layout, or None when it is unreadable or for other areas."""
    try:
        doc = json.loads((path / LAYOUT_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("codes") != codes:
        return None
    return doc


def layout_table(vintage=None, layer: str = "stp", gdf=None) -> dict:
    """The layout of a vintage's layer: ``{"codes", "q", "r", "recall",
    "pairs"}``, from the cache when it is current, else generated and cached.

    ``gdf`` is the layer as :func:`areas` returns it (read when not given).
    """
    _check_layer(layer)
    if gdf is None:
        gdf = areas(vintage, layer)
    v = int(gdf.attrs["vintage"])
    codes = [str(c) for c in gdf["code"]]
    target = folder(v, layer)
    with _lock:
        expected = expected_manifest(v, layer)
        if _cache.is_current(target, expected):
            doc = _read(target, codes)
            if doc is not None:
                return doc
        log.info("Generating the hex layout of the %s layer, vintage %s (%d areas)", layer, v, len(codes))
        cells, rec, npairs = _generate(gdf)
        doc = {"codes": codes, "q": [q for q, _ in cells], "r": [r for _, r in cells],
               "recall": rec, "pairs": npairs}
        with _cache.writing(target, {**expected, "recall": rec, "count": len(codes)}) as tmp:
            (tmp / LAYOUT_FILE).write_text(json.dumps(doc))
        return doc


def hexagon(x: float, y: float):
    """A pointy-topped hexagon centred on ``(x, y)`` whose neighbours' centres are one unit away."""
    from shapely import Polygon

    radius = 1 / math.sqrt(3)
    return Polygon([(x + radius * math.cos(math.radians(90 + 60 * k)),
                     y + radius * math.sin(math.radians(90 + 60 * k))) for k in range(6)])


def hexes(vintage=None, layer: str = "stp", group=None, *, groups_file=None):
    """One hex per footprint (``layer="stp"``) or CCG (``"ccg"``) of a vintage.

    Parameters
    ----------
    vintage : int, default 2017
    layer : "stp" or "ccg"
    group : str, optional
        Keep only the hexes of a named group's footprints (as in
        :func:`stpmap.footprints`); they keep their places in the national layout.
    groups_file : path, optional
        TOML or JSON file of the user's own groups.

    Returns
    -------
    GeoDataFrame with ``code`` (ONS), ``name``, ``q`` and ``r`` (offset
    coordinates, ``odd-r`` layout, ``r`` growing northwards), the other codes
    the vintage has (``ods_code``, ``region``, ``region_code``,
    ``nhs_region``, ``nhs_region_code``; for CCGs also ``stp_code`` and
    ``stp_name``), and ``geometry``: hexagons in a plain plane (no CRS) in
    which neighbouring hexes' centres are one unit apart, north up. ``attrs``
    carry ``vintage``, ``layer``, ``layout``, ``recall`` (share of bordering
    pairs that are hex neighbours), ``seed`` and ``attribution``.
    """
    import geopandas as gpd

    gdf = areas(vintage, layer)
    doc = layout_table(layer=layer, gdf=gdf)
    cols = ["code", "name"] + [c for c in OTHER_CODES[layer] if c in gdf.columns]
    out = gdf[cols].copy()
    out.insert(2, "q", np.asarray(doc["q"], dtype="int64"))
    out.insert(3, "r", np.asarray(doc["r"], dtype="int64"))
    xy = _layout.centres(zip(out["q"], out["r"]), LAYOUT)
    out = gpd.GeoDataFrame(out, geometry=[hexagon(x, y) for x, y in xy], crs=None)
    if group is not None:
        import stpmap

        keep = set(stpmap.footprints(gdf.attrs["vintage"], group, groups_file=groups_file)["code"])
        out = out[out["code" if layer == "stp" else "stp_code"].isin(keep)].reset_index(drop=True)
    out.attrs.update({"vintage": gdf.attrs["vintage"], "layer": layer, "layout": LAYOUT,
                      "recall": doc["recall"], "seed": SEED, "attribution": gdf.attrs.get("attribution", "")})
    return out


def _plain(value):
    """A JSON-ready scalar (numpy scalars to Python), None for missing."""
    import pandas as pd

    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def to_hexjson(frame, path=None, *, layout: str = LAYOUT, attribution: str | None = None) -> str:
    """HexJSON text of a frame from :func:`hexes`; written to ``path`` when given.

    The document has ``layout`` and ``hexes`` (keyed by the ONS code, each
    with ``q``, ``r``, the name as ``n``, and the frame's other codes), read
    by Open Innovations' hex map tools and d3-hexjson. The HexJSON
    specification has no place for a licence, so the attribution goes in a
    top-level ``attribution`` key, beside ``vintage``, ``layer`` and
    ``generator``: those tools read only ``layout``, ``hexes`` (and Open
    Innovations' ``boundaries``) and ignore other top-level keys.

    ``layout`` may be ``odd-r`` (the default) or ``even-r`` (the same layout,
    renumbered). The ``-q`` layouts have flat-topped hexes in columns, which
    would turn the map by 30 degrees, so they are refused.
    """
    from stpmap import __version__
    from stpmap.errors import InputError

    _layout._check_layout(layout)
    if not layout.endswith("-r"):
        raise InputError(f"HexJSON layout {layout!r} has flat-topped hexes in columns and would turn the map "
                         "by 30 degrees: use 'odd-r' or 'even-r'.")
    missing = [c for c in ("code", "name", "q", "r") if c not in frame.columns]
    if missing:
        raise InputError(f"The frame has no {', '.join(missing)} column: give a frame from stpmap.hexes().")
    if frame["code"].duplicated().any():
        dup = sorted(set(frame.loc[frame["code"].duplicated(), "code"]))
        raise InputError(f"Codes appear more than once ({', '.join(map(str, dup[:5]))}): HexJSON keys must be unique.")
    source = frame.attrs.get("layout", LAYOUT)
    extra = [c for c in frame.columns if c not in ("code", "name", "q", "r", "geometry")]
    hexes_ = {}
    for row in sorted(frame[["code", "name", "q", "r", *extra]].to_dict("records"), key=lambda d: str(d["code"])):
        q, r = _layout.axial_to_offset(*_layout.offset_to_axial(int(row["q"]), int(row["r"]), source), layout)
        props = {"q": q, "r": r, "n": _plain(row["name"])}
        props.update({c: v for c in extra if (v := _plain(row[c])) is not None})
        hexes_[str(row["code"])] = props
    attribution = attribution if attribution is not None else frame.attrs.get("attribution") or _attribution()
    head = {
        "layout": layout,
        "attribution": attribution,
        "vintage": _plain(frame.attrs.get("vintage")),
        "layer": frame.attrs.get("layer"),
        "generator": f"stpmap {__version__} (hex layout algorithm {_layout.ALGORITHM_VERSION}, seed {frame.attrs.get('seed', SEED)})",
    }
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items() if v is not None]
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in hexes_.items())
    text = "{\n" + "\n".join(lines) + '\n "hexes": {\n' + body + "\n }\n}\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _attribution() -> str:
    import stpmap

    return stpmap.attribution()


# ------------------------------------------------------------------ drawing

#: The box (longitude, latitude) the hex grid is laid over: England, so that
#: interactive maps open on it and static maps keep their proportions.
ENGLAND_LONLAT = (-5.8, 49.9, 1.8, 55.8)

#: The plane hex cartograms are drawn in: Web Mercator, the plane Leaflet
#: shows, so that interactive maps draw every hexagon regular and the same size.
CRS = "EPSG:3857"


def placed(frame):
    """The hexagons of ``frame`` (from :func:`hexes`) laid over England in
    :data:`CRS`, north up, their proportions kept."""
    import shapely
    from pyproj import Transformer

    to_plane = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    (ex0, ex1), (ey0, ey1) = to_plane.transform(ENGLAND_LONLAT[0::2], ENGLAND_LONLAT[1::2])
    bx0, by0, bx1, by1 = frame.total_bounds
    scale = min((ex1 - ex0) / (bx1 - bx0), (ey1 - ey0) / (by1 - by0))
    shift = np.array([(ex0 + ex1) / 2 - scale * (bx0 + bx1) / 2, (ey0 + ey1) / 2 - scale * (by0 + by1) / 2])
    geoms = shapely.transform(np.asarray(frame.geometry.values, dtype=object), lambda xy: xy * scale + shift)
    return frame.set_geometry(geoms, crs=CRS)


_MINOR_WORDS = {"and", "of", "the", "on", "upon", "in", "with", "nhs", "ccg"}


def initials(name: str) -> str:
    """A short form of an area's name: its parts' initials, "&" between two
    parts, or the first three letters of a one-word name.

    >>> initials("West Yorkshire and Harrogate"), initials("North Central London"), initials("Lincolnshire")
    ('WY&H', 'NCL', 'LIN')
    """
    import re

    parts = [p for p in re.split(r",\s*|\s+and\s+|\s*&\s*", str(name)) if p.strip()]
    words = [[w for w in re.findall(r"[A-Za-z][\w'-]*", p) if w.lower() not in _MINOR_WORDS] for p in parts]
    words = [w for w in words if w]
    if not words:
        return str(name)[:4]
    if len(words) == 1 and len(words[0]) == 1:
        return words[0][0][:3].upper()
    heads = ["".join(w[0].upper() for w in ws) for ws in words]
    return "&".join(heads) if len(heads) == 2 else "".join(heads)


def short_labels(gdf, layer: str, vintage: int) -> list[str]:
    """A label short enough for a hex for each area of ``gdf``.

    Footprints: the abbreviation people use (BLMK, BNSSG...: kinds
    ``abbreviation`` then ``short_name`` of :mod:`stpmap.data.aliases`) for
    the vintage, else the name's :func:`initials`. CCGs: their ODS code.
    Where two areas would share a label, both get their ODS (else ONS) code.
    """
    codes = [str(c) for c in gdf["code"]]
    ods = [str(o) if isinstance(o, str) and o else c for o, c in zip(gdf.get("ods_code", codes), codes)]
    if layer == "ccg":
        out = list(ods)
    else:
        from stpmap.data.aliases import aliases

        known: dict = {}
        for kind in ("short_name", "abbreviation"):  # later kinds win: abbreviations first
            known.update({a.code: a.alias for a in aliases() if a.kind == kind and int(vintage) in a.vintages})
        out = [known.get(c) or initials(n) for c, n in zip(codes, gdf["name"])]
    seen: dict = {}
    for s in out:
        seen[s] = seen.get(s, 0) + 1
    return [o if seen[s] > 1 else s for s, o in zip(out, ods)]


def as_hexagons(gdf, layer: str, vintage: int):
    """``gdf`` (areas of ``layer`` with a ``code`` column) with each area's
    geometry replaced by its hexagon on the national cartogram (:func:`placed`)."""
    frame = placed(hexes(vintage, layer))
    where = dict(zip(frame["code"], frame.geometry.values))
    return gdf.set_geometry(np.array([where[c] for c in gdf["code"]], dtype=object), crs=CRS)


#: Words at the end of a name that only say what kind of body an area is.
_KIND_WORDS = r"(?<! in)\s+\(?(Integrated Care Board|Integrated Care System|ICS|CCG|Health and (Social )?Care Partnership|Health and Care)\)?$"


def hex_name(name: str) -> str:
    """An area's name without the words that only say what kind of body it is,
    to fit a hex.

    >>> hex_name("NHS Norfolk and Waveney Integrated Care Board"), hex_name("Frimley Health and Care ICS")
    ('Norfolk and Waveney', 'Frimley')
    """
    import re

    text = re.sub(r"^NHS\s+", "", str(name).strip())
    while (shorter := re.sub(_KIND_WORDS, "", text)) != text and shorter:
        text = shorter
    return text or str(name)


def cartogram(md):
    """A :class:`stpmap.maps.prepare.MapData` whose areas are hexagons
    (:func:`as_hexagons`) made into a hex cartogram: a selection shows its
    own hexes only, a CCG map outlines its
    footprints' hexes, labels drop the words every area has and each area
    has a ``short_label`` (:func:`short_labels`), the subtitle says it is a
    hex cartogram and the notes how its layout was made."""
    import dataclasses

    import geopandas as gpd
    import shapely

    from stpmap.maps.words import layer_words

    full = hexes(md.vintage, md.layer)
    gdf = md.gdf.copy()
    gdf["short_label"] = short_labels(gdf, md.layer, md.vintage)
    if md.labels == "name":
        gdf["label"] = gdf["name"].map(hex_name)
    outline = None
    if md.layer == "ccg":
        merged = gdf.groupby("stp_code", sort=False).geometry.apply(lambda g: shapely.union_all(g.values))
        outline = gpd.GeoDataFrame({"code": list(merged.index)}, geometry=list(merged.values), crs=CRS)
    one, many = layer_words(md.layer, md.vintage)
    subtitle = f"{md.subtitle}\nHex cartogram: one hexagon per {one}, all the same size, so not to scale"
    note = (f"Hex layout generated by stpmap from the {many}' shared borders "
            f"({full.attrs['recall']:.0%} of the pairs that share a border are neighbouring hexes).")
    # a selection's hexes alone, where they sit on the national cartogram: the other hexes, cut by the
    # map's edge as the land around a geographic map is, would read as half-drawn areas
    return dataclasses.replace(md, gdf=gdf, context=None, outline=outline, subtitle=subtitle,
                               notes=[*md.notes, note], shape="hex")
