"""The shapes of requests and answers of ``stpmap serve``, for its OpenAPI description.

The models describe the API (``/openapi.json``, ``/docs``, and so the
schemathesis tests); answers are written directly as JSON bytes, not
validated through them.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from stpmap.data.aliases import KINDS

#: Most postcodes one ``POST /postcodes`` may ask for.
MAX_POSTCODES = 10_000


class PostcodeResult(BaseModel):
    """One lookup record: the keys of ``stpmap lookup --format json``."""

    postcode: Optional[str] = Field(None, description="The postcode normalised (upper case, one space), or the input if invalid")
    status: Literal["ok", "invalid", "not_found", "outside_england", "no_coordinates", "pseudo"]
    message: str = Field(description="What the status means for this postcode, in words")
    footprint_code: Optional[str] = Field(None, description="STP footprint code (E54...)")
    footprint_name: Optional[str] = None
    ccg_code: Optional[str] = Field(None, description="CCG code (E38...)")
    ccg_ods_code: Optional[str] = Field(None, description="CCG ODS code (e.g. 04K)")
    ccg_name: Optional[str] = None
    lad_code: Optional[str] = Field(None, description="Local authority district code")
    lad_name: Optional[str] = None
    region: Optional[str] = Field(None, description="ONS region")
    easting: Optional[float] = Field(None, description="British National Grid, metres")
    northing: Optional[float] = None
    latitude: Optional[float] = Field(None, description="WGS84 degrees")
    longitude: Optional[float] = None
    method: Optional[str] = Field(None, description="How the footprint was found")
    distance_m: Optional[float] = Field(None, description="Distance to the footprint when assigned to the nearest one")


class PostcodeError(PostcodeResult):
    """A lookup record for a postcode that is ``invalid`` (400) or ``not_found`` (404)."""

    error: str = Field(description="The status: invalid or not_found")


class ErrorBody(BaseModel):
    """Every error: a short code and a message saying what is wrong and what to do."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str


class PostcodesIn(BaseModel):
    """The body of POST /postcodes; any other key is a 400 that names the allowed ones."""

    model_config = ConfigDict(extra="forbid")
    postcodes: list[Optional[str]] = Field(
        description=f"Up to {MAX_POSTCODES:,} postcodes, any case and spacing",
        examples=[["NG1 5DT", "sw1a1aa"]],
    )
    # Each app writes its vintages into the schema (describe_vintages).
    vintage: Optional[Union[StrictInt, StrictStr]] = Field(None, description="Vintage of the geography.")


class PostcodesOut(BaseModel):
    vintage: int
    count: int
    statuses: dict[str, int] = Field(description="How many results have each status")
    attribution: str
    results: list[PostcodeResult] = Field(description="One record per input postcode, in input order")


