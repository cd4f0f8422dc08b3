"""Drawing the CCGs and districts of every vintage from the April 2017 geometry.

ONS builds CCGs (and, from July 2022, sub-ICB locations) from LSOAs (2011).
So a CCG of a later vintage is the union of the April 2017 CCGs whose LSOAs
it took, wherever it took each of them whole: the LSOA lookups of April 2017
and of the vintage say which. Dissolving the generalised (20 m) April 2017
CCG boundaries this way keeps every border exactly where it was in 2017, in
every vintage, and is finer than the later official files among the sources
(500 m). The districts of every vintage are dissolved from the December 2017
districts (200 m) in the same way: every later district is a union of 2017
ones, which the build checks.

A few April 2017 CCGs were later split LSOA by LSOA, and no source has those
LSOAs' boundaries. The new border through such a CCG is drawn from the finest
official geometry that has it:

* the finest later official CCG boundary file holding the later CCGs (the
  vintage's ``ccg_boundaries_2019``, 20 m, then ``ccg_boundaries_2021``,
  500 m: ONS gives a CCG a new code whenever its area changes, so a code
  names the same area in every file), or else
* the December 2017 districts (200 m), when the split follows district
  borders (each part takes whole districts' share of the CCG).

Each part is the April 2017 CCG cut by that geometry; the slivers that the
two files' different generalisation leaves (thinner than the generalisation
distance) go to the part they share most border with, so that the parts tile
the April 2017 CCG exactly. The vintage's CCGs and districts are then
cleaned into exact coverages (``shapely.coverage_clean``: neighbours share
identical borders, as in the official files). Only the new border inside
each split CCG is approximate; every other border stays the 20 m one. What
each split did is recorded in the atlas manifest (``approximations``): the
CCG, the file its border was drawn from, and for each part its LSOAs,
people (ONS mid-2017) and area. As built from the sources:

====  ==================================================  ======================  =====  =======
from  April 2017 CCG split: the part that moved           new border drawn from   LSOAs  people
====  ==================================================  ======================  =====  =======
2018  Greater Preston: Preston 002D to Fylde and Wyre     CCGs April 2019, 20 m       1    1,422
2018  Morecambe Bay: ten Wyre LSOAs to Fylde and Wyre     CCGs April 2019, 20 m      10   19,408
2020  Coastal West Sussex: four Chichester LSOAs to       CCGs April 2021, 500 m      4    6,916
      Surrey Heartlands
2022  Tameside and Glossop: Glossop to Derbyshire         districts 2017, 200 m      21   33,334
2022  Sandwell and West Birmingham: West Birmingham to    districts 2017, 200 m      92  175,800
      Birmingham and Solihull
2022  Cambridgeshire and Peterborough: nine East          districts 2017, 200 m       9   16,822
      Northamptonshire LSOAs to Northamptonshire
====  ==================================================  ======================  =====  =======

The 2018 parts hold for 2019 to 2022 too, and the 2020 one for 2021 and 2022.
What the approximate borders affect, measured on the build from the sources:

* figures: nothing. Population, counts and every table come through the
  LSOA lookups, never through geometry.
* postcodes (see :mod:`stpmap.postcodes.index`): a postcode is placed by
  geometry only in a district split between CCGs. In 2022 High Peak,
  Tameside, Birmingham, Sandwell and North Northamptonshire each lie in one
  sub-ICB location, so no postcode depends on the three 2022 borders. The
  2018 borders lie inside one footprint: they decide the CCG, not the
  footprint, of 181 Preston postcodes within 500 m of them. The 2020 border
  is a footprint border (Surrey Heartlands, Sussex): 43 Chichester
  postcodes lie within 500 m of it (12 within 200 m).
* area, against the official July 2022 ICBs among the sources (simplified
  far beyond 500 m): the ICBs that gained or lost a 2022 part share 76 % to
  90 % of their area with them, the others a median 90 % (London's small
  ICBs 69 % to 78 %); Glossop is drawn as 126 km² where that file has
  104 km² of Tameside and Glossop in Derbyshire's ICB. Against the official
  April 2021 footprints (500 m), Surrey Heartlands and Sussex share 98 %,
  as the median footprint does.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from stpmap.data.registry import registry
from stpmap.errors import DataError

#: Vertices of neighbouring areas closer than this (metres) are one vertex:
#: the cleaned layers are exact coverages (shared borders identical).
NODE_SNAP_M = 0.001
#: The roles of later official CCG boundary files (``ccg_boundaries_2019``...).
LATER_CCG_ROLE = "ccg_boundaries_"
#: Parts thinner than this share of the cutting file's generalisation are slivers.
SLIVER_SHARE = 0.5


def is_drawn(data: dict) -> bool:
    """Whether the vintage's CCGs and districts are drawn here (every vintage
    after 2017): then they are exact coverages."""
    return "base_lsoa_lookup" in data


def draw(vintage: int, data: dict) -> tuple[dict, list[dict]]:
    """``data`` with the vintage's own ``ccg_boundaries`` and ``lad_boundaries``
    (columns ``code``, ``name``, ``geometry``, like an official boundary
    file), dissolved from the April 2017 ones; and what each split recorded.
    A vintage without a ``base_lsoa_lookup`` (2017) is its own base: ``data``
    is returned as it is."""
    if not is_drawn(data):
        return data, []
    overlay = _overlay(vintage, data)
    ccg, approximations = _ccg_boundaries(vintage, data, overlay)
    lad = _lad_boundaries(vintage, data, overlay)
    return {**data, "ccg_boundaries": ccg, "lad_boundaries": lad}, approximations


def _overlay(vintage: int, data: dict) -> pd.DataFrame:
    """Every LSOA with its April 2017 CCG and district (``base_ccg``,
    ``base_lad``), its CCG and district of the vintage, and its population."""
    base = data["base_lsoa_lookup"][["lsoa_code", "ccg_code", "lad_code"]]
    base = base.rename(columns={"ccg_code": "base_ccg", "lad_code": "base_lad"})
    later = data["lsoa_lookup"][["lsoa_code", "ccg_code", "lad_code", "lad_name"]]
    both = base.merge(later, on="lsoa_code", how="outer", indicator=True)
    odd = both.loc[both["_merge"] != "both", "lsoa_code"].tolist()
    if odd or both["lsoa_code"].duplicated().any():
        raise DataError(
            f"The {vintage} LSOA lookup and the April 2017 one do not list the same LSOAs, each once "
            f"(e.g. {', '.join(odd[:5]) or 'a duplicate'}). Use the LSOA 2011 lookups the registry names."
        )
    pop = data["population"][["lsoa_code", "population"]]
    return both.drop(columns=["_merge"]).merge(pop, on="lsoa_code", how="left")


def _union(geoms) -> shapely.Geometry:
    """One geometry from several (a single one is kept exactly as it is)."""
    geoms = list(geoms)
    if len(geoms) == 1:
        return geoms[0]
    g = shapely.union_all(geoms)
    return g if g.is_valid else shapely.make_valid(g)


def _frame(parts: list[tuple[str, shapely.Geometry]], names: pd.Series, crs) -> gpd.GeoDataFrame:
    """A boundary frame (``code``, ``name``, ``geometry``) from (code, geometry)
    parts, by code, cleaned into an exact coverage: cutting and merging move
    vertices along the outer borders by float noise and add some that the
    neighbours lack, so the shared borders are made identical again (vertices
    within :data:`NODE_SNAP_M` snapped together; nothing moves farther)."""
    by_code: dict[str, list] = {}
    for code, geom in parts:
        by_code.setdefault(code, []).append(geom)
    codes = sorted(by_code)
    geoms = shapely.coverage_clean([_union(by_code[c]) for c in codes], snapping_distance=NODE_SNAP_M)
    return gpd.GeoDataFrame({"code": codes, "name": [names.get(c) for c in codes]}, geometry=geoms, crs=crs)


def _ccg_boundaries(vintage: int, data: dict, overlay: pd.DataFrame) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """The vintage's CCGs as unions of April 2017 CCGs (split where the LSOAs say so)."""
    base = data["ccg_boundaries"].set_index("code")
    targets = overlay.groupby("base_ccg")["ccg_code"].unique()
    unknown = sorted(set(targets.index) - set(base.index))
    if unknown:
        raise DataError(
            f"April 2017 CCGs {', '.join(unknown[:5])} of the LSOA lookup are not in the April 2017 CCG "
            "boundaries. Use the files the registry names for vintage 2017."
        )
    parts, approximations = [], []
    for base_code, codes in targets.items():
        if len(codes) == 1:
            parts.append((codes[0], base.geometry[base_code]))
            continue
        refs, drawn_with, width = _references(vintage, data, overlay, base_code, sorted(codes))
        pieces, sliver = split(base.geometry[base_code], refs, width)
        parts += list(pieces.items())
        approximations.append(_record(overlay, base_code, base["name"].get(base_code), pieces, drawn_with, sliver))
    names = _names(data, "ccg")
    return _frame(parts, names, data["ccg_boundaries"].crs), approximations


