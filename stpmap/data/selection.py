"""Which footprints a selection (a group, some footprints) keeps."""

from __future__ import annotations

from stpmap.data import groups as _groups
from stpmap.data.aliases import footprint_code


def select_codes(vintage: int, group, groups_file, footprint) -> list[str] | None:
    """The footprint codes a ``group`` and/or ``footprint`` selection keeps
    (``None``: no selection, every footprint). Footprints are given by code,
    ODS code, CCG ODS code, name, short name or abbreviation (see
    :func:`stpmap.data.aliases.resolve_footprint`); an unknown one is a
    :class:`~stpmap.errors.ChoiceError` naming the closest names."""
    codes = None
    if group is not None:
        codes = list(_groups.resolve(group, vintage, groups_file).codes)
    if footprint:
        wanted = [footprint] if isinstance(footprint, str) else list(footprint)
        picked = [footprint_code(f, vintage) for f in wanted]
        codes = picked if codes is None else [c for c in codes if c in picked]
    return codes
