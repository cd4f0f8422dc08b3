"""Shared test set-up.

* The network is blocked for every test: only loopback (127.0.0.1, ::1) and
  Unix sockets may be connected to. Downloads are tested against a local
  HTTP server.
* The atlas is built once per session from the offline mirror
  (``STPMAP_MIRROR``, else ``../shared/geodata-src`` beside the repository)
  into a temporary cache, so tests never read or write the user's cache.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "geodata-src"

# ------------------------------------------------------------ no network

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to reach anything but loopback."""


def _is_loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock, address):
    if sock.family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests may not use the network (tried to connect to {address!r})")


def _guarded_connect(self, address):
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests may not use the network (tried to resolve {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


# ------------------------------------------------------------ data


def mirror_path() -> Path:
    path = Path(os.environ.get("STPMAP_MIRROR") or DEFAULT_MIRROR).resolve()
    if not (path / "MANIFEST.tsv").exists():
        pytest.fail(
            f"The offline data mirror was not found at {path}. Set STPMAP_MIRROR to the folder "
            "holding the ONS files (../shared/geodata-src beside the repository).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline mirror of the ONS files."""
    return mirror_path()


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Point stpmap at a fresh cache and the mirror for the whole session."""
    cache = os.environ.get("STPMAP_TEST_CACHE") or str(tmp_path_factory.mktemp("stpmap-cache"))
    old = {k: os.environ.get(k) for k in ("STPMAP_CACHE", "STPMAP_MIRROR", "STPMAP_ARCGIS_URL")}
    os.environ["STPMAP_CACHE"] = cache
    os.environ["STPMAP_MIRROR"] = str(mirror_path())
    # Any accidental download goes to a closed local port, never the internet.
    os.environ["STPMAP_ARCGIS_URL"] = "http://127.0.0.1:9/arcgis/rest/services"
    yield Path(cache)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def atlas_cache(_session_cache) -> Path:
    """The session cache with the 2017 and 2021 atlases built from the mirror."""
    from stpmap.data import atlas as _atlas

    for vintage in (2017, 2021):
        _atlas.ensure(vintage, progress=False)
    return _session_cache


# ------------------------------------------------------------ command line


@pytest.fixture(scope="session")
def cli():
    """Run ``stpmap ARGS...`` in-process; assert the exit code (0 unless ``code=``)."""
    from click.testing import CliRunner

    from stpmap.cli import main

    runner = CliRunner()

    def _run(*args, code=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return _run


# ------------------------------------------------------------ browser

#: Debian's Chromium, which the browser tests drive (``.ci/run`` installs it).
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test module
    (Playwright's sync API must not outlive the modules' own event loops)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's Chromium is needed at {CHROMIUM} (apt-get install chromium; .ci/run installs it).",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()
