"""A local stand-in for the ONS ArcGIS REST FeatureServer ``query`` endpoint.

It answers ``{base}/{service}/FeatureServer/0/query`` for every dataset in the
registry that has a service, from the file of that dataset in the mirror, with
paging (``resultOffset``/``resultRecordCount``, ``exceededTransferLimit``),
``returnCountOnly``, and GeoJSON or Esri JSON output. Faults can be injected
to test retries, time-outs and truncated answers.
"""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


class FakeArcGIS:
    def __init__(self, mirror: Path, max_page: int = 1000):
        from stpmap.data.registry import registry
        from stpmap.data.sources import find_in_mirror

        self.mirror = Path(mirror)
        self.max_page = max_page
        self.services = {}
        for ds in registry().datasets.values():
            if ds.service:
                self.services[ds.service] = find_in_mirror(ds, self.mirror)
        self.requests: list[dict] = []
        # fault injection
        self.fail_first = 0          # answer the first N requests with fail_status
        self.fail_status = 503
        self.fail_after = None       # answer every request after the first N with fail_status
        self.error_body_first = 0    # answer the first N requests with an ArcGIS JSON error body
        self.garbage_first = 0       # answer the first N requests with HTTP 200 and a body that is not JSON
        self.retry_after = None      # Retry-After header (seconds, as text) sent with injected failures
        self.delay = 0.0             # seconds to sleep before answering
        self.count_offset = 0        # added to the reported count
        self.drop_last_page = False  # claim no more features before the end
        self._server = None

    # -------------------------------------------------------------- data
    @lru_cache(maxsize=None)
    def _features(self, service: str, geojson: bool) -> list:
        path = self.services[service]
        if path.suffix.lower() in (".shp", ".geojson", ".json"):
            import geopandas as gpd

            gdf = gpd.read_file(path)
            if gdf.crs is None:
                gdf = gdf.set_crs(27700)
            fc = json.loads(gdf.to_crs(4326).to_json(drop_id=True))
            feats = fc["features"]
            if not geojson:
                feats = [{"attributes": f["properties"]} for f in feats]
            return feats
        import pandas as pd

        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        rows = df.to_dict(orient="records")
        if geojson:
            return [{"type": "Feature", "properties": r, "geometry": None} for r in rows]
        return [{"attributes": r} for r in rows]

    # -------------------------------------------------------------- http
    def handle(self, path: str, query: dict) -> tuple[int, dict | str]:
        n = len(self.requests)
        self.requests.append({"path": path, **query})
        if self.delay:
            time.sleep(self.delay)
        if n < self.fail_first or (self.fail_after is not None and n >= self.fail_after):
            return self.fail_status, {"message": "injected failure"}
        if n < self.error_body_first:
            return 200, {"error": {"code": 500, "message": "Error performing query operation"}}
        if n < self.garbage_first:
            return 200, "<html><body>Service Unavailable</body></html>"
        parts = path.strip("/").split("/")
        try:
            i = parts.index("FeatureServer")
            service = parts[i - 1]
        except ValueError:
            return 404, {"error": {"code": 404, "message": "not found"}}
        if service not in self.services or parts[-1] != "query":
            return 200, {"error": {"code": 400, "message": "Invalid URL"}}
        fmt = query.get("f", "json")
        feats = self._features(service, fmt == "geojson")
        if query.get("returnCountOnly") == "true":
            return 200, {"count": len(feats) + self.count_offset}
        offset = int(query.get("resultOffset", 0))
        size = min(int(query.get("resultRecordCount", self.max_page)), self.max_page)
        page = feats[offset : offset + size]
        more = offset + size < len(feats)
        if self.drop_last_page and offset + 2 * size >= len(feats):
            more = False
        if fmt == "geojson":
            return 200, {"type": "FeatureCollection", "features": page, "properties": {"exceededTransferLimit": more}}
        return 200, {"features": page, "exceededTransferLimit": more}

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                status, body = fake.handle(u.path, q)
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if fake.retry_after is not None and status == fake.fail_status:
                        self.send_header("Retry-After", fake.retry_after)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address
        self.url = f"http://{host}:{port}/arcgis/rest/services"
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
