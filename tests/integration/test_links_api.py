"""The JSON API through nginx: creating and reading links, and every kind of bad input."""

import pytest
import requests

from tests.integration.support import create_link, link_rows

PROBLEM = "application/problem+json"


def test_create_and_read_a_link(stack):
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/docs?page=2"}, timeout=5)
    assert response.status_code == 201
    link = response.json()
    assert set(link) == {"code", "short_url", "url", "created_at", "expires_at", "public_stats", "disabled"}
    assert link["short_url"] == f"{stack.url}/{link['code']}"
    assert response.headers["Location"] == f"/api/v1/links/{link['code']}"

    read = requests.get(f"{stack.url}/api/v1/links/{link['code']}", timeout=5).json()
    assert read["url"] == "https://example.com/docs?page=2"
    assert read["click_count"] == 0
    assert read["expired"] is False


def test_alias_is_used_as_the_code(stack):
    link = create_link(stack, url="https://example.com", alias="team-docs")
    assert link["code"] == "team-docs"


def test_unknown_link_is_a_problem(stack):
    response = requests.get(f"{stack.url}/api/v1/links/nope1234", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == PROBLEM
    assert "nope1234" in response.json()["detail"]


BAD_REQUESTS = [
    # (what, request kwargs, status, words in detail)
    ("not JSON content type",
     {"data": "url=https://example.com", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "application/json"),
    ("malformed JSON", {"data": '{"url": ', "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ("JSON nested 5000 deep", {"data": "[" * 5000 + "]" * 5000, "headers": {"Content-Type": "application/json"}}, 400,
     "nested too deeply"),
    ("JSON array", {"json": ["https://example.com"]}, 422, "JSON object"),
    ("missing url", {"json": {}}, 422, "required"),
    ("ftp url", {"json": {"url": "ftp://example.com/file"}}, 422, "http"),
    ("no host", {"json": {"url": "https://"}}, 422, "valid URL"),
    ("control characters", {"json": {"url": "https://example.com/\u0007"}}, 422, "control"),
    ("reserved alias", {"json": {"url": "https://example.com", "alias": "static"}}, 422, "reserved"),
    ("bad alias", {"json": {"url": "https://example.com", "alias": "no/slash"}}, 422, "letters"),
    ("past expiry", {"json": {"url": "https://example.com", "expires_at": "2001-01-01T00:00:00Z"}}, 422, "future"),
    ("credentials in the url", {"json": {"url": "https://user:secret@example.com/private"}}, 422,
     "user name or password"),
    ("a trusted name as userinfo", {"json": {"url": "https://trusted.example@attacker.example/"}}, 422,
     "user name or password"),
    ("unknown field", {"json": {"url": "https://example.com", "clicks": 5}}, 422, "Unknown field"),
    ("body over the app's 16 KiB", {"json": {"url": "https://example.com/" + "a" * 20_000}}, 413, "16 KiB"),
    ("body over nginx's 64 KiB", {"json": {"url": "https://example.com/" + "a" * 70_000}}, 413, "64 KiB"),
]


@pytest.mark.parametrize("what, kwargs, status, words", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(stack, what, kwargs, status, words):
    before = link_rows(stack)
    response = requests.post(f"{stack.url}/api/v1/links", timeout=5, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert words in problem["detail"]
    assert link_rows(stack) == before


def test_a_link_to_the_shortener_itself_is_refused(stack):
    before = link_rows(stack)
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": f"{stack.url}/abc"}, timeout=5)
    assert response.status_code == 422
    assert "itself" in response.json()["detail"]
    assert link_rows(stack) == before


def test_duplicate_alias_is_409_and_keeps_the_first_link(stack):
    create_link(stack, url="https://first.example", alias="taken-alias")
    before = link_rows(stack)
    response = requests.post(f"{stack.url}/api/v1/links", timeout=5,
                             json={"url": "https://second.example", "alias": "taken-alias"})
    assert response.status_code == 409
    assert "already taken" in response.json()["detail"]
    assert link_rows(stack) == before
    assert requests.get(f"{stack.url}/api/v1/links/taken-alias", timeout=5).json()["url"] == "https://first.example/"


def test_wrong_method_is_a_problem_too(stack):
    response = requests.put(f"{stack.url}/api/v1/links", timeout=5)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == PROBLEM
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
