"""Settings in one place.

Each setting is a module attribute; assign to it to change it, as in OSMnx::

    import stpmap
    stpmap.settings.mirror = "/data/ons-mirror"
    stpmap.settings.timeout = 120

The folders and the service address can also be given by environment
variables (``STPMAP_MIRROR``, ``STPMAP_CACHE``, ``STPMAP_ARCGIS_URL``), read
each time they are used, so tests and the command line can change them; an
attribute that is set wins over its variable. Read those three through
:func:`mirror_folder`, :func:`cache_dir` and :func:`arcgis_url`, which apply
that rule.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Vintage used when none is given: 2017 (44 footprints); 2018 to 2022 are the others.
default_vintage: int = 2017

#: Folder holding an offline copy of the ONS files, searched at any depth by
#: official file name (``STPMAP_MIRROR``); ``None``: download what is missing.
mirror: str | None = None

#: Folder where downloads and built layers are cached (``STPMAP_CACHE``);
#: ``None``: the user's cache folder (``platformdirs``).
cache_folder: str | None = None

#: Base URL of the ONS Open Geography Portal ArcGIS REST services
#: (``STPMAP_ARCGIS_URL``); ``None`` uses the one in the registry.
arcgis_base_url: str | None = None

#: Seconds to wait for an HTTP answer (to connect, and between bytes received).
timeout: float = 60.0

#: How many times a failed HTTP request is tried again: a network error, a
#: time-out, HTTP 429 or 5xx, or an answer that is not JSON or is an ArcGIS error.
retries: int = 4

#: Backoff factor in seconds (urllib3's ``backoff_factor``): the first retry is
#: at once, later ones wait 2, 4, 8, ... times this (at most 120 s), unless the
#: server's ``Retry-After`` asks for another wait.
backoff: float = 1.0

#: Features asked for in one page of an ArcGIS query (the server may send fewer).
page_size: int = 2000


def mirror_folder() -> Path | None:
    """The mirror folder in force: :data:`mirror`, else ``STPMAP_MIRROR``, else None."""
    value = mirror or os.environ.get("STPMAP_MIRROR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The cache folder in force: :data:`cache_folder`, else ``STPMAP_CACHE``,
    else the user's cache folder. What lies inside it is :mod:`stpmap._cache`'s."""
    value = cache_folder or os.environ.get("STPMAP_CACHE")
    if value:
        return Path(value).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("stpmap", appauthor=False))


def arcgis_url(registry_default: str) -> str:
    """The ArcGIS services' base URL in force: :data:`arcgis_base_url`, else
    ``STPMAP_ARCGIS_URL``, else ``registry_default``; without a trailing slash."""
    return (arcgis_base_url or os.environ.get("STPMAP_ARCGIS_URL") or registry_default).rstrip("/")
