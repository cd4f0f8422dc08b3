"""A real `stpmap serve` (uvicorn, in a subprocess on a free loopback port) for
the tests that need the whole server stack: the browser and the HTTP parser.

A helper module, not a conftest.py: tests elsewhere import the root
conftest by its name, which a second conftest.py would shadow.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

#: The origin the shared server lets call it (--cors-origin).
CORS_ORIGIN = "https://intranet.example.nhs.uk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*args: str, timeout: float = 180):
    """`stpmap serve ARGS` until the block ends; yields (process, base URL) once /health answers."""
    port = _free_port()
    log = tempfile.TemporaryFile("w+")  # not a pipe: a server that logs much would block on a full one
    proc = subprocess.Popen(
        [sys.executable, "-m", "stpmap.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"stpmap serve exited with {proc.returncode}:\n{log.read()[-5000:]}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"stpmap serve did not answer /health within {timeout} s")
            time.sleep(0.2)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def cors_server(atlas_cache):
    """The body of a module's ``server`` fixture: `stpmap serve --cors-origin CORS_ORIGIN` on the session's cache."""
    from stpmap.data.registry import registry
    from stpmap.postcodes import lookup as _lookup

    for v in registry().vintages:  # build the postcode indexes in the test cache before the server needs them
        _lookup.index(v)
    with running_server("--cors-origin", CORS_ORIGIN) as (_, base):
        yield base
