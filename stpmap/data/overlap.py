"""How the footprints of two vintages share their population.

Both vintages' official LSOA lookups place the same small areas (LSOA 2011)
in footprints; with the LSOA population this says, for a footprint of one
vintage, which footprints of the other hold its people and in what share
(used to explain a name of another vintage, e.g. 'Cumbria and North East' in
2017). Read from the source files on this machine (mirror or download cache),
never downloaded for this.
"""

from __future__ import annotations

from functools import lru_cache

from stpmap.data import sources as _sources
from stpmap.data.registry import registry
from stpmap.errors import DataError

#: Shares below this are boundary slivers, not worth naming.
MIN_SHARE = 0.005


def _read(vintage: int, role: str):
    ds = registry().dataset(vintage, role)
    path = _sources.find_source(ds)
    if path is None:
        raise DataError(f"{ds.title} is not on this machine.")
    return _sources.read(ds, path)


@lru_cache(maxsize=None)  # a few MB a vintage; resolving names of other vintages asks again and again
def _footprint_of_lsoa(vintage: int):
    """Each LSOA's footprint (``lsoa_code``, ``stp_code``); through the
    CCG-to-footprint lookup for vintages whose LSOA lookup stops at CCGs
    (2019, 2020)."""
    lsoa = _read(vintage, "lsoa_lookup")
    if "stp_code" not in lsoa.columns:
        ccg = _read(vintage, "ccg_stp_lookup")[["ccg_code", "stp_code"]]
        lsoa = lsoa.merge(ccg, on="ccg_code", how="left")
    return lsoa[["lsoa_code", "stp_code"]]


@lru_cache(maxsize=None)
def _population(vintage: int):
    return _read(vintage, "population")[["lsoa_code", "population"]]


@lru_cache(maxsize=64)
def shares(a: int, b: int) -> dict[str, tuple[tuple[str, float], ...]]:
    """Footprint code of vintage ``a`` -> ((code of vintage ``b``, share of
    its population), ...), largest first. Empty when a source file is not on
    this machine."""
    try:
        la, lb = _footprint_of_lsoa(a), _footprint_of_lsoa(b)
        pop = _population(a)
    except DataError:
        return {}
    m = la.merge(lb, on="lsoa_code", suffixes=("_a", "_b")).merge(pop, on="lsoa_code")
    t = m.groupby(["stp_code_a", "stp_code_b"])["population"].sum()
    out = {}
    for code, part in t.groupby(level=0):
        s = (part / part.sum()).droplevel(0).sort_values(ascending=False)
        out[code] = tuple((str(c), round(float(x), 4)) for c, x in s.items() if x >= MIN_SHARE)
    return out
