import socket

import pytest
import requests

from conftest import NetworkBlocked


def test_outside_connection_is_refused():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_name_lookup_is_refused():
    with pytest.raises(Exception, match="may not use the network"):
        requests.get("https://geoportal.statistics.gov.uk/", timeout=1)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    conn, _ = server.accept()
    client.sendall(b"hi")
    assert conn.recv(2) == b"hi"
    for s in (client, conn, server):
        s.close()
