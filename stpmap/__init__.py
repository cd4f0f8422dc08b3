"""stpmap: England's STP footprints from official ONS data.

>>> import stpmap
>>> fp = stpmap.footprints(2017)            # 44 footprints, GeoDataFrame
>>> east = stpmap.footprints(group="East of England")
>>> stpmap.lookup("NG1 5DT")["footprint_code"]   # which footprint covers a postcode
'E54000014'

The names below are imported on first use, so that ``import stpmap`` (and the
command line) start quickly.
"""

from __future__ import annotations

import importlib

from . import _settings as settings
from ._errors import ChoiceError, DataError, InputError, StpmapError

__version__ = "0.1.0"

_LAZY = {
    "footprints": "._api",
    "ccgs": "._api",
    "local_authorities": "._api",
    "regions": "._api",
    "groups": "._api",
    "attribution": "._api",
    "fetch": "._api",
    "build": "._api",
    "info": "._api",
    "lookup": "._lookup",
    "lookup_many": "._lookup",
    "locate": "._lookup",
    "lookup_file": "._bulk",
    "lookup_folder": "._bulk_dask",
    "plot": "._maps_static",
    "explore": "._maps_html",
    "serve": "._serve",
    "create_app": "._serve",
}

__all__ = ["settings", "StpmapError", "DataError", "ChoiceError", "InputError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stpmap' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
