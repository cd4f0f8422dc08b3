"""JSON bytes for ``stpmap serve``: answers are written straight to bytes with
orjson (not validated through the pydantic schemas), for speed."""

from __future__ import annotations

import orjson
from fastapi.responses import Response

JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"
_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj):
    if hasattr(obj, "item"):  # numpy / pandas scalars
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def dumps(obj) -> bytes:
    """JSON bytes (orjson; NaN and infinities become null)."""
    return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    """``body`` as a JSON response."""
    return Response(dumps(body), status, headers, JSON_TYPE)
