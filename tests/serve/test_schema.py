"""`stpmap serve` against its own OpenAPI description, with schemathesis.

Every operation is called with generated valid and invalid data; every answer
must be documented (status, content type, body schema), never a 5xx.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402


@pytest.fixture(scope="module")
def served_app(atlas_cache):
    from stpmap.serve.app import create_app

    app = create_app()
    app.state.stpmap.load()  # what the lifespan does when uvicorn starts the app
    return app


@pytest.fixture(scope="module")
def api_schema(served_app):
    return schemathesis.openapi.from_asgi("/openapi.json", served_app)


schema = schemathesis.pytest.from_fixture("api_schema")


# Operations where a request can fit the schema and still be refused with a
# documented 400: a string that is not a postcode (the issue asks for 400 with
# the record), a group or CRS name that does not exist, a set of point
# parameters that is not one of the three allowed pairs.
DOMAIN_400 = {"GET /postcodes/{postcode}", "GET /points", "GET /footprints", "GET /footprints.geojson"}


def _may_be_refused(case) -> bool:
    """Whether a schema-valid ``case`` may still get a documented 400: besides
    DOMAIN_400, a bulk body with a vintage as well as ?vintage= (the two must
    agree, which OpenAPI cannot say)."""
    if case.operation.label == "POST /postcodes":
        return (isinstance(case.body, dict) and case.body.get("vintage") is not None
                and (case.query or {}).get("vintage") is not None)
    return case.operation.label in DOMAIN_400


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_description(case):
    from schemathesis.checks import positive_data_acceptance

    excluded = [positive_data_acceptance] if _may_be_refused(case) else []
    response = case.call_and_validate(excluded_checks=excluded)
    assert response.status_code < 500
    if response.status_code == 400:
        body = response.json()
        assert body["error"] in ("invalid", "bad_request") and body["message"]


def test_the_description_covers_every_endpoint(api_schema):
    paths = set(api_schema.raw_schema["paths"])
    assert {"/postcodes/{postcode}", "/postcodes", "/points", "/footprints", "/footprints/{code}",
            "/footprints/{code}.geojson", "/footprints.geojson", "/health"} <= paths
