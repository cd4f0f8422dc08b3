"""Settings in one place.

Every setting can be overridden by an environment variable (read when it is
used, so tests and the CLI can change them) or by assigning to the module
attribute, as in OSMnx::

    import stpmap
    stpmap.settings.mirror = "/data/ons-mirror"
"""

from __future__ import annotations

import os
from pathlib import Path

#: Vintage used when none is given.
default_vintage: int = 2017

#: Folder holding an offline copy of the ONS files (``STPMAP_MIRROR``).
mirror: str | None = None

#: Folder where downloads and built layers are cached (``STPMAP_CACHE``).
cache_folder: str | None = None

#: Base URL of the ONS Open Geography Portal ArcGIS REST services
#: (``STPMAP_ARCGIS_URL``); ``None`` uses the one in the registry.
arcgis_base_url: str | None = None

#: Seconds to wait for one HTTP response.
timeout: float = 60.0

#: How many times a failed HTTP request is tried again.
retries: int = 4

#: Seconds to wait before the first retry; doubled after each failure.
backoff: float = 1.0

#: Features asked for in one page of an ArcGIS query.
page_size: int = 2000


def mirror_folder() -> Path | None:
    value = mirror or os.environ.get("STPMAP_MIRROR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    value = cache_folder or os.environ.get("STPMAP_CACHE")
    if value:
        return Path(value).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("stpmap", appauthor=False))


def arcgis_url(registry_default: str) -> str:
    return (arcgis_base_url or os.environ.get("STPMAP_ARCGIS_URL") or registry_default).rstrip("/")
