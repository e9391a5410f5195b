"""Errors a client provokes, whichever tier refuses them, answered in the stack's own form: a
problem+json under /api/, the error page elsewhere, with a 4xx status.

Its own stack without PUBLIC_BASE_URL, as compose runs by default: every Host reaches the app.
"""

import json
import socket

import pytest
import requests

from tests.integration.support import create_link, disposable_stack

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def stack():
    with disposable_stack(replicas=1, workers=0, env={"PUBLIC_BASE_URL": "",
                                                      "LINK_CREATE_RATE_LIMIT": "100000/minute"}) as running:
        yield running


def exchange(stack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (what no HTTP library would send) and read the answer until nginx closes."""
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def get(stack, target: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    lines = "".join(f"{h}\r\n" for h in ("Host: 127.0.0.1", "Connection: close", *headers))
    return exchange(stack, f"GET {target} HTTP/1.1\r\n{lines}\r\n".encode())


def post(stack, target: str, body: bytes, *headers: str) -> tuple[int, dict[str, str], bytes]:
    lines = "".join(f"{h}\r\n" for h in ("Host: 127.0.0.1", "Connection: close", *headers))
    return exchange(stack, f"POST {target} HTTP/1.1\r\n{lines}\r\n".encode() + body)


def assert_stack_form(target: str, status: int, headers: dict[str, str], body: bytes, expected: int,
                      words: str) -> None:
    assert status == expected, body[:300]
    if target.startswith("/api/"):
        assert headers["content-type"] == PROBLEM
        problem = json.loads(body)
        assert problem["status"] == expected and words in problem["detail"]
    else:
        assert headers["content-type"].startswith("text/html")
        assert b"Shortstack" in body and words.encode() in body
    assert "x-request-id" in headers  # the stack's headers, not a bare server page


@pytest.mark.parametrize("target", ["/abcdefg?t=", "/api/v1/links/abcdefg?t="])
@pytest.mark.parametrize("length", [4080, 6000, 9000])
def test_a_request_line_over_4_kib_is_refused_by_nginx_in_the_stacks_form(stack, target, length):
    status, headers, body = get(stack, target + "a" * length)
    assert_stack_form(target, status, headers, body, 414, "longer than this service accepts")


def test_a_request_line_just_under_the_limit_reaches_the_link(stack):
    code = create_link(stack, url="https://example.com/long-query")["code"]
    status, headers, _ = get(stack, f"/{code}?t=" + "a" * 3900)
    assert status == 302 and headers["location"] == "https://example.com/long-query?t=" + "a" * 3900


@pytest.mark.parametrize("target", ["/", "/api/v1/links/abcdefg"])
def test_a_header_line_over_4_kib_is_431_in_the_stacks_form(stack, target):
    status, headers, body = get(stack, target, "X-Big: " + "b" * 5000)
    assert_stack_form(target, status, headers, body, 431, "header is longer")


def test_many_small_headers_reach_the_app(stack):
    status, headers, _ = get(stack, "/api/v1/links/abcdefg", *(f"X-H{i}: v" for i in range(300)))
    assert status == 404 and headers["content-type"] == PROBLEM and headers["x-served-by"] == "app-1"


@pytest.mark.parametrize("target", ["/", "/api/v1/links"])
@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "identity", "chunked, chunked"])
def test_an_unknown_transfer_encoding_is_400_in_the_stacks_form(stack, target, coding):
    status, headers, body = post(stack, target, b"5\r\nhello\r\n0\r\n\r\n", f"Transfer-Encoding: {coding}",
                                 "Content-Type: application/json")
    assert_stack_form(target, status, headers, body, 400, "Transfer-Encoding")


def test_an_api_body_over_the_balancers_limit_is_413_in_the_problem_form(stack):
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/" + "a" * 70_000},
                             timeout=10)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM and "64 KiB" in response.json()["detail"]


def test_a_form_body_over_the_balancers_limit_is_413_in_the_page_form(stack):
    response = requests.post(f"{stack.url}/", data={"url": "https://example.com/" + "a" * 70_000}, timeout=10)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html") and "64 KiB" in response.text


@pytest.mark.parametrize("request_line, status", [("GET /static/no-such-file.css", 404), ("GET /metrics", 404),
                                                  ("GET /errors/5xx.html", 404), ("POST /static/style.css", 405)])
def test_what_nginx_serves_itself_fails_in_the_page_form(stack, request_line, status):
    answer = exchange(stack, f"{request_line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                      .encode())
    assert_stack_form(request_line.split()[1], *answer, status, "")


def test_http_1_0_without_host_is_refused_not_given_the_replicas_bind_address(stack):
    body = b'{"url": "https://example.com/no-host"}'
    status, headers, reply = exchange(stack, b"POST /api/v1/links HTTP/1.0\r\nContent-Type: application/json\r\n"
                                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert status == 400 and headers["content-type"] == PROBLEM, reply
    assert b"Host header" in reply and b"0.0.0.0" not in reply
    # With a Host, the same request works, and the short link names that host.
    status, _, reply = exchange(stack, b"POST /api/v1/links HTTP/1.0\r\nHost: sho.rt.example\r\n"
                                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                       % (len(body), body))
    assert status == 201 and json.loads(reply)["short_url"].startswith("http://sho.rt.example/")


@pytest.mark.parametrize("target", ["/", "/api/v1/links/abcdefg"])
@pytest.mark.parametrize("request_line", [
    "GET {target}\u00e9t\u00e9 HTTP/1.1",                      # raw UTF-8 bytes, not percent-encoded
    "GET {target}\x01 HTTP/1.1",                               # a control character in the target
    "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN {target} HTTP/1.1",  # a 40-character method
    "get {target} HTTP/1.1",                                   # methods are case-sensitive (RFC 9110 §9.1)
])
def test_a_malformed_request_line_is_4xx_in_the_stacks_form(stack, target, request_line):
    line = request_line.format(target=target)
    status, headers, body = exchange(stack, f"{line}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert 400 <= status < 500, body[:300]
    assert_stack_form(target, status, headers, body, status, "")
    if status == 405:
        assert "GET" in headers["allow"]


@pytest.mark.parametrize("target", ["/", "/api/v1/links/abcdefg"])
@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0"])
def test_an_unsupported_http_version_is_400_in_the_stacks_form(stack, target, version):
    status, headers, body = exchange(stack, f"GET {target} {version}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert_stack_form(target, status, headers, body, 400, "HTTP version")


@pytest.mark.parametrize("target", ["/static/", "/static/../static/", "/static"])
def test_a_static_folder_is_not_a_listing_and_fails_in_the_page_form(stack, target):
    status, headers, body = get(stack, target)
    assert_stack_form(target, status, headers, body, 404, "")


@pytest.mark.parametrize("target", ["/", "/api/v1/links"])
def test_a_malformed_chunked_body_is_400_in_the_stacks_form(stack, target):
    status, headers, body = post(stack, target, b"ZZ\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked",
                                 "Content-Type: application/json")
    assert_stack_form(target, status, headers, body, 400, "malformed")
