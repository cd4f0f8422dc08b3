"""How the footprints (or CCGs) of one vintage became those of another.

Every vintage's atlas places the same small areas, England's LSOAs (2011), in
a CCG and a footprint (its ``lsoa`` table, from the official ONS lookups),
each LSOA with its population. Joining two vintages' tables on the LSOA code
says exactly which people of each footprint of one vintage are in which
footprint of the other: no overlay of boundaries, no approximation.

>>> import stpmap
>>> t = stpmap.lineage(2017, 2021)
>>> t[t["to_code"] == "E54000050"][["from_code", "population", "from_share"]].round(3).values.tolist()
[['E54000045', 947058, 0.861], ['E54000046', 1697669, 1.0], ['E54000047', 318291, 1.0]]

The people counted are the LSOA population of the later of the two vintages
(today ONS mid-2017 for every vintage), so that the lineage from ``b`` to
``a`` is exactly the transpose of the lineage from ``a`` to ``b``.
"""

from __future__ import annotations

import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.data.registry import registry
from stpmap.errors import ChoiceError, DataError

#: The levels lineage works at: the column of the ``lsoa`` table naming the
#: area, and the atlas layer holding the areas' names.
LEVELS = {"stp": ("stp_code", "stp"), "ccg": ("ccg_code", "ccg")}
LEVEL_WORDS = {"stp": "footprint", "ccg": "CCG"}
COLUMNS = ["from_code", "from_name", "to_code", "to_name", "population", "from_share", "to_share", "lsoa_count"]


def check_level(layer) -> str:
    """``layer`` if it is a level lineage works at, else a ChoiceError."""
    if layer not in LEVELS:
        raise ChoiceError("layer", layer, LEVELS, "for lineage")
    return layer


def names(vintage, layer: str = "stp") -> pd.Series:
    """The names of the footprints (or CCGs) of ``vintage``, indexed by code."""
    v = registry().check_vintage(vintage)
    t = _atlas.table(LEVELS[check_level(layer)][1], v, columns=["code", "name"])
    return t.set_index("code")["name"]


def _lsoa_tables(a: int, b: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``lsoa`` tables of two vintages, row for row the same LSOAs.

    The tables come through the atlas's in-memory cache, so only the first
    call in a process reads them from disk."""
    ta = _atlas.layer("lsoa", a)
    tb = ta if b == a else _atlas.layer("lsoa", b)
    if not ta["lsoa_code"].equals(tb["lsoa_code"]):
        odd = sorted(set(ta["lsoa_code"]).symmetric_difference(tb["lsoa_code"]))
        if odd:
            shown = ", ".join(odd[:5]) + (" ..." if len(odd) > 5 else "")
            raise DataError(f"The LSOA tables of {a} and {b} do not hold the same LSOAs ({len(odd)} differ: {shown}). "
                            f"Rebuild both atlases: stpmap data build --vintage {a}; stpmap data build --vintage {b}.")
        tb = tb.set_index("lsoa_code").loc[ta["lsoa_code"]].reset_index()
    return ta, tb


def parts(from_vintage, to_vintage, from_layer: str = "stp", to_layer: str = "stp", weights=None) -> pd.DataFrame:
    """The people shared by each area of ``from_vintage`` and each area of
    ``to_vintage``: columns ``from_code``, ``to_code``, ``weight`` and
    ``lsoa_count``, one row per pair that shares at least one LSOA, sorted.

    ``weight`` is the pair's LSOA population (that of the later vintage), or
    the sum of ``weights`` (a Series indexed by LSOA code; LSOAs it lacks
    weigh 0) over the pair's LSOAs. ``from_layer`` and ``to_layer`` are
    ``stp`` or ``ccg``: CCGs of one vintage can be carried to footprints of
    another.
    """
    reg = registry()
    a, b = reg.check_vintage(from_vintage), reg.check_vintage(to_vintage)
    ta, tb = _lsoa_tables(a, b)
    if weights is None:
        weight = (tb if b >= a else ta)["population"].to_numpy()
    else:
        weight = ta["lsoa_code"].map(weights).fillna(0).to_numpy(dtype=float)
    frame = pd.DataFrame({  # row for row the same LSOAs, both with a range index
        "from_code": ta[LEVELS[check_level(from_layer)][0]],
        "to_code": tb[LEVELS[check_level(to_layer)][0]],
        "weight": weight,
    })
    out = frame.groupby(["from_code", "to_code"], sort=True).agg(
        weight=("weight", "sum"), lsoa_count=("weight", "size"))
    return out.reset_index()


def lineage(from_vintage, to_vintage, layer: str = "stp") -> pd.DataFrame:
    """How the footprints (``layer="ccg"``: CCGs) of ``from_vintage`` became
    those of ``to_vintage``, worked out exactly from the two vintages' LSOA
    tables (any two vintages, either way round).

    Returns
    -------
    DataFrame, one row per pair of a from-area and a to-area that share
    people, sorted by ``from_code`` then ``to_code``:

    ``from_code``, ``from_name``, ``to_code``, ``to_name``
        the two areas (names as in each vintage's atlas);
    ``population``
        the people they share (ONS LSOA population of the later vintage);
    ``from_share``
        the share of the from-area's people that went to the to-area (it sums
        to 1 over each from-area);
    ``to_share``
        the share of the to-area's people that came from the from-area (it
        sums to 1 over each to-area);
    ``lsoa_count``
        the LSOAs they share.

    ``attrs`` carries ``from_vintage``, ``to_vintage``, ``layer``,
    ``attribution`` and ``population_source``.

    Examples
    --------
    >>> import stpmap
    >>> t = stpmap.lineage(2017, 2021)
    >>> t.loc[t["from_code"] == "E54000033", ["to_code", "from_share"]].round(3).values.tolist()
    [['E54000052', 0.102], ['E54000053', 0.898]]
    """
    reg = registry()
    a, b = reg.check_vintage(from_vintage), reg.check_vintage(to_vintage)
    t = parts(a, b, layer, layer).rename(columns={"weight": "population"})
    t["from_share"] = t["population"] / t.groupby("from_code")["population"].transform("sum")
    t["to_share"] = t["population"] / t.groupby("to_code")["population"].transform("sum")
    t["from_name"] = t["from_code"].map(names(a, layer))
    t["to_name"] = t["to_code"].map(names(b, layer))
    t = t[COLUMNS]
    t.attrs.update({"from_vintage": a, "to_vintage": b, "layer": layer, "attribution": reg.attribution(),
                    "population_source": reg.population_note(max(a, b))})
    return t
