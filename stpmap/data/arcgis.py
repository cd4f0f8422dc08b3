"""Downloading datasets from the ONS Open Geography Portal's ArcGIS REST API.

Each dataset in the registry names its FeatureServer service. A download asks
``{base}/{service}/FeatureServer/0/query`` for the feature count, then pages
through the features with ``resultOffset`` / ``resultRecordCount`` until the
server says ``exceededTransferLimit`` is false.

Failed requests are tried again by urllib3's :class:`~urllib3.util.Retry` on
the session (network errors, time-outs, HTTP 429 and 5xx, with exponential
backoff and the server's ``Retry-After``); an answer that arrives broken (cut
short, not JSON, or an ArcGIS error body sent with HTTP 200) is asked for
again with the same policy. Every request has a timeout. The result is
checked against the registry's expected count and written to
``<dest>.part`` first, then renamed: an interrupted download never leaves a
file that looks complete.

Boundaries are saved as GeoJSON (EPSG:4326), tables as CSV.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.util import Retry

from stpmap import settings as _settings
from stpmap.errors import DataError
from stpmap.data.registry import Dataset, registry

USER_AGENT = "stpmap (https://pypi.org/project/stpmap/)"
#: HTTP statuses that mean "try again later": rate limited, or the server is struggling.
RETRIED_STATUSES = (429, 500, 502, 503, 504)


def query_url(ds: Dataset) -> str:
    base = _settings.arcgis_url(registry().arcgis_base_url)
    return f"{base}/{ds.service}/FeatureServer/0/query"


def _retry_policy() -> Retry:
    """How often and how patiently a request is tried again (from :mod:`stpmap.settings`)."""
    return Retry(
        total=_settings.retries,
        status_forcelist=RETRIED_STATUSES,
        backoff_factor=_settings.backoff,
        respect_retry_after_header=True,
        allowed_methods=("GET",),
        raise_on_status=False,  # the last failed answer comes back, so its status can be named
    )


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=_retry_policy())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _describe(exc: requests.RequestException) -> str:
    """Name what went wrong, e.g. ``ReadTimeout: ... Read timed out. (read timeout=60)``."""
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    if isinstance(reason, ReadTimeoutError):
        return f"ReadTimeout: {reason}"
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return f"ConnectTimeout: {reason}"
    return f"{type(exc).__name__}: {reason}"


def _arcgis_error(body) -> str | None:
    """The error an ArcGIS answer carries in its body (with HTTP 200), or None."""
    if isinstance(body, dict) and "error" in body:
        err = body["error"] or {}
        return f"ArcGIS error {err.get('code', '')}: {err.get('message', err)}"
    return None


def _get_json(session: requests.Session, url: str, params: dict, what: str) -> dict:
    """GET ``url`` and decode its JSON. The session's adapter retries failed
    requests; an answer that arrives broken is asked for again here."""
    give_up = (
        f"{what}: gave up after {_settings.retries + 1} attempts ({{}}) at {url}. Check your connection, "
        "or download the file by hand and point --mirror / STPMAP_MIRROR at its folder."
    )
    again = _retry_policy()
    while True:
        try:
            # stream: the body is read below, so that a body cut short is retried too
            r = session.get(url, params=params, timeout=_settings.timeout, stream=True)
        except requests.RequestException as exc:
            raise DataError(give_up.format(_describe(exc))) from exc
        with r:
            if r.status_code in RETRIED_STATUSES:
                raise DataError(give_up.format(f"HTTP {r.status_code}"))
            if r.status_code != 200:
                raise DataError(f"{what}: the server answered HTTP {r.status_code} for {r.url}.")
            try:
                body = r.json()
                problem = _arcgis_error(body)
            except ValueError:  # before RequestException: requests' JSONDecodeError is both
                problem = "the answer was not JSON"
            except requests.RequestException as exc:
                problem = _describe(exc)
        if problem is None:
            return body
        try:
            again = again.increment("GET", url)
        except MaxRetryError:
            raise DataError(give_up.format(problem)) from None
        again.sleep()


def _more_features_follow(body: dict) -> bool:
    """The page's ``exceededTransferLimit``: top level in Esri JSON, under ``properties`` in GeoJSON."""
    if "exceededTransferLimit" in body:
        return bool(body["exceededTransferLimit"])
    return bool((body.get("properties") or {}).get("exceededTransferLimit", False))


def _pages(session, ds: Dataset, total: int, bar):
    """Yield the feature lists of each page of the query."""
    url = query_url(ds)
    fmt = "geojson" if ds.is_spatial else "json"
    offset = 0
    while True:
        params = {
            "where": "1=1",
            "outFields": "*",
            "returnGeometry": "true" if ds.is_spatial else "false",
            "f": fmt,
            "resultOffset": offset,
            "resultRecordCount": _settings.page_size,
        }
        if ds.is_spatial:
            params["outSR"] = 4326
        body = _get_json(session, url, params, f"Downloading {ds.id} ({ds.title}), features from {offset}")
        features = body.get("features") or []
        more = _more_features_follow(body)
        if more and not features:
            raise DataError(
                f"Downloading {ds.id}: the server said more features follow offset {offset} but sent none."
            )
        yield features
        bar.update(len(features))
        offset += len(features)
        if not more:
            break
        if offset > total:
            raise DataError(
                f"Downloading {ds.id}: the server keeps sending features past the {total} it reported."
            )


def download_dataset(ds: Dataset, dest: Path, progress: bool = True) -> Path:
    """Download one dataset to ``dest`` (GeoJSON or CSV), checked and atomic."""
    from tqdm.auto import tqdm

    if not ds.service:
        raise DataError(f"Dataset {ds.id} ({ds.title}) is not served by the ONS ArcGIS services.")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _session() as session:
        head = _get_json(
            session, query_url(ds), {"where": "1=1", "returnCountOnly": "true", "f": "json"},
            f"Counting the features of {ds.id} ({ds.title})",
        )
        total = int(head.get("count", 0))
        if total != ds.count:
            raise DataError(
                f"Dataset {ds.id} ({ds.title}): the service {ds.service} reports {total} features, "
                f"the registry expects {ds.count}. The service may hold another edition; report this "
                "to the stpmap maintainers, or use a mirror folder holding the expected file."
            )
        features: list = []
        with tqdm(total=total, desc=ds.id, unit=" features", disable=not progress, leave=False) as bar:
            for page in _pages(session, ds, total, bar):
                features.extend(page)
    if len(features) != ds.count:
        raise DataError(
            f"Dataset {ds.id} ({ds.title}): downloaded {len(features)} features, expected {ds.count}. "
            "The download was incomplete; run `stpmap data fetch` again."
        )
    _write(ds, features, dest)
    return dest


def _write(ds: Dataset, features: list, dest: Path) -> None:
    """Save the features as GeoJSON (boundaries) or CSV (tables): written to
    ``<dest>.part`` and renamed, so that no half-written file looks complete."""
    part = dest.with_name(dest.name + ".part")
    try:
        if ds.is_spatial:
            with open(part, "w", encoding="utf-8") as f:
                json.dump({"type": "FeatureCollection", "features": features}, f)
        else:
            rows = [feat.get("attributes", feat.get("properties", {})) for feat in features]
            fields = list(dict.fromkeys(k for row in rows for k in row))
            with open(part, "w", encoding="utf-8", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
        os.replace(part, dest)
    finally:
        if part.exists():
            part.unlink()
