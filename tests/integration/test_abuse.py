"""Abuse through nginx: shared rate limits, private targets, headers, what is not public."""

import http.client
import json
import socket
import time

import pytest
import requests

from support import db, disposable_stack, follow

LIMIT = 5


@pytest.fixture(scope="module")
def stack():
    """Two replicas with a tight creation limit and private targets refused."""
    env = {"LINK_CREATE_RATE_LIMIT": f"{LIMIT}/minute", "BLOCK_PRIVATE_TARGETS": "true"}
    with disposable_stack(replicas=2, workers=1, env=env) as running:
        yield running


def test_creation_limit_is_shared_by_all_replicas_and_cannot_be_dodged(stack):
    served_by = set()
    for i in range(LIMIT):
        response = requests.post(f"{stack.url}/api/v1/links", json={"url": f"https://example.com/{i}"}, timeout=5)
        assert response.status_code == 201, response.text
        served_by.add(response.headers["X-Served-By"])
    assert served_by == {"app-1", "app-2"}  # the count is in Redis, not in one replica

    # A made-up X-Forwarded-For does not give a fresh allowance: nginx appends the real address.
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/over"},
                             headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5)
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert "," not in response.headers["Retry-After"]  # one Retry-After: nginx does not add its own
    assert f"{LIMIT} per 1 minute" in response.json()["detail"]


def test_redirects_are_not_rate_limited(stack):
    with db(stack) as conn:  # stored directly: this module's creation allowance may be spent
        conn.execute("INSERT INTO links (code, url) VALUES ('free-ride', 'https://example.com/r')")
    assert [follow(stack, "free-ride").status_code for _ in range(60)] == [302] * 60


@pytest.mark.parametrize("client, url", [("127.0.0.11", "http://127.0.0.1:6379/"),
                                         ("127.0.0.12", "http://169.254.169.254/latest/meta-data"),
                                         ("127.0.0.13", "http://localhost/admin"), ("127.0.0.14", "http://[::1]/")])
def test_private_targets_are_refused(stack, client, url):
    # Each case from a loopback address of its own: the creation limit is per client, and the
    # test above spent this machine's usual address's allowance.
    connection = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=5, source_address=(client, 0))
    connection.request("POST", "/api/v1/links", body=json.dumps({"url": url}),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 422, body
    assert "private or local" in body["detail"]


def test_security_headers_and_no_version_banner(stack):
    for path in ("/", "/static/style.css", "/nope-nope"):
        response = requests.get(f"{stack.url}{path}", timeout=5)
        assert response.headers["Server"] == "nginx", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path


def test_metrics_are_not_public_but_each_replica_has_them(stack):
    assert requests.get(f"{stack.url}/metrics", timeout=5).status_code == 404
    replica = requests.get(f"http://127.0.0.1:{stack.app_ports['app-1']}/metrics", timeout=5)
    assert "shortstack_http_requests_total" in replica.text


def test_slow_clients_are_cut_off_by_nginx(stack):
    """A slowloris connection is held by nginx (not a replica) and closed after its header timeout."""
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=20) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        started = time.monotonic()
        assert requests.get(f"{stack.url}/healthz", timeout=5).status_code == 200  # others are served meanwhile
        closed = slow.recv(1024)  # nginx answers 408 or just closes
        waited = time.monotonic() - started
    assert closed == b"" or closed.startswith(b"HTTP/1.1 408")
    assert 5 < waited < 15
