"""Named groups of footprints: ONS regions, NHS England regions and local
offices of the vintage (by population majority), and the user's own groups.

A user's groups file is TOML or JSON mapping a group name to footprints, by
code, name, ODS code or abbreviation (see :mod:`stpmap.data.aliases`)::

    # my-groups.toml
    "Northern Powerhouse" = ["E54000007", "West Yorkshire", "Cheshire and Merseyside"]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stpmap.data import atlas as _atlas
from stpmap.data.aliases import footprint_code
from stpmap.errors import ChoiceError, InputError, StpmapError
from stpmap.data.names import normalise

#: Built-in kinds of group, in the order they are listed; each is also the column
#: of the ``stp`` layer that names a footprint's group of that kind.
BUILTIN_KINDS = ("region", "nhs_region", "nhs_local_office")


@dataclass(frozen=True)
class Group:
    name: str
    kind: str  # one of BUILTIN_KINDS, or "user"
    codes: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.kind}:{self.name}"


def read_groups_file(path, vintage) -> list[Group]:
    """Read a user's TOML or JSON groups file, resolving names to codes."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read groups file {path}: {exc.strerror}. Check the path.") from exc
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import tomllib

            raw = tomllib.loads(text)
    except Exception as exc:
        raise InputError(
            f"Groups file {path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}. "
            'Write one line per group, e.g. "My group" = ["E54000005", "Humber, Coast and Vale"].'
        ) from exc
    if not isinstance(raw, dict):
        raise InputError(f"Groups file {path} must map group names to lists of footprints.")
    groups = []
    for name, members in raw.items():
        if isinstance(members, str) or not isinstance(members, (list, tuple)):
            raise InputError(f"Group {name!r} in {path} must be a list of footprint codes or names, not {members!r}.")
        codes = []
        for m in members:
            try:
                code = footprint_code(m, vintage)
            except StpmapError as exc:
                raise InputError(f"Group {name!r} in {path}: {exc}") from exc
            if code not in codes:
                codes.append(code)
        groups.append(Group(str(name), "user", tuple(codes)))
    return groups


def builtin_groups(vintage) -> list[Group]:
    """The vintage's ONS regions, NHS regions and local offices as groups of footprints."""
    t = _atlas.table("stp", vintage)
    out = []
    for kind in BUILTIN_KINDS:
        if kind not in t or t[kind].isna().all():
            continue
        for name, sub in t.groupby(kind, sort=True):
            out.append(Group(str(name), kind, tuple(sorted(sub["code"]))))
    return out


def all_groups(vintage, groups_file=None) -> list[Group]:
    """The user's groups (from ``groups_file``) first, then the built-in ones."""
    user = read_groups_file(groups_file, vintage) if groups_file else []
    return user + builtin_groups(vintage)


def resolve(name: str, vintage, groups_file=None) -> Group:
    """The group called ``name`` (or ``kind:name``); a clear error otherwise."""
    groups = all_groups(vintage, groups_file)
    wanted = str(name).strip()
    kind = None
    if ":" in wanted and wanted.split(":", 1)[0] in (*BUILTIN_KINDS, "user"):
        kind, wanted = wanted.split(":", 1)
    hits = [g for g in groups if normalise(g.name) == normalise(wanted) and (kind is None or g.kind == kind)]
    if not hits:
        raise ChoiceError("group", name, sorted({g.name for g in groups}), f"for vintage {vintage}")
    if len({g.codes for g in hits}) > 1:
        raise InputError(
            f"Group name {name!r} is ambiguous for vintage {vintage}: "
            + "; ".join(f"{g.qualified} ({len(g.codes)} footprints)" for g in hits)
            + ". Give one of these qualified names."
        )
    return hits[0]