def _names(data: dict, level: str) -> pd.Series:
    """Code -> name of the vintage's CCGs or districts, from its lookups."""
    for role in ("ccg_stp_lookup", "lsoa_lookup"):
        t = data.get(role)
        if t is not None and f"{level}_name" in t:
            return t.drop_duplicates(f"{level}_code").set_index(f"{level}_code")[f"{level}_name"]
    return pd.Series(dtype=object)


def _references(vintage: int, data: dict, overlay: pd.DataFrame, base_code: str,
                codes: list[str]) -> tuple[dict, str, float]:
    """The geometry that draws the parts of the split April 2017 CCG
    ``base_code``: each part's polygon, the dataset it comes from, and that
    dataset's generalisation (metres)."""
    sets = registry().for_vintage(vintage)
    later = sorted((ds.generalisation_m, role) for role, ds in sets.items() if role.startswith(LATER_CCG_ROLE))
    for _, role in later:  # the finest first
        if set(codes) <= set(data[role]["code"]):
            g = data[role].set_index("code").geometry
            return {c: g[c] for c in codes}, sets[role].id, float(sets[role].generalisation_m)
    lads = overlay[overlay["base_ccg"] == base_code].groupby("ccg_code")["base_lad"].unique()
    taken = [lad for c in codes for lad in lads[c]]
    if len(taken) != len(set(taken)):
        raise DataError(
            f"Vintage {vintage} splits the April 2017 CCG {base_code} between {', '.join(codes)} across "
            "district borders, and no later CCG boundary file among its datasets draws that border. "
            f"Add one to the registry as the vintage's {LATER_CCG_ROLE}YYYY."
        )
    g = data["lad_boundaries"].set_index("code").geometry
    ds = sets["lad_boundaries"]
    return {c: _union(g[list(lads[c])]) for c in codes}, ds.id, float(ds.generalisation_m)


