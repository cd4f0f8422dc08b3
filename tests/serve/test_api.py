"""`stpmap serve`: the HTTP API, through an HTTP client against the app (real data)."""

from __future__ import annotations

import json
import math
import types

import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from stpmap.postcodes import lookup as _lookup  # noqa: E402
from stpmap.serve.app import MAX_POSTCODES, create_app  # noqa: E402

KEYS = list(_lookup.RESULT_KEYS)
NOT_FOUND = "NG1 9ZZ"   # a valid shape that is not a postcode (checked below against the lookup)
SCOTLAND = "EH1 1YZ"
WALES = "CF10 1EP"
PSEUDO = "ZZ99 3VZ"


def _json_equal(record: dict) -> dict:
    """A lookup record as it comes back through JSON (NaN -> null, numpy -> plain)."""
    out = {}
    for k, v in record.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out


def _close(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if not math.isclose(x, y, rel_tol=0, abs_tol=1e-6):
                return False
        elif x != y:
            return False
    return True


@pytest.fixture(scope="module")
def app(atlas_cache):
    return create_app()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# ---------------------------------------------------------------- one postcode


def test_single_lookup_is_the_lookup_record_with_attribution_header(client):
    r = client.get("/postcodes/NG1 5DT")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == KEYS
    assert body["status"] == "ok" and body["postcode"] == "NG1 5DT"
    assert body["footprint_code"].startswith("E54") and "Nottingham" in body["footprint_name"]
    assert _close(body, _json_equal(_lookup.lookup("NG1 5DT", vintage=2017)))
    assert r.headers["content-type"].startswith("application/json")
    attribution = r.headers["x-attribution"]
    assert "Office for National Statistics" in attribution and "Royal Mail" in attribution


@pytest.mark.parametrize("spelling", ["ng15dt", "NG1%205DT", " ng1  5dt ", "Ng15Dt"])
def test_any_case_and_spacing(client, spelling):
    r = client.get(f"/postcodes/{spelling}")
    assert r.status_code == 200
    assert r.json()["postcode"] == "NG1 5DT"


def test_invalid_is_400_and_not_found_is_404_with_messages(client):
    assert _lookup.lookup(NOT_FOUND)["status"] == "not_found"  # the premise of this test
    r = client.get("/postcodes/not-a-postcode")
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "invalid" and body["error"] == "invalid" and body["message"]
    r = client.get(f"/postcodes/{NOT_FOUND}")
    assert r.status_code == 404
    body = r.json()
    assert body["status"] == "not_found" and body["error"] == "not_found" and body["message"]
    assert set(KEYS) <= set(body)


@pytest.mark.parametrize("postcode, status", [(SCOTLAND, "outside_england"), (WALES, "outside_england"),
                                              (PSEUDO, "pseudo")])
def test_other_statuses_are_200_with_the_status(client, postcode, status):
    r = client.get(f"/postcodes/{postcode}")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == status and body["message"]
    assert body["footprint_code"] is None


def test_outside_england_names_the_country(client):
    assert "Scotland" in client.get(f"/postcodes/{SCOTLAND}").json()["message"]
    assert "Wales" in client.get(f"/postcodes/{WALES}").json()["message"]


def test_vintage_parameter(client):
    r17 = client.get("/postcodes/NG1 5DT?vintage=2017").json()
    r21 = client.get("/postcodes/NG1 5DT?vintage=2021").json()
    assert _close(r21, _json_equal(_lookup.lookup("NG1 5DT", vintage=2021)))
    assert r17["ccg_code"] != r21["ccg_code"]  # April 2021 CCGs merged: Nottingham and Nottinghamshire CCG


@pytest.mark.parametrize("bad", ["2016", "abc", "17", "2017.5"])
def test_unknown_vintage_is_400_listing_the_valid_ones(client, bad):
    for url in (f"/postcodes/NG15DT?vintage={bad}", f"/footprints?vintage={bad}", f"/footprints.geojson?vintage={bad}",
                f"/footprints/E54000007?vintage={bad}", f"/points?lat=52.95&lon=-1.15&vintage={bad}"):
        r = client.get(url)
        assert r.status_code == 400, url
        body = r.json()
        assert "2017" in body["message"] and "2022" in body["message"]
        assert body["valid"] == ["2017", "2018", "2019", "2020", "2021", "2022"]


# ---------------------------------------------------------------- many postcodes


def test_bulk_keeps_every_row_in_input_order(client):
    messy = ["NG1 5DT", "sw1a1aa", "", None, "not a postcode", NOT_FOUND, "ng1 5dt", SCOTLAND, PSEUDO, "NG1 5DT"]
    r = client.post("/postcodes", json={"postcodes": messy})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(messy) == len(body["results"])
    assert body["vintage"] == 2017 and "Royal Mail" in body["attribution"]
    assert "Royal Mail" in r.headers["x-attribution"]
    assert sum(body["statuses"].values()) == len(messy)
    expected = _lookup.lookup_many(messy, vintage=2017)
    for got, (_, want) in zip(body["results"], expected.iterrows()):
        assert list(got) == KEYS
        assert _close(got, _json_equal(want.to_dict()))
    statuses = [x["status"] for x in body["results"]]
    assert statuses[0] == "ok" and statuses[4] == "invalid" and statuses[5] == "not_found"
    assert statuses[7] == "outside_england" and statuses[8] == "pseudo"
    assert body["results"][6]["postcode"] == "NG1 5DT"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(["NG1 5DT", "TD15 1AA", "SK13 8AA", "TR21 0HE", "PO30 1UD", "XX", ""]),
                          st.text(max_size=12)), max_size=40))
