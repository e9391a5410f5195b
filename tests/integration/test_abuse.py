"""Abuse through nginx: shared rate limits, private targets, headers, what is not public."""

import http.client
import json
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.support import csrf_token, db, disposable_stack, follow

LIMIT = 5


@pytest.fixture(scope="module")
def stack():
    """Two replicas with a tight creation limit and private targets refused; no PUBLIC_BASE_URL
    (the compose default), so the replicas learn their host from each request."""
    env = {"LINK_CREATE_RATE_LIMIT": f"{LIMIT}/minute", "BLOCK_PRIVATE_TARGETS": "true", "PUBLIC_BASE_URL": ""}
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


PRIVATE_TARGETS = ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data", "http://localhost/admin",
                   "http://[::1]/", "http://127%2e0%2e0%2e1/", "http://192%2E168%2E1%2E1/", "http://0x7f.1/",
                   "http://localhost.localdomain/", "http://127.0.0.1.nip.io/", "http://[64:ff9b::7f00:1]/",
                   "http://10.0.0.1\\@example.com/"]


def post_link(client: str, body: dict, **headers: str) -> tuple[int, dict]:
    """POST a link from the loopback address `client`: the creation limit is per client, and the
    first test spent this machine's usual address's allowance."""
    connection = http.client.HTTPConnection("127.0.0.1", headers.pop("port"), timeout=5, source_address=(client, 0))
    connection.request("POST", "/api/v1/links", body=json.dumps(body),
                       headers={"Content-Type": "application/json", **headers})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


@pytest.mark.parametrize("number, url", list(enumerate(PRIVATE_TARGETS)))
def test_private_targets_are_refused_however_written(stack, number, url):
    # As reached by a public name: to a shortener on 127.0.0.1 these would be links to itself.
    status, body = post_link(f"127.0.1.{number + 1}", {"url": url}, Host="sho.rt.example", port=stack.http_port)
    assert status == 422, body
    assert "private or local" in body["detail"]


def test_forwarded_host_headers_from_a_client_are_not_believed(stack):
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "666", "port": stack.http_port}
    status, link = post_link("127.0.2.1", {"url": "https://example.com/fine"}, **forged)
    assert status == 201, link
    assert link["short_url"] == f"{stack.url}/{link['code']}"
    # Nor does a forged host let a link point back at this shortener (a redirect loop).
    for number, url in enumerate([f"{stack.url}/{link['code']}", f"http://127.1:{stack.http_port}/x",
                                  f"http://LOCALHOST.:{stack.http_port}/x"]):
        status, body = post_link(f"127.0.2.{number + 2}", {"url": url}, **forged)
        assert status == 422, body
        assert "itself" in body["detail"]


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


class Browser:
    """A cookie-keeping client on one loopback address of its own (the limits are per address)."""

    def __init__(self, stack, address: str) -> None:
        self.port, self.address, self.cookie = stack.http_port, address, ""

    def send(self, method: str, path: str, body: str = "", content_type: str = "") -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5, source_address=(self.address, 0))
        headers = {"Cookie": self.cookie, **({"Content-Type": content_type} if content_type else {})}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        self.cookie = (response.getheader("Set-Cookie") or self.cookie).split(";")[0]
        connection.close()
        return response.status, text

    def shorten(self, url: str) -> int:
        token = csrf_token(self.send("GET", "/")[1])
        form = urllib.parse.urlencode({"csrf_token": token, "url": url, "expires_in": ""})
        return self.send("POST", "/", form, "application/x-www-form-urlencoded")[0]

    def create(self, url: str) -> int:
        return self.send("POST", "/api/v1/links", json.dumps({"url": url}), "application/json")[0]


def test_the_form_and_the_api_draw_on_one_allowance(stack):
    browser = Browser(stack, "127.0.4.1")
    made = [browser.create("https://example.com/api/1"), browser.shorten("https://example.com/form/1"),
            browser.create("https://example.com/api/2"), browser.shorten("https://example.com/form/2"),
            browser.create("https://example.com/api/3")]
    assert made == [201, 200, 201, 200, 201]
    assert browser.shorten("https://example.com/form/3") == 429
    assert browser.create("https://example.com/api/4") == 429


def test_form_posts_are_under_nginx_edge_limit(stack):
    # Without their CSRF token these never reach a view (400): what refuses them with 429 is nginx.
    browser = Browser(stack, "127.0.4.2")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: browser.send("POST", "/", "url=x", "application/x-www-form-urlencoded"),
                                range(200)))
    statuses = [status for status, _ in answers]
    assert set(statuses) == {400, 429}, set(statuses)
    assert "Served by nginx" in next(text for status, text in answers if status == 429)
    assert browser.send("GET", "/")[0] == 200  # pages are not limited
