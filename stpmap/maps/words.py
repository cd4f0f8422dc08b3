"""The words maps, tables and reports use for their areas and their date.

A vintage's areas had different names: STP footprints and CCGs until 2021,
Integrated Care Boards and sub-ICB locations from July 2022; and each
vintage took effect on its own date ("April 2017", "July 2022"). The
registry says both (``as_of``, ``areas``, ``subareas``); this module turns
them into the words of a title, a legend or an alt text, so no map says
"STP footprints, April 2022" of the ICBs.

>>> layer_words("stp", 2022)
('Integrated Care Board', 'Integrated Care Boards')
>>> as_of(2017)
'April 2017'
"""

from __future__ import annotations

_FIXED = {"lad": ("local authority", "local authorities")}
_DEFAULT = {"stp": ("STP footprint", "STP footprints"), "ccg": ("CCG", "CCGs")}
_ROLE = {"stp": "areas", "ccg": "subareas"}


def _singular(many: str) -> str:
    return many[:-1] if many.endswith("s") else many


def layer_words(layer: str, vintage: int | None = None) -> tuple[str, str]:
    """(one, many): what an area of ``layer`` is called in ``vintage``
    (the registry's words), e.g. ("CCG", "CCGs") or ("sub-ICB location",
    "sub-ICB locations"); the 2017 words when ``vintage`` is None."""
    if layer in _FIXED:
        return _FIXED[layer]
    if layer not in _ROLE:
        return ("area", "areas")
    if vintage is None:
        return _DEFAULT[layer]
    from stpmap.data.registry import registry

    many = registry().vintage_info[int(vintage)].get(_ROLE[layer])
    return (_singular(many), many) if many else _DEFAULT[layer]


def as_of(vintage: int) -> str:
    """When ``vintage``'s boundaries took effect, e.g. "April 2019", "July 2022"."""
    from stpmap.data.registry import registry

    return registry().vintage_info[int(vintage)].get("as_of") or f"April {vintage}"


def capital(words: str) -> str:
    """``words`` with its first letter in capitals ("sub-ICB locations" -> "Sub-ICB locations")."""
    return words[:1].upper() + words[1:]