def test_bulk_matches_single_lookups_for_any_input(client, postcodes):
    r = client.post("/postcodes", json={"postcodes": postcodes})
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == len(postcodes)
    for pc, got in zip(postcodes, results):
        assert got["status"] == _lookup.lookup(pc)["status"]


def test_bulk_vintage_and_limits(client):
    pcs = ["NG1 5DT"] * MAX_POSTCODES
    r = client.post("/postcodes?vintage=2021", json={"postcodes": pcs})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == MAX_POSTCODES and body["vintage"] == 2021
    r = client.post("/postcodes", json={"postcodes": pcs + ["NG1 5DT"]})
    assert r.status_code == 413
    body = r.json()
    assert body["error"] == "too_many_postcodes" and "10,000" in body["message"] and body["limit"] == MAX_POSTCODES


def test_bulk_empty_list(client):
    r = client.post("/postcodes", json={"postcodes": []})
    assert r.status_code == 200 and r.json()["results"] == [] and r.json()["count"] == 0


@pytest.mark.parametrize("content", [b"{not json", b'{"postcodes": "NG1 5DT"}', b'{"postcodes": [1, 2]}', b"[]",
                                     b'{"pc": []}'])
def test_bad_bodies_are_422_json(client, content):
    r = client.post("/postcodes", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request" and body["message"].startswith("Invalid request")
    assert "Traceback" not in r.text


def test_request_body_size_limit(atlas_cache, app):
    small = create_app(max_body_bytes=2_000, _state=app.state.stpmap)  # same data, no second load
    with TestClient(small, raise_server_exceptions=False) as c:
        r = c.post("/postcodes", json={"postcodes": ["NG1 5DT"] * 500})
        assert r.status_code == 413
        body = r.json()
        assert body["error"] == "request_too_large" and "2,000 bytes" in body["message"]

        def chunks():  # no Content-Length: the body is counted as it arrives
            yield b'{"postcodes": ['
            for _ in range(400):
                yield b'"NG1 5DT",'
            yield b'"NG1 5DT"]}'

        r = c.post("/postcodes", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "request_too_large"
        r = c.post("/postcodes", json={"postcodes": ["NG1 5DT"] * 3})
        assert r.status_code == 200 and r.json()["count"] == 3


# ---------------------------------------------------------------- points


def test_points_by_lat_lon_and_easting_northing(client):
    rec = client.get("/postcodes/NG1 5DT").json()
    r = client.get("/points", params={"lat": rec["latitude"], "lon": rec["longitude"]})
    assert r.status_code == 200
    body = r.json()
    assert set(KEYS) <= set(body) and body["footprint_code"] == rec["footprint_code"]
    assert "Office for National Statistics" in r.headers["x-attribution"]
    r = client.get("/points", params={"easting": rec["easting"], "northing": rec["northing"], "vintage": "2021"})
    assert r.status_code == 200
    assert r.json()["footprint_code"] == client.get("/postcodes/NG1 5DT?vintage=2021").json()["footprint_code"]
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(rec["longitude"], rec["latitude"])
    r = client.get("/points", params={"x": x, "y": y, "crs": "EPSG:3857"})
    assert r.status_code == 200 and r.json()["footprint_code"] == rec["footprint_code"]


@pytest.mark.parametrize("query", ["", "lat=52.9", "lon=-1.1", "easting=450000", "lat=52.9&easting=450000",
                                   "lat=52.9&lon=-1.1&easting=450000&northing=340000", "x=1&y=2"])
def test_points_bad_combinations_are_400(client, query):
    r = client.get(f"/points?{query}")
    assert r.status_code == 400
    assert "lat and lon" in r.json()["message"]


@pytest.mark.parametrize("query", ["lat=abc&lon=1", "lat=91&lon=0", "lat=52&lon=200", "lat=nan&lon=0",
                                   "easting=inf&northing=1"])
def test_points_bad_numbers_are_422(client, query):
    r = client.get(f"/points?{query}")
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"


def test_points_unknown_crs_is_400(client):
    r = client.get("/points?x=1&y=2&crs=EPSG:999999")
    assert r.status_code == 400 and "crs" in r.json()["message"].lower()


def test_point_at_sea_is_answered(client):
    r = client.get("/points?lat=50.0&lon=-10.0")  # the Atlantic
    assert r.status_code == 200
    assert r.json()["status"] != "ok" or r.json()["distance_m"]


# ---------------------------------------------------------------- footprints


def test_footprint_list(client):
    body = client.get("/footprints").json()
    assert body["vintage"] == 2017 and body["count"] == 44 == len(body["footprints"])
    assert sum(f["population"] for f in body["footprints"]) == 55_619_430
    assert "Open Government" in body["attribution"] and "mid-2017" in body["population_source"]
    assert "geometry" not in body["footprints"][0]
    assert client.get("/footprints?vintage=2021").json()["count"] == 42


def test_footprint_group(client):
    body = client.get("/footprints", params={"group": "East of England"}).json()
    assert sorted(f["code"] for f in body["footprints"]) == [f"E540000{n}" for n in range(21, 27)]
    r = client.get("/footprints", params={"group": "Atlantis"})
    assert r.status_code == 400 and "East of England" in r.json()["message"]


def test_one_footprint_with_members(client):
    r = client.get("/footprints/e54000007")
    assert r.status_code == 200
    f = r.json()
    assert f["code"] == "E54000007" and f["population"] == 2_832_133
    assert len(f["ccgs"]) == f["ccg_count"] == 10
    assert {c["ods_code"] for c in f["ccgs"]} >= {"00T", "01W"}  # Bolton, Stockport
    assert "Manchester" in {la["name"] for la in f["local_authorities"]}
    assert "High Peak" in {la["name"] for la in f["local_authorities"]}  # Glossop
    west, south, east, north = f["bbox"]
    assert -3.0 < west < east < -1.7 and 53.2 < south < north < 53.8
    assert "Open Government" in f["attribution"]


def test_one_footprint_by_ods_code_2021_and_unknown(client):
    r = client.get("/footprints/qop?vintage=2021")
    assert r.status_code == 200 and r.json()["code"] == "E54000007"
    r = client.get("/footprints/E99999999")
    assert r.status_code == 404
    assert "E54000007" in r.json()["message"] and r.json()["error"] == "not_found"
    assert client.get("/footprints/E99999999.geojson").status_code == 404


def test_whole_geojson_is_light_valid_and_rounded(client):
    r = client.get("/footprints.geojson", headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert len(r.content) < 1_500_000
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 44 and fc["vintage"] == 2017
    assert "Open Government" in fc["attribution"]
    for feat in fc["features"]:
        geom = shapely.geometry.shape(feat["geometry"])
        assert geom.is_valid and not geom.is_empty
        w, s, e, n = geom.bounds
        assert -6.5 < w < e < 2.0 and 49.8 < s < n < 55.9
        assert set(feat["properties"]) >= {"code", "name", "population", "region"}
    coords = shapely.get_coordinates(shapely.geometry.shape(fc["features"][0]["geometry"]))
    assert (abs(coords * 1e5 - (coords * 1e5).round()) < 1e-6).all()  # 5 decimal places
    zipped = client.get("/footprints.geojson", headers={"accept-encoding": "gzip"})
    assert zipped.json() == fc  # httpx decodes the gzip transparently
    assert client.get("/footprints.geojson?vintage=2021").json()["features"].__len__() == 42


def test_web_geometry_keeps_shared_borders(client):
    """Neighbours still meet after simplification: no gaps or overlaps to speak of."""
    fc = client.get("/footprints.geojson").json()
    geoms = [shapely.geometry.shape(f["geometry"]) for f in fc["features"]]
    union_area = shapely.union_all(geoms).area
    assert sum(g.area for g in geoms) == pytest.approx(union_area, rel=1e-4)


def test_one_geojson_and_full_resolution(client):
    web = client.get("/footprints/E54000007.geojson").json()
    full = client.get("/footprints/E54000007.geojson?full=true").json()
    assert [f["id"] for f in web["features"]] == ["E54000007"] == [f["id"] for f in full["features"]]
    n_web = len(shapely.get_coordinates(shapely.geometry.shape(web["features"][0]["geometry"])))
    n_full = len(shapely.get_coordinates(shapely.geometry.shape(full["features"][0]["geometry"])))
    assert n_full > n_web
    group = client.get("/footprints.geojson", params={"group": "East of England"}).json()
    assert len(group["features"]) == 6



# ---------------------------------------------------------------- footprints by the names people use


@pytest.mark.parametrize("vintage, text, code, matched_by", [
    (2017, "bnssg", "E54000039", "short_name"),
    (2017, "BLMK", "E54000024", "short_name"),
    (2017, "QHG", "E54000024", "ods_code"),
    (2017, "frimley icb", "E54000034", "ons_name"),  # its 2020-2021 name: same code, same area
    (2017, "Cambridge and Peterborough", "E54000021", "nhs_name"),
    (2017, "02M", "E54000048", "ccg_ods_code"),  # a CCG of 2017: its footprint
    (2017, "e54000039", "E54000039", "code"),
    (2021, "SNEE", "E54000023", "short_name"),
    (2022, "NHS Frimley Integrated Care Board", "E54000034", "icb_name"),
    (2022, "qhg", "E54000024", "ods_code"),
])
def test_one_footprint_by_any_name_abbreviation_or_code(client, vintage, text, code, matched_by):
    from stpmap.data.aliases import resolve_footprint

    assert resolve_footprint(text, vintage).code == code  # the resolver every other tool uses
    r = client.get(f"/footprints/{text}", params={"vintage": vintage})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == code and body["vintage"] == vintage
    assert body["match"]["matched_by"] == matched_by == r.headers["x-footprint-match"]
    assert body["match"]["query"] == text and body["match"]["code"] == code and body["match"]["score"] is None
    geo = client.get(f"/footprints/{text}.geojson", params={"vintage": vintage})
    assert [f["id"] for f in geo.json()["features"]] == [code] and geo.headers["x-footprint-match"] == matched_by


def test_a_fuzzy_match_is_said_in_the_body_and_the_headers(client):
    r = client.get("/footprints/NHS Frimly ICB")
    assert r.status_code == 200 and r.json()["code"] == "E54000034"
    match = r.json()["match"]
    assert match["matched_by"] == "fuzzy" and 85 <= match["score"] <= 100 and match["alias"]
    assert r.headers["x-footprint-match"] == "fuzzy"
    assert "fuzzy match" in r.headers["x-footprint-note"] and "E54000034" in r.headers["x-footprint-note"]
    again = client.get("/footprints/NHS Frimly ICB")  # answered from what the vintage keeps
    assert again.json() == r.json() and again.headers["x-footprint-note"] == r.headers["x-footprint-note"]


def test_an_exact_code_has_no_note(client):
    r = client.get("/footprints/E54000039")
    assert r.headers["x-footprint-match"] == "code" and "x-footprint-note" not in r.headers
    assert r.json()["match"]["note"] == ""


@pytest.mark.parametrize("text, closest", [("Kent Surrey", {"Kent and Medway", "Surrey Heartlands"}),
                                           ("Greater Lincoln", {"Greater Manchester"})])
def test_an_unknown_name_is_a_404_listing_the_closest_names(client, text, closest):
    r = client.get(f"/footprints/{text}")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found" and set(body["did_you_mean"]) >= closest
    assert "Did you mean" in body["message"] and "GET /footprints?vintage=2017" in body["message"]
    assert client.get(f"/footprints/{text}.geojson").json() == body


def test_a_name_of_other_vintages_says_what_it_was_in_the_vintage_asked(client):
    r = client.get("/footprints/Cumbria and North East")  # a footprint of 2018-2019 only
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "other_vintage" and body["code"] == "E54000049" and body["vintages"] == [2018, 2019]
    assert {o["code"] for o in body["overlaps"]} == {"E54000045", "E54000046", "E54000047"}
    assert "2017" in body["message"] and "?vintage=2018" in body["message"]
    assert client.get("/footprints/Cumbria and North East", params={"vintage": 2018}).json()["code"] == "E54000049"


def test_footprint_parameter_of_the_list_and_the_geojson(client):
    r = client.get("/footprints", params=[("footprint", "bnssg"), ("footprint", "Frimly ICB"), ("footprint", "QHG")])
    assert r.status_code == 200
    body = r.json()
    assert [f["code"] for f in body["footprints"]] == ["E54000024", "E54000034", "E54000039"]  # code order
    assert [m["query"] for m in body["matches"]] == ["bnssg", "Frimly ICB", "QHG"]  # the order asked
    assert [m["matched_by"] for m in body["matches"]] == ["short_name", "fuzzy", "ods_code"]
    assert r.headers["x-footprint-match"] == "short_name, fuzzy, ods_code"
    geo = client.get("/footprints.geojson", params=[("footprint", "BLMK"), ("footprint", "QHG")])
    assert [f["id"] for f in geo.json()["features"]] == ["E54000024"]
    assert geo.headers["x-footprint-match"] == "short_name, ods_code"
    assert "matches" not in client.get("/footprints").json()


def test_footprint_parameter_refusals(client):
    r = client.get("/footprints", params={"footprint": "Kent Surrey"})
    assert r.status_code == 422 and r.json()["error"] == "not_found" and "Kent and Medway" in r.json()["did_you_mean"]
    r = client.get("/footprints.geojson", params={"footprint": "Cumbria and North East"})
    assert r.status_code == 422 and r.json()["error"] == "other_vintage"
    r = client.get("/footprints", params={"footprint": "BNSSG", "group": "London"})
    assert r.status_code == 400 and "not both" in r.json()["message"]


def test_the_match_is_described_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json()
    one = spec["paths"]["/footprints/{code}"]["get"]
    assert set(one["responses"]["200"]["headers"]) == {"X-Footprint-Match", "X-Footprint-Note"}
    assert one["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/FootprintError")
    match = spec["components"]["schemas"]["FootprintMatch"]["properties"]["matched_by"]
    assert {"fuzzy", "code", "ods_code", "abbreviation", "ccg_ods_code"} <= set(match["enum"])
    assert "match" in spec["components"]["schemas"]["FootprintDetail"]["required"]
    listing = [p for p in spec["paths"]["/footprints"]["get"]["parameters"] if p["name"] == "footprint"][0]
    assert listing["schema"]["anyOf"][0]["type"] == "array" and "BNSSG" in listing["description"]


# ---------------------------------------------------------------- page, docs, errors, CORS


def test_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'id="postcode"' in html and "static/leaflet/leaflet.js" in html
    assert '"vintages": [2017, 2018, 2019, 2020, 2021, 2022]' in html and "Royal Mail" in html
    assert "{{CONFIG}}" not in html
    for src in ("src=\"http", "href=\"http://", "unpkg", "cdn"):
        assert src not in html.replace('href="https://leafletjs.com"', "")
    assert client.get("/static/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/leaflet/leaflet.css").status_code == 200
    assert "textContent" in client.get("/static/serve/app.js").text
    assert client.get("/static/serve/app.css").status_code == 200
    r = client.get("/static/serve/missing.js")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_docs_and_openapi(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    for asset in ("/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css"):
        assert asset in docs.text  # served by stpmap, not a CDN
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 100_000, asset
    spec = client.get("/openapi.json").json()
    for path in ("/postcodes/{postcode}", "/postcodes", "/points", "/footprints", "/footprints/{code}",
                 "/footprints/{code}.geojson", "/footprints.geojson"):
        assert path in spec["paths"], path
    vintage = [p for p in spec["paths"]["/footprints"]["get"]["parameters"] if p["name"] == "vintage"][0]
    assert vintage["schema"]["enum"] == ["2017", "2018", "2019", "2020", "2021", "2022"] or "2017" in json.dumps(vintage)


#: Every operation of the OpenAPI description, in order, as the app listed them before it was split into routers.
OPERATIONS = [("/postcodes/{postcode}", "get"), ("/postcodes", "post"), ("/points", "get"), ("/footprints", "get"),
              ("/footprints.geojson", "get"), ("/footprints/{code}.geojson", "get"), ("/footprints/{code}", "get"),
              ("/health", "get")]


def test_openapi_lists_the_same_paths_and_methods(client):
    spec = client.get("/openapi.json").json()
    assert [(path, method) for path, item in spec["paths"].items() for method in item] == OPERATIONS


@pytest.mark.parametrize("default", [2017, 2021])
def test_every_vintage_parameter_gives_the_vintages_and_the_app_default(atlas_cache, default):
    spec = create_app(default).openapi()
    params = [p for item in spec["paths"].values() for op in item.values() for p in op.get("parameters", ())
              if p["name"] == "vintage"]
    assert len(params) == len(OPERATIONS) - 1  # all but /health
    for p in params:
        assert p["in"] == "query" and p["schema"]["enum"] == ["2017", "2018", "2019", "2020", "2021", "2022"]
        assert p["description"] == p["schema"]["description"] == (
            f"Vintage of the geography: 2017 or 2018 or 2019 or 2020 or 2021 or 2022 (default {default}). An unknown one is a 400 that lists the valid ones.")


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["vintages"] == [2017, 2018, 2019, 2020, 2021, 2022]
    assert body["postcode_index"] == {str(v): True for v in range(2017, 2023)}
    assert body["startup_seconds"] > 0


@pytest.mark.parametrize("method, url, code", [("GET", "/nowhere", 404), ("DELETE", "/footprints", 405),
                                               ("PUT", "/postcodes", 405), ("GET", "/postcodes", 405),
                                               ("GET", "/postcodes/", 404), ("GET", "/footprints/", 404)])
def test_routing_errors_are_json(client, method, url, code):
    r = client.request(method, url)
    assert r.status_code == code
    body = r.json()
    assert body["error"] and body["message"]


def test_internal_errors_are_json_without_traceback(atlas_cache, app):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    broken = types.SimpleNamespace(RESULT_KEYS=_lookup.RESULT_KEYS, lookup=boom, lookup_many=boom, locate=boom,
                                   index=lambda vintage=None: None)
    bad = create_app(lookup_module=broken)
    bad.state.stpmap.data = app.state.stpmap.data
    bad.state.stpmap.indexed = {v: True for v in range(2017, 2023)}
    bad.state.stpmap.loaded = True
    with TestClient(bad, raise_server_exceptions=False) as c:
        for r in (c.get("/postcodes/NG15DT"), c.post("/postcodes", json={"postcodes": ["NG1 5DT"]}),
                  c.get("/points?lat=52&lon=-1")):
            assert r.status_code == 500
            assert r.json()["error"] == "internal_error"
            assert "secret" not in r.text and "Traceback" not in r.text


def test_cors_is_off_by_default_and_configurable(client, app, atlas_cache):
    r = client.get("/footprints", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in r.headers
    cors = create_app(cors_origins=["https://intranet.example.nhs.uk"], _state=app.state.stpmap)
    with TestClient(cors, raise_server_exceptions=False) as c:
        r = c.get("/postcodes/NG15DT", headers={"Origin": "https://intranet.example.nhs.uk"})
        assert r.headers["access-control-allow-origin"] == "https://intranet.example.nhs.uk"
        assert "x-attribution" in r.headers["access-control-expose-headers"].lower()
        pre = c.options("/postcodes", headers={"Origin": "https://intranet.example.nhs.uk",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200
        r = c.get("/footprints", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in r.headers


# ---------------------------------------------------------------- CLI


def test_cli_serve_options_and_bad_vintage():
    from stpmap.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["serve", "--help"]).output
    for opt in ("--host", "--port", "--vintage", "--cors-origin", "--workers"):
        assert opt in out
    res = runner.invoke(main, ["serve", "--vintage", "2016"])
    assert res.exit_code == 2 and "2017, 2018, 2019, 2020, 2021, 2022" in res.output


# ---------------------------------------------------------------- hardening (issue 18)


def _broken_app(app, **kwargs):
    """An app whose lookups all raise (same data as ``app``): every postcode route answers 500."""
    def boom(*args, **kw):
        raise RuntimeError("secret internals /etc/passwd")

    broken = types.SimpleNamespace(RESULT_KEYS=_lookup.RESULT_KEYS, lookup=boom, lookup_many=boom, locate=boom,
                                   index=lambda vintage=None: None)
    bad = create_app(lookup_module=broken, **kwargs)
    bad.state.stpmap.data = app.state.stpmap.data
    bad.state.stpmap.indexed = {v: True for v in app.state.stpmap.indexed}
    bad.state.stpmap.loaded = True
    return bad


ORIGIN = "https://intranet.example.nhs.uk"
LONG_URL = "/postcodes/" + "A" * 60_000  # httpx sends no URL over 64 KiB: 100 kB ones go to a real server (test_server)
#: (method, url, body, headers, status): one request for each kind of answer, errors included.
EVERY_KIND = [
    ("GET", "/postcodes/NG15DT", None, {}, 200),
    ("GET", "/postcodes/not-a-postcode", None, {}, 400),
    ("GET", "/footprints?vintage=2016", None, {}, 400),
    ("GET", f"/postcodes/{NOT_FOUND}", None, {}, 404),
    ("GET", "/nowhere", None, {}, 404),
    ("DELETE", "/footprints", None, {}, 405),
    ("POST", "/postcodes", {"postcodes": ["NG1 5DT"] * (MAX_POSTCODES + 1)}, {}, 413),
    ("POST", "/postcodes", {"postcodes": ["NG1 5DT"] * 90_000}, {}, 413),  # over the 1 MiB body limit
    ("GET", LONG_URL, None, {}, 414),
    ("GET", "/postcodes/NG15DT", None, {"X-Big": "A" * 40_000}, 431),
    ("POST", "/postcodes", {"postcodes": "NG1 5DT"}, {}, 422),
    ("GET", "/footprints.geojson", None, {}, 200),
    ("GET", "/static/leaflet/leaflet.js", None, {}, 200),
    ("GET", "/openapi.json", None, {}, 200),
]


def _send(c, method, url, body, headers):
    return c.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("method, url, body, headers, status", EVERY_KIND, ids=[f"{k[4]} {k[1][:30]}" for k in EVERY_KIND])
def test_every_answer_has_the_security_headers(client, method, url, body, headers, status):
    r = _send(client, method, url, body, headers)
    assert r.status_code == status
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    if status >= 400:
        assert r.headers["content-type"] == "application/json" and r.json()["message"]


def test_internal_errors_have_the_security_headers(atlas_cache, app):
    with TestClient(_broken_app(app), raise_server_exceptions=False) as c:
        r = c.get("/postcodes/NG15DT")
        assert r.status_code == 500 and r.json()["error"] == "internal_error"
        assert r.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_page_and_docs_have_their_own_policies(client):
    page = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in page and "style-src 'self';" in page and "connect-src 'self'" in page
    docs = client.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    import base64
    import hashlib
    import re

    (inline,) = re.findall(r"<script>(.*?)</script>", docs.text, re.S)  # FastAPI's start of Swagger UI
    assert f"'sha256-{base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()}'" in policy


@pytest.fixture(scope="module")
def cors_client(app, atlas_cache):
    with TestClient(create_app(cors_origins=[ORIGIN], _state=app.state.stpmap), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("method, url, body, headers, status", EVERY_KIND, ids=[f"{k[4]} {k[1][:30]}" for k in EVERY_KIND])
def test_cors_headers_on_every_answer(cors_client, method, url, body, headers, status):
    r = _send(cors_client, method, url, body, {**headers, "Origin": ORIGIN})
    assert r.status_code == status
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["x-content-type-options"] == "nosniff"


def test_cors_headers_on_internal_errors(atlas_cache, app):
    with TestClient(_broken_app(app, cors_origins=[ORIGIN]), raise_server_exceptions=False) as c:
        for r in (c.get("/postcodes/NG15DT", headers={"Origin": ORIGIN}),
                  c.post("/postcodes", json={"postcodes": ["NG1 5DT"]}, headers={"Origin": ORIGIN})):
            assert r.status_code == 500 and r.json()["error"] == "internal_error"
            assert r.headers["access-control-allow-origin"] == ORIGIN
            assert "secret" not in r.text


def test_long_url_and_large_headers_are_json_errors_naming_the_limit(client):
    r = client.get(LONG_URL)
    assert r.status_code == 414
    body = r.json()
    assert body["error"] == "url_too_long" and body["limit_bytes"] == 8192
    assert "60,011 bytes" in body["message"] and "POST /postcodes" in body["message"]
    assert client.get("/postcodes/NG15DT?x=" + "a" * 8000).status_code == 200  # just under the limit
    r = client.get("/postcodes/NG15DT", headers={"X-Big": "A" * 40_000})
    assert r.status_code == 431 and r.json()["error"] == "headers_too_large" and "32,768" in r.json()["message"]


# ---------------------------------------------------------------- bulk body: vintage and unknown keys


@pytest.mark.parametrize("given", [2021, "2021"])
def test_bulk_vintage_in_the_body_is_honoured(client, given):
    r = client.post("/postcodes", json={"postcodes": ["NG1 5DT"], "vintage": given})
    assert r.status_code == 200
    body = r.json()
    assert body["vintage"] == 2021
    assert body["results"][0]["ccg_code"] == client.get("/postcodes/NG1 5DT?vintage=2021").json()["ccg_code"]
    r = client.post("/postcodes?vintage=2021", json={"postcodes": ["NG1 5DT"], "vintage": given})
    assert r.status_code == 200 and r.json()["vintage"] == 2021  # the same vintage twice is fine


def test_bulk_vintage_in_body_and_query_must_agree(client):
    r = client.post("/postcodes?vintage=2017", json={"postcodes": ["NG1 5DT"], "vintage": 2021})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "bad_request"
    assert "2021" in body["message"] and "2017" in body["message"] and "?vintage=" in body["message"]


@pytest.mark.parametrize("given", [2016, "2016", "abc", ""])
def test_bulk_unknown_vintage_in_the_body_is_400_listing_the_valid_ones(client, given):
    r = client.post("/postcodes", json={"postcodes": ["NG1 5DT"], "vintage": given})
    assert r.status_code == 400
    assert r.json()["valid"] == ["2017", "2018", "2019", "2020", "2021", "2022"] and "2017" in r.json()["message"]


@pytest.mark.parametrize("given", [True, 2021.0, [2021], {"v": 2021}])
def test_bulk_vintage_of_the_wrong_type_is_422(client, given):
    r = client.post("/postcodes", json={"postcodes": ["NG1 5DT"], "vintage": given})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("extra", [{"vintag": 2021}, {"Vintage": 2021, "format": "csv"}, {"postcode": "NG1 5DT"}])
def test_bulk_unknown_keys_are_400_naming_the_allowed_ones(client, extra):
    r = client.post("/postcodes", json={"postcodes": ["NG1 5DT"], **extra})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "bad_request" and body["unknown"] == list(extra) and body["allowed"] == ["postcodes", "vintage"]
    for key in extra:
        assert repr(key) in body["message"]
    assert "postcodes and vintage" in body["message"]


def test_bulk_unknown_key_beside_another_problem_is_422_naming_the_allowed_ones(client):
    r = client.post("/postcodes", json={"pc": ["NG1 5DT"]})
    assert r.status_code == 422
    problems = {p["where"]: p["problem"] for p in r.json()["errors"]}
    assert problems["body pc"] == "unknown key; the keys allowed are postcodes and vintage"
    assert "body postcodes" in problems


def test_openapi_describes_the_bulk_body_exactly(client):
    spec = client.get("/openapi.json").json()
    body = spec["components"]["schemas"]["PostcodesIn"]
    assert body["additionalProperties"] is False and body["required"] == ["postcodes"]
    branches = {b.get("type"): b.get("enum") for b in body["properties"]["vintage"]["anyOf"]}
    vintages = __import__("stpmap.data.registry", fromlist=["registry"]).registry().vintages
    assert branches == {"integer": vintages, "string": [str(v) for v in vintages], "null": None}
    assert "differ" in body["properties"]["vintage"]["description"]


# ---------------------------------------------------------------- the fast single-lookup route


@pytest.fixture(scope="module")
def documented_client(app):
    """Only the FastAPI routes of the postcode endpoints (no fast route), on the same data."""
    from fastapi import FastAPI

    from stpmap.serve import routes_postcodes
    from stpmap.serve.errors import add_exception_handlers

    plain = FastAPI(routes=list(routes_postcodes.router.routes))
    plain.state.stpmap = app.state.stpmap
    add_exception_handlers(plain)
    with TestClient(plain, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("url", [
    "/postcodes/NG1%205DT", "/postcodes/ng15dt?vintage=2021", f"/postcodes/{NOT_FOUND}", "/postcodes/hello",
    f"/postcodes/{SCOTLAND}?vintage=2017", f"/postcodes/{PSEUDO}", "/postcodes/NG15DT?vintage=",
    "/postcodes/NG15DT?vintage=2016", "/postcodes/NG15DT?vintage=2017&vintage=2021", "/postcodes/NG15DT?other=1",
    "/postcodes/%3Cimg%20src%3Dx%3E", "/postcodes/%20",
])
def test_fast_lookup_route_answers_as_the_documented_route(client, documented_client, url):
    fast, documented = client.get(url), documented_client.get(url)
    assert fast.status_code == documented.status_code
    assert fast.json() == documented.json()
    assert fast.headers.get("x-attribution") == documented.headers.get("x-attribution")


def test_fast_lookup_route_keeps_the_methods_of_the_documented_route(client):
    assert client.head("/postcodes/NG15DT").status_code == 405
    assert client.post("/postcodes/NG15DT").status_code == 405
