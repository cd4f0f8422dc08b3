"""Which footprints a selection (a group, some footprints) keeps."""

from __future__ import annotations

from stpmap.data import atlas as _atlas
from stpmap.data import groups as _groups
from stpmap.data.names import normalise
from stpmap.errors import ChoiceError


def select_codes(vintage: int, group, groups_file, footprint) -> list[str] | None:
    """The footprint codes a ``group`` and/or ``footprint`` selection keeps
    (``None``: no selection, every footprint). Codes or names are accepted;
    an unknown one is a :class:`~stpmap.errors.ChoiceError`."""
    codes = None
    if group is not None:
        codes = list(_groups.resolve(group, vintage, groups_file).codes)
    if footprint:
        wanted = [footprint] if isinstance(footprint, str) else list(footprint)
        t = _atlas.table("stp", vintage, columns=["code", "name"])
        known = set(t["code"])
        by_name = {normalise(n): c for c, n in zip(t["code"], t["name"])}
        picked = []
        for f in wanted:
            c = str(f).strip().upper()
            if c not in known:
                c = by_name.get(normalise(f))
            if c is None:
                raise ChoiceError("footprint", f, list(t["code"]), f"for vintage {vintage}")
            picked.append(c)
        codes = picked if codes is None else [c for c in codes if c in picked]
    return codes
