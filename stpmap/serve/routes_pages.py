"""Routes of ``stpmap serve`` for people and monitors: the map page (``/``),
the API docs (``/docs``), ``/health``, and the files they load (``/static/...``).

Everything the page and the docs load is served here: Leaflet from stpmap's
assets, Swagger UI from the ``fastapi-offline`` package; nothing from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from stpmap.serve.responses import json_response
from stpmap.serve.schemas import Health
from stpmap.serve.security import PAGE_POLICY, docs_policy, script_hashes
from stpmap.serve.state import ASSETS_DIR, PAGE_DIR, service_state

router = APIRouter(default_response_class=Response)

LEAFLET_DIR = ASSETS_DIR / "leaflet"


def _swagger_ui_dir() -> Path:
    """Swagger UI's files (bundle and stylesheet) from the ``fastapi-offline``
    package, a dependency of the ``serve`` extra."""
    from importlib.resources import files

    return Path(str(files("fastapi_offline") / "static"))


@router.get("/", include_in_schema=False)
async def page(request: Request):
    return Response(service_state(request).page_html, 200,
                    {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_POLICY}, "text/html; charset=utf-8")


@router.get("/docs", include_in_schema=False)
async def docs(request: Request):
    from fastapi.openapi.docs import get_swagger_ui_html

    root = request.scope.get("root_path", "").rstrip("/")
    html = get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url, title="stpmap API",
        swagger_js_url=root + "/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=root + "/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="data:,",
        swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0},
    )
    # FastAPI starts Swagger UI with an inline script: allowed by its hash, nothing else inline.
    html.headers["Content-Security-Policy"] = docs_policy(script_hashes(html.body.decode("utf-8")))
    return html


@router.get("/health", tags=["service"], summary="Whether the service is ready", response_model=None,
            responses={200: {"model": Health}})
async def health(request: Request):
    state = service_state(request)
    return json_response({"status": "ok", "vintage": state.default_vintage, "vintages": state.vintages,
                          "postcode_index": {str(k): bool(val) for k, val in state.indexed.items()},
                          "startup_seconds": round(state.startup_seconds, 3)})


def mount_static(app: FastAPI) -> None:
    """Serve Leaflet, the page's script and stylesheet, and Swagger UI under ``/static/``."""
    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR, check_dir=False), name="leaflet")
    app.mount("/static/serve", StaticFiles(directory=PAGE_DIR, check_dir=False), name="page-assets")
    app.mount("/static/swagger-ui", StaticFiles(directory=_swagger_ui_dir(), check_dir=False), name="swagger-ui")
