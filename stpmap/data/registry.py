"""The registry of data sources, kept as data in ``geodata/sources.json``.

Like xyzservices' providers: a JSON file with one entry per dataset (title,
ONS service name, official file names, fields, expected counts, CRS, licence
and attribution) and a small class around it.

>>> from stpmap.data.registry import registry
>>> registry().vintages
[2017, 2018, 2019, 2020, 2021, 2022]
>>> registry().dataset(2017, "ccg_boundaries").count
207
>>> registry().counts(2022)["ccg"]  # the sub-ICB locations of July 2022
106
>>> {k: registry().vintage_info[2022][k] for k in ("as_of", "areas", "subareas")}
{'as_of': 'July 2022', 'areas': 'Integrated Care Boards', 'subareas': 'sub-ICB locations'}

Each vintage says when its geography took effect (``as_of``), what its
footprints and CCGs were called (``areas``, ``subareas``), how many features
each layer has as published (``counts``) and which population it states
(``population_note``).

A vintage names its datasets by role. Every vintage has an ``lsoa_lookup``
(LSOA 2011 to CCG or sub-ICB location, footprint or ICB, and district), a
``lad_region_lookup``, the ``population`` and the April 2017 geometry that
every vintage is drawn from (``ccg_boundaries``, ``lad_boundaries``). Later
vintages add the April 2017 LSOA lookup (``base_lsoa_lookup``) through which
that geometry is dissolved, and may add: ``ccg_stp_lookup`` (CCG names, ODS
codes and footprint), ``ccg_boundaries_2019`` and ``ccg_boundaries_2021``
(later official CCG boundaries that draw the border through an April 2017
CCG the vintage splits), NHS
England regions by CCG (``ccg_nhs_region_lookup``), by footprint
(``stp_nhs_region_lookup``, with ``nhs_region_names``) or worked out through
an earlier year's LSOA lookup (``nhs_region_lsoa_lookup``), and the official
footprint boundaries that the built ones are checked against
(``stp_boundaries``). See :mod:`stpmap.data.build` and
:mod:`stpmap.data.geometry`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from stpmap.errors import ChoiceError

#: The registry lives in the repository's ``geodata/`` folder; a wheel carries
#: it as ``stpmap/geodata/`` (see ``[tool.setuptools.package-dir]``).
_PACKAGE = Path(__file__).resolve().parents[1]
REGISTRY_FILE = next(
    (f for f in (_PACKAGE / "geodata" / "sources.json", _PACKAGE.parent / "geodata" / "sources.json") if f.exists()),
    _PACKAGE / "geodata" / "sources.json",
)


@dataclass(frozen=True)
class Dataset:
    """One official dataset, as described in the registry."""

    id: str
    kind: str  # "boundaries", "table" or "population"
    level: str
    vintage: int
    title: str
    service: str | None
    files: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]
    count: int
    licence: str
    attribution: str
    crs: str | None = None
    resolution: str | None = None
    england_count: int | None = None
    download_page: str | None = None
    #: How far, in metres, the boundaries were generalised (20 m, 200 m, 500 m).
    generalisation_m: int | None = None
    #: The population of England's LSOAs (population datasets).
    england_total: int | None = None

    @classmethod
    def from_json(cls, id: str, d: dict) -> "Dataset":
        return cls(
            id=id,
            kind=d["kind"],
            level=d["level"],
            vintage=int(d["vintage"]),
            title=d["title"],
            service=d.get("service"),
            files=tuple(d["files"]),
            fields={k: tuple(v) for k, v in d["fields"].items()},
            count=int(d["count"]),
            licence=d["licence"],
            attribution=d["attribution"],
            crs=d.get("crs"),
            resolution=d.get("resolution"),
            england_count=d.get("england_count"),
            download_page=d.get("download_page"),
            generalisation_m=d.get("generalisation_m"),
            england_total=d.get("england_total"),
        )

    @property
    def is_spatial(self) -> bool:
        return self.kind == "boundaries"


@dataclass(frozen=True)
class Registry:
    """The datasets, which role each plays in each vintage, and the licences."""

    datasets: dict[str, Dataset]
    roles: dict[int, dict[str, str]]
    vintage_info: dict[int, dict]
    attribution_texts: dict[str, str]
    licences: dict[str, dict]
    arcgis_base_url: str
    raw: dict = field(repr=False)

    @property
    def vintages(self) -> list[int]:
        return sorted(self.roles)

    def check_vintage(self, vintage) -> int:
        """Return ``vintage`` as an int (``None`` is ``settings.default_vintage``),
        or raise naming the valid vintages."""
        if vintage is None:
            from stpmap import settings

            vintage = settings.default_vintage
        try:
            v = int(vintage)
        except (TypeError, ValueError):
            raise ChoiceError("vintage", vintage, self.vintages) from None
        if v not in self.roles:
            raise ChoiceError("vintage", vintage, self.vintages)
        return v

    def for_vintage(self, vintage) -> dict[str, Dataset]:
        """The datasets a vintage is built from, by role."""
        v = self.check_vintage(vintage)
        return {role: self.datasets[i] for role, i in self.roles[v].items()}

    def dataset(self, vintage, role: str) -> Dataset:
        roles = self.for_vintage(vintage)
        if role not in roles:
            raise ChoiceError("dataset role", role, roles, f"for vintage {vintage}")
        return roles[role]

    def counts(self, vintage) -> dict[str, int]:
        """How many features each layer of the vintage has, as published."""
        return dict(self.vintage_info[self.check_vintage(vintage)]["counts"])

    def population_note(self, vintage: int) -> str:
        """Which population estimate a vintage's figures are, said in every output."""
        return self.vintage_info[self.check_vintage(vintage)]["population_note"]

    def attribution(self, *, postcodes: bool = False) -> str:
        text = self.attribution_texts["ons"]
        if postcodes:
            text += " " + self.attribution_texts["postcodes"]
        return text

    def fingerprint(self) -> str:
        """A short hash of the registry: caches built from another registry are stale."""
        import hashlib

        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The registry, read once from :data:`REGISTRY_FILE`."""
    raw = json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))
    datasets = {i: Dataset.from_json(i, d) for i, d in raw["datasets"].items()}
    roles = {int(v): dict(d["datasets"]) for v, d in raw["vintages"].items()}
    for v, r in roles.items():
        for role, i in r.items():
            if i not in datasets:  # a broken registry is a bug in stpmap, say so plainly
                raise KeyError(f"registry: vintage {v} role {role} names unknown dataset {i}")
    return Registry(
        datasets=datasets,
        roles=roles,
        vintage_info={int(v): d for v, d in raw["vintages"].items()},
        attribution_texts=raw["attribution"],
        licences=raw["licences"],
        arcgis_base_url=raw["arcgis_base_url"],
        raw=raw,
    )


def attribution(*, postcodes: bool = False) -> str:
    """The licence attribution every map and export carries."""
    return registry().attribution(postcodes=postcodes)
