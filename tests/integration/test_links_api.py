"""The JSON API through nginx: creating and reading links, and every kind of bad input."""

import csv
import io

import pytest
import requests

from support import click_count, create_link, db, follow, wait_for

PROBLEM = "application/problem+json"


def link_rows(stack) -> int:
    with db(stack) as conn:
        return conn.execute("SELECT count(*) FROM links").fetchone()[0]


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


IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
          " Version/17.0 Mobile/15E148 Safari/604.1")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def test_who_clicked_in_the_stats_and_every_counter_as_csv(stack):
    code = create_link(stack, url="https://example.com/who")["code"]
    clicks = [(IPHONE, "https://news.example/item"), (IPHONE, ""), (IPHONE, ""), (FIREFOX, ""), (FIREFOX, ""),
              ("curl/8", "")]
    for user_agent, referrer in clicks:
        assert follow(stack, code, **{"User-Agent": user_agent, "Referer": referrer}).status_code == 302
    wait_for(lambda: click_count(stack, code) == 6, 15, "6 clicks stored")

    stats = requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).json()
    assert stats["browsers"] == [{"name": "Mobile Safari", "clicks": 3}, {"name": "Firefox", "clicks": 2},
                                 {"name": "curl", "clicks": 1}]
    assert stats["operating_systems"] == [{"name": "iOS", "clicks": 3}, {"name": "Windows", "clicks": 2},
                                          {"name": "Other", "clicks": 1}]
    assert stats["devices"] == [{"name": "mobile", "clicks": 3}, {"name": "desktop", "clicks": 2},
                                {"name": "bot", "clicks": 1}]

    response = requests.get(f"{stack.url}/api/v1/links/{code}/stats.csv", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{code}-stats.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["rollup", "value", "clicks"]
    [(hour, clicks)] = [(value, n) for rollup, value, n in rows[1:] if rollup == "hour"]
    assert hour.endswith(":00:00Z") and clicks == "6"
    assert [row for row in rows[1:] if row[0] != "hour"] == [
        ["referrer", "", "5"], ["referrer", "news.example", "1"],
        ["browser", "Mobile Safari", "3"], ["browser", "Firefox", "2"], ["browser", "curl", "1"],
        ["os", "iOS", "3"], ["os", "Windows", "2"], ["os", "Other", "1"],
        ["device_type", "mobile", "3"], ["device_type", "desktop", "2"], ["device_type", "bot", "1"]]


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
    response = requests.get(f"{stack.url}/api/v1/links", timeout=5)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == PROBLEM
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