def _polygons(geom) -> list:
    """The polygons of any geometry (lines and points left by an overlay are dropped)."""
    return [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]


def _is_sliver(polygon, width: float) -> bool:
    """Thinner than ``width`` everywhere (nothing is left when shrunk by it)."""
    if 2 * polygon.area / polygon.length > 4 * width:  # surely thick: skip the costly shrinking
        return False
    return shapely.buffer(polygon, -width).is_empty


def split(whole, refs: dict[str, shapely.Geometry], generalisation_m: float) -> tuple[dict, float]:
    """Cut ``whole`` into one part per key of ``refs`` (each part: ``whole``
    inside that key's polygon), so that the parts tile ``whole``: slivers
    thinner than ``SLIVER_SHARE * generalisation_m``, and what no polygon
    covers, go to the part they share most border with. Returns the parts
    and the area (m²) that went that way."""
    width = SLIVER_SHARE * generalisation_m
    cut: dict[str, shapely.Geometry] = {}
    taken = None
    # the largest first, so that where the polygons overlap the larger part keeps the ground
    for code in sorted(refs, key=lambda c: -shapely.intersection(whole, refs[c]).area):
        part = shapely.make_valid(shapely.intersection(whole, refs[code]))
        if taken is not None:
            part = shapely.difference(part, taken)
        cut[code] = part
        taken = part if taken is None else shapely.union(taken, part)
    pieces = [[p, None if _is_sliver(p, width) else code] for code, part in cut.items() for p in _polygons(part)]
    pieces += [[p, None] for p in _polygons(shapely.difference(whole, taken))]
    kept = [q for q in pieces if q[1] is not None]
    missing = set(refs) - {q[1] for q in kept}
    if missing:
        raise DataError(f"Cutting a CCG left nothing for {', '.join(sorted(missing))}: the cutting geometry "
                        "does not match the lookup. Check that the registry names the right boundary files.")
    moved = 0.0
    kept_geoms = [k[0] for k in kept]
    for k in kept_geoms:
        shapely.prepare(k)
    for q in pieces:
        if q[1] is None:
            moved += q[0].area
            near = shapely.buffer(q[0], 1.0)
            touching = [k for k in kept if shapely.intersects(k[0], near)] or kept
            q[1] = touching[0][1] if len(touching) == 1 else \
                max(touching, key=lambda k: shapely.intersection(near, k[0]).area)[1]
    return {code: _union(q[0] for q in pieces if q[1] == code) for code in refs}, moved


def _record(overlay: pd.DataFrame, base_code: str, base_name, pieces: dict, drawn_with: str, sliver: float) -> dict:
    """What splitting one April 2017 CCG did, for the manifest: every part,
    and the one holding the fewest LSOAs as the part that ``moved``."""
    lsoas = overlay[overlay["base_ccg"] == base_code]
    parts = []
    for code, geom in pieces.items():
        mine = lsoas[lsoas["ccg_code"] == code]
        parts.append({"ccg_code": code, "lsoas": len(mine), "population": int(mine["population"].sum()),
                      "area_km2": round(geom.area / 1e6, 2)})
    parts.sort(key=lambda p: p["lsoas"])
    return {"ccg_2017": base_code, "name_2017": base_name, "drawn_with": drawn_with,
            "sliver_km2": round(sliver / 1e6, 3), "moved": parts[0], "parts": parts}


def _lad_boundaries(vintage: int, data: dict, overlay: pd.DataFrame) -> gpd.GeoDataFrame:
    """The vintage's districts as unions of December 2017 districts."""
    targets = overlay.groupby("base_lad")["lad_code"].unique()
    split_lads = targets[targets.map(len) > 1]
    if len(split_lads):
        raise DataError(
            f"Vintage {vintage} splits the 2017 districts {', '.join(split_lads.index[:5])} between later "
            "ones: they cannot be drawn from the 2017 district boundaries. Check the LSOA lookups."
        )
    base = data["lad_boundaries"].set_index("code").geometry
    unknown = sorted(set(targets.index) - set(base.index))
    if unknown:
        raise DataError(f"Districts {', '.join(unknown[:5])} of the April 2017 LSOA lookup are not in the "
                        "December 2017 district boundaries. Use the files the registry names.")
    parts = [(codes[0], base[lad]) for lad, codes in targets.items()]
    return _frame(parts, _names(data, "lad"), data["lad_boundaries"].crs)