class Footprint(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    population: Optional[int] = None
    region: Optional[str] = None
    nhs_region: Optional[str] = None
    ccg_count: Optional[int] = None
    lad_count: Optional[int] = None


#: How a footprint name or code was matched: see :class:`stpmap.data.aliases.Resolution`.
MATCHED_BY = ("code", "ccg_code", "ccg_ods_code", *KINDS, "fuzzy")


class FootprintMatch(BaseModel):
    """How a footprint name or code asked for was read, by the resolver every
    stpmap tool uses (exact alias first, then a fuzzy match only when it is
    unambiguous)."""

    query: str = Field(description="What was asked for, as given")
    code: str = Field(description="The footprint found (E54...)")
    name: str = Field(description="Its name in the vintage asked for")
    matched_by: Literal[MATCHED_BY] = Field(
        description="`code`, a CCG's code (`ccg_code`, `ccg_ods_code`), the kind of name or code it matched "
                    "(`ons_name`, `icb_name`, `nhs_name`, `ics_name`, `ods_code`, `short_name`, `abbreviation`), "
                    "or `fuzzy`: not an exact name, check it")
    alias: str = Field(description="The name or code it matched")
    score: Optional[float] = Field(None, description="The score (0-100) of a fuzzy match, else null")
    note: str = Field(description="What else to know, e.g. that the name is the footprint's name in another "
                                  "vintage, or that a CCG code was matched; empty if nothing")


#: The headers of an answer that names footprints (``/footprints/{code}``, ``?footprint=``).
MATCH_HEADERS = {
    "X-Footprint-Match": {"schema": {"type": "string"},
                          "description": "How each footprint asked for was matched (`matched_by`), comma-separated "
                                         "in the order asked; `fuzzy` means it was not an exact name"},
    "X-Footprint-Note": {"schema": {"type": "string"},
                         "description": "For a fuzzy match or a match with a note: what was matched to what (ASCII)"},
}


class FootprintList(BaseModel):
    vintage: int
    count: int
    group: Optional[str] = None
    attribution: str
    population_source: str
    matches: Optional[list[FootprintMatch]] = Field(
        None, description="With ?footprint=: how each footprint asked for was matched, in the order asked")
    footprints: list[Footprint]


class Member(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    population: Optional[int] = None


class FootprintDetail(Footprint):
    attribution: str
    population_source: str
    bbox: list[float] = Field(description="[west, south, east, north] in WGS84 degrees")
    ccgs: list[Member]
    local_authorities: list[Member] = Field(description="Districts with people in the footprint; population is the part inside it")
    match: FootprintMatch = Field(description="How the code or name in the path was matched")


class FootprintOverlap(BaseModel):
    code: str
    name: str
    share: float = Field(description="The share (0-1) of the other footprint's population in this one")


class FootprintError(ErrorBody):
    """A footprint name or code that names no footprint of the vintage (404 in
    the path, 422 as ``?footprint=``)."""

    error: Literal["not_found", "other_vintage"] = Field(
        description="`not_found`: no footprint has that name or code; `other_vintage`: it names a footprint of "
                    "other vintages (the message says what it was in the vintage asked for)")
    did_you_mean: Optional[list[str]] = Field(None, description="`not_found`: the closest names of the vintage")
    code: Optional[str] = Field(None, description="`other_vintage`: the footprint it names")
    name: Optional[str] = None
    vintages: Optional[list[int]] = Field(None, description="`other_vintage`: the vintages served that have it")
    overlaps: Optional[list[FootprintOverlap]] = Field(
        None, description="`other_vintage`: the footprints of the vintage asked for holding its population")


class FeatureCollection(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    attribution: str
    vintage: int


class Health(BaseModel):
    status: str
    vintage: int
    vintages: list[int]
    postcode_index: dict[str, bool]
    startup_seconds: float


_ERROR_DESCRIPTIONS = {
    400: "Bad request (e.g. an unknown vintage or group; the message lists the valid ones)",
    404: "Not found", 413: "Request too large", 422: "A parameter or the body is not of the right type",
    503: "The data could not be loaded",
}


def error_responses(*codes: int) -> dict:
    """The ``responses`` entries of a route for these error status codes."""
    return {c: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[c]} for c in codes}


def footprint_error_responses(*codes: int, in_query: bool = False) -> dict:
    """As :func:`error_responses`, for a route that takes a footprint name or
    code: in the path, its 404 is a :class:`FootprintError`; as
    ``?footprint=``, its 422 may be one."""
    out = error_responses(*codes)
    if in_query:
        out[422] = {"model": Union[FootprintError, ErrorBody],
                    "description": "A parameter is not of the right type, or ?footprint= names no footprint of the "
                                   "vintage (`error` not_found, with `did_you_mean`) or one of other vintages "
                                   "(`error` other_vintage)"}
    else:
        out[404] = {"model": FootprintError,
                    "description": "No footprint of the vintage has that name or code (`error` not_found, with "
                                   "`did_you_mean`), or it names one of other vintages (`error` other_vintage)"}
    return out


def vintage_query():
    """The ``?vintage=`` parameter of every API route.

    The routes are shared by every app, while the valid vintages and the
    default are each app's: :func:`describe_vintages` writes them into the
    app's OpenAPI document in place of the stand-ins given here.
    """
    return Query(None, description="Vintage of the geography.", json_schema_extra={"enum": []})


def describe_vintages(openapi: dict, vintages: list[int], default: int) -> dict:
    """Fill the valid ``vintages`` and the ``default`` into every ``?vintage=``
    parameter of ``openapi``, and into the ``vintage`` key of the bulk body."""
    choices = [str(v) for v in vintages]
    text = (f"Vintage of the geography: {' or '.join(choices)} (default {default}). "
            "An unknown one is a 400 that lists the valid ones.")
    for operation in (op for item in openapi.get("paths", {}).values() for op in item.values()):
        for param in operation.get("parameters", ()):
            if param["name"] == "vintage" and param["in"] == "query":
                param["description"] = text
                param["schema"].update(description=text, enum=choices)
    body = openapi.get("components", {}).get("schemas", {}).get(PostcodesIn.__name__, {})
    key = body.get("properties", {}).get("vintage")
    if key is not None:
        key["description"] = (f"{text} As a number or text; the same as ?vintage=, "
                              "and a 400 when both are given and differ.")
        for branch in key.get("anyOf", ()):
            if branch.get("type") == "integer":
                branch["enum"] = list(vintages)
            elif branch.get("type") == "string":
                branch["enum"] = choices
    return openapi
