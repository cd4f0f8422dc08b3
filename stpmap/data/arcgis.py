"""Downloading datasets from the ONS Open Geography Portal's ArcGIS REST API.

Each dataset in the registry names its FeatureServer service. A download asks
``{base}/{service}/FeatureServer/0/query`` for the feature count, then pages
through the features with ``resultOffset`` / ``resultRecordCount`` until the
server says ``exceededTransferLimit`` is false. Failed requests (network
errors, HTTP 429 and 5xx, ArcGIS error bodies) are tried again with
exponential backoff; every request has a timeout. The result is checked
against the registry's expected count and written to ``<dest>.part`` first,
then renamed: an interrupted download never leaves a file that looks complete.

Boundaries are saved as GeoJSON (EPSG:4326), tables as CSV.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import requests

from stpmap import settings as _settings
from stpmap.errors import DataError
from stpmap.data.registry import Dataset, registry

USER_AGENT = "stpmap (https://pypi.org/project/stpmap/)"
RETRY_STATUS = {429, 500, 502, 503, 504}


class _Retryable(Exception):
    pass


def query_url(ds: Dataset) -> str:
    base = _settings.arcgis_url(registry().arcgis_base_url)
    return f"{base}/{ds.service}/FeatureServer/0/query"


def _get_json(session: requests.Session, url: str, params: dict, what: str) -> dict:
    """GET ``url`` and decode JSON, retrying transient failures."""
    attempts = _settings.retries + 1
    last = ""
    for attempt in range(attempts):
        try:
            r = session.get(url, params=params, timeout=_settings.timeout)
            if r.status_code in RETRY_STATUS:
                raise _Retryable(f"HTTP {r.status_code}")
            if r.status_code != 200:
                raise DataError(f"{what}: the server answered HTTP {r.status_code} for {r.url}.")
            try:
                body = r.json()
            except ValueError:
                raise _Retryable("the answer was not JSON") from None
            if isinstance(body, dict) and "error" in body:
                err = body["error"] or {}
                raise _Retryable(f"ArcGIS error {err.get('code', '')}: {err.get('message', err)}")
            return body
        except (requests.ConnectionError, requests.Timeout, _Retryable) as exc:
            last = f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Retryable) else str(exc)
            if attempt + 1 < attempts:
                time.sleep(_settings.backoff * 2**attempt)
    raise DataError(
        f"{what}: gave up after {attempts} attempts ({last}) at {url}. Check your connection, "
        "or download the file by hand and point --mirror / STPMAP_MIRROR at its folder."
    )


def _exceeded(body: dict) -> bool:
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
        more = _exceeded(body)
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
    part = dest.with_name(dest.name + ".part")
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
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
    return dest
