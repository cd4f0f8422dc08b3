"""The security headers of ``stpmap serve``: what every answer carries, and the
Content-Security-Policy of each kind of answer.

Every answer gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
DENY``, ``Referrer-Policy: no-referrer`` and, unless its route set its own, the
API policy (nothing may load or run: JSON, GeoJSON and static files are never
documents). The two HTML pages set their own policy:

* the map page ``/`` runs only scripts from this server (Leaflet and
  ``app.js``; its settings are a JSON data block, which is not run) and loads
  only stylesheets from it: Leaflet positions its layers through the CSSOM
  (``element.style``), which CSP does not restrict, so no ``'unsafe-inline'``;
* Swagger UI at ``/docs`` runs its bundle from this server and the one inline
  script FastAPI writes to start it, allowed by its SHA-256 hash (see
  :func:`script_hashes`); no ``'unsafe-eval'``, no ``'unsafe-inline'`` scripts.
"""

from __future__ import annotations

import base64
import hashlib
import re

#: Sent with every answer, errors included (names in lower case, as ASGI sends them).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)

#: JSON, GeoJSON, static files and errors: nothing may be loaded, run or framed.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: The map page: its own scripts, stylesheets and JSON only; images only from
#: itself and data: URLs (Leaflet's stylesheet uses both).
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def docs_policy(script_sources: list[str]) -> str:
    """The policy of Swagger UI (``/docs``): its bundle and stylesheet from this
    server, the inline scripts given (as CSP sources, e.g. ``'sha256-...'``),
    requests to this server only (the OpenAPI document and "Try it out")."""
    scripts = " ".join(["'self'", *script_sources])
    return (f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S | re.I)


def script_hashes(html: str) -> list[str]:
    """The CSP hash source (``'sha256-...'``) of each inline ``<script>`` of ``html``."""
    return ["'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"
            for body in _INLINE_SCRIPT.findall(html)]
