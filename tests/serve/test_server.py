"""`stpmap serve` through uvicorn: what the HTTP parser refuses is answered in
JSON too, and `--workers N` runs N processes that each load the data.

Requests are written on raw sockets: HTTP clients refuse to send what these
tests need (a 100 kB URL, a 2 MB header, a request that is not HTTP).
"""

from __future__ import annotations

import json
import os
import socket
from urllib.parse import urlparse

import httpx
import pytest
from serve_process import CORS_ORIGIN, running_server, cors_server

server = pytest.fixture(scope="module", name="server")(cors_server)


def _exchange(base: str, request: bytes) -> tuple[int, dict, bytes]:
    """Send ``request`` as it is; (status, headers in lower case, body) of the answer, read to the close."""
    url = urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):  # refused before it was all sent: the answer is there
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _assert_json_error(headers: dict, body: bytes, error: str) -> dict:
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    doc = json.loads(body)
    assert doc["error"] == error and doc["message"]
    return doc


@pytest.mark.parametrize("size", [10_000, 70_000, 100_000])
def test_long_url_is_a_json_414_with_cors(server, size):
    """Past 65,535 bytes httptools cannot parse a URL (uvicorn would answer a text/plain 400)."""
    request = (b"GET /postcodes/" + b"A" * size + b" HTTP/1.1\r\nHost: x\r\nOrigin: " + CORS_ORIGIN.encode()
               + b"\r\nConnection: close\r\n\r\n")
    status, headers, body = _exchange(server, request)
    assert status == 414
    doc = _assert_json_error(headers, body, "url_too_long")
    assert f"{size + 11:,} bytes" in doc["message"] and doc["limit_bytes"] == 8192
    assert headers["access-control-allow-origin"] == CORS_ORIGIN


def test_large_headers_are_a_json_431(server):
    status, headers, body = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nOrigin: " + CORS_ORIGIN.encode()
                                      + b"\r\nX-Big: " + b"A" * 40_000 + b"\r\nConnection: close\r\n\r\n")
    assert status == 431 and headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "32,768" in _assert_json_error(headers, body, "headers_too_large")["message"]
    # a head over 1 MiB is refused by the server as it arrives, without being held whole
    status, headers, body = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 2_000_000 + b"\r\n\r\n")
    assert status == 431 and "1,048,576" in _assert_json_error(headers, body, "headers_too_large")["message"]


@pytest.mark.parametrize("request_bytes", [b"GET /he llo HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
                                           b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"])
def test_requests_the_parser_refuses_are_a_json_400(server, request_bytes):
    status, headers, body = _exchange(server, request_bytes)
    assert status == 400
    _assert_json_error(headers, body, "bad_request")


def test_the_server_still_answers_after_refusals(server):
    r = httpx.get(server + "/postcodes/NG1%205DT")
    assert r.status_code == 200 and r.json()["status"] == "ok"


# ---------------------------------------------------------------- --workers


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _is_worker(pid: int) -> bool:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return b"spawn_main" in f.read()


def test_workers_each_load_the_data_and_answer(atlas_cache):
    with running_server("--workers", "2", "--cors-origin", CORS_ORIGIN) as (proc, base):
        workers = [p for p in _children(proc.pid) if _is_worker(p)]
        assert len(workers) == 2
        expected = httpx.get(base + "/postcodes/NG1%205DT?vintage=2021").json()
        for _ in range(20):  # a new connection each time: the kernel hands them to either worker
            r = httpx.get(base + "/postcodes/NG1%205DT?vintage=2021", headers={"Origin": CORS_ORIGIN})
            assert r.status_code == 200 and r.json() == expected
            assert r.headers["access-control-allow-origin"] == CORS_ORIGIN  # the workers have the settings
        health = httpx.get(base + "/health").json()
        assert health["postcode_index"] == {str(v): True for v in (2017, 2018, 2019, 2020, 2021, 2022)}
        assert all(_rss_mb(p) > 150 for p in workers)  # each holds its own copy of the data
        assert _rss_mb(proc.pid) < 120  # the parent only watches them: the caches were prepared in a process that ended
