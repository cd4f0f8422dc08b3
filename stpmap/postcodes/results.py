"""What a postcode lookup answers: the record's keys and column types, the
statuses, the methods, and the reasons with their messages.

Every answer has a *reason*: its status, its method (for ``ok``) and a
message in words. Each reason has a stable name (``"ok.lad"``,
``"outside_england.scotland"``, ``"pseudo.ZZ99 3VZ"``...). In memory a
reason is its position in :data:`REASONS`, which is what the lookup arrays
hold; on disk (the postcode index) it is its name, so reordering the list
below never changes what a cached index means.

The column types are declared here so that writers of files can lay out
their output without looking anything up: ``"string"`` columns are text
(categorical in the frames of ``lookup_many``, except ``postcode``), ``"float"``
columns are float64 (NaN where missing).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stpmap.postcodes import parse as _parse

#: The postcode directory the answers come from, as messages name it.
DIRECTORY_TITLE = "ONS Postcode Directory (November 2025)"

#: Each key of an answer and its type: ``"string"`` or ``"float"``.
RESULT_TYPES: dict[str, str] = {
    "postcode": "string", "status": "string", "message": "string",
    "footprint_code": "string", "footprint_name": "string",
    "ccg_code": "string", "ccg_ods_code": "string", "ccg_name": "string",
    "lad_code": "string", "lad_name": "string", "region": "string",
    "easting": "float", "northing": "float", "latitude": "float", "longitude": "float",
    "method": "string", "distance_m": "float",
}
RESULT_KEYS = tuple(RESULT_TYPES)
STATUSES = ("ok", "invalid", "not_found", "outside_england", "no_coordinates", "pseudo")
METHODS = ("lad", "point_in_polygon", "nearest")

#: Places outside England that a postcode can lie in: name key -> words.
OUTSIDE_ENGLAND = {
    "scotland": "Scotland",
    "wales": "Wales",
    "northern_ireland": "Northern Ireland",
    "channel_islands": "the Channel Islands",
    "isle_of_man": "the Isle of Man",
}


def result_schema(prefix: str = ""):
    """The result columns as a pyarrow schema (text ``string``, numbers
    ``float64``), each name with ``prefix`` in front."""
    import pyarrow as pa

    types = {"string": pa.string(), "float": pa.float64()}
    return pa.schema([(f"{prefix}{name}", types[kind]) for name, kind in RESULT_TYPES.items()])


class Reason(NamedTuple):
    """Why an answer is what it is."""

    name: str  #: stable: what a cached index records
    status: str
    method: str | None
    message: str


DECLARED: tuple[Reason, ...] = (
    Reason("ok.lad", "ok", "lad", "Placed by its local authority district, which lies wholly in one footprint."),
    Reason("ok.point_in_polygon", "ok", "point_in_polygon",
           "Placed by its grid reference, inside the CCG boundaries of its local authority district."),
    Reason("ok.nearest", "ok", "nearest",
           "Its grid reference lies just outside the generalised CCG boundaries of its local authority "
           "district; placed in the nearest one (distance_m gives how far)."),
    *[Reason(f"outside_england.{key}", "outside_england", None,
             f"In {words}, outside England: STP footprints cover England only.")
      for key, words in OUTSIDE_ENGLAND.items()],
    Reason("no_coordinates", "no_coordinates", None,
           f"In the {DIRECTORY_TITLE} but without a grid reference or local authority, so it "
           "cannot be placed in a footprint."),
    Reason("invalid.empty", "invalid", None, "Empty: no postcode was given."),
    Reason("invalid.shape", "invalid", None,
           "Not the shape of a UK postcode (like NG1 5DT: an outward code of 2 to 4 letters and digits, "
           "then a digit and two letters)."),
    Reason("not_found", "not_found", None,
           f"Not in the {DIRECTORY_TITLE}: check it for typing errors; it may be new, or long terminated."),
    *[Reason(f"pseudo.{postcode}", "pseudo", None,
             f"{postcode} is an NHS pseudo-postcode ({meaning}): it has no location.")
      for postcode, meaning in _parse.PSEUDO.items()],
    Reason("pseudo.other", "pseudo", None, "An NHS pseudo-postcode (ZZ99 ...): a code with no geographic location."),
)


class Reasons:
    """A list of reasons, addressed by position (what arrays hold) or by name.

    The positions of the common reasons are attributes (``lad``, ``empty``,
    ``not_found``...); ``outside_england`` maps a :data:`OUTSIDE_ENGLAND` key,
    and ``pseudo`` a pseudo-postcode, to a position.
    """

    def __init__(self, reasons):
        self.all: tuple[Reason, ...] = tuple(reasons)
        self.position = {r.name: i for i, r in enumerate(self.all)}
        if len(self.position) != len(self.all):
            raise ValueError("Two reasons have the same name.")
        self.messages = [r.message for r in self.all]
        self.status_codes = np.array([STATUSES.index(r.status) for r in self.all], dtype=np.int8)
        self.method_codes = np.array([METHODS.index(r.method) if r.method else -1 for r in self.all], dtype=np.int8)
        at = self.position.__getitem__
        self.lad, self.point_in_polygon, self.nearest = at("ok.lad"), at("ok.point_in_polygon"), at("ok.nearest")
        self.outside_england = {key: at(f"outside_england.{key}") for key in OUTSIDE_ENGLAND}
        self.no_coordinates = at("no_coordinates")
        self.empty, self.invalid, self.not_found = at("invalid.empty"), at("invalid.shape"), at("not_found")
        self.pseudo = {postcode: at(f"pseudo.{postcode}") for postcode in _parse.PSEUDO}
        self.pseudo_other = at("pseudo.other")

    def __len__(self) -> int:
        return len(self.all)

    def __getitem__(self, position: int) -> Reason:
        return self.all[position]

    def names(self) -> list[str]:
        """The names in a fixed order (sorted), whatever the order of the list:
        a cached index records its reasons as positions in this list."""
        return sorted(self.position)

    def positions_of(self, names) -> np.ndarray:
        """The position in this list of each reason name (KeyError for a name it lacks)."""
        return np.array([self.position[n] for n in names], dtype=np.int16)


#: The reasons in force (the lookup reads this when it loads an index).
REASONS = Reasons(DECLARED)
