"""The JSON API: creating and reading links, and every kind of bad input."""


import pytest

from tests.views.support import create_link, link_rows

PROBLEM = "application/problem+json"


def test_create_and_read_a_link(client):
    response = client.post("/api/v1/links", json={"url": "https://example.com/docs?page=2"})
    assert response.status_code == 201
    link = response.get_json()
    assert set(link) == {"code", "short_url", "url", "created_at", "expires_at", "public_stats", "disabled"}
    assert link["short_url"] == f"http://localhost/{link['code']}"
    assert response.headers["Location"] == f"/api/v1/links/{link['code']}"

    read = client.get(f"/api/v1/links/{link['code']}").get_json()
    assert read["url"] == "https://example.com/docs?page=2"
    assert read["click_count"] == 0
    assert read["expired"] is False


def test_alias_is_used_as_the_code(client):
    link = create_link(client, url="https://example.com", alias="team-docs")
    assert link["code"] == "team-docs"


def test_unknown_link_is_a_problem(client):
    response = client.get("/api/v1/links/nope1234")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == PROBLEM
    assert "nope1234" in response.get_json()["detail"]


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
]


@pytest.mark.parametrize("what, kwargs, status, words", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, db, what, kwargs, status, words):
    before = link_rows(db)
    response = client.post("/api/v1/links", **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM
    problem = response.get_json()
    assert problem["status"] == status
    assert words in problem["detail"]
    assert link_rows(db) == before


def test_a_link_to_the_shortener_itself_is_refused(client, db):
    before = link_rows(db)
    response = client.post("/api/v1/links", json={"url": "http://localhost/abc"})
    assert response.status_code == 422
    assert "itself" in response.get_json()["detail"]
    assert link_rows(db) == before


def test_duplicate_alias_is_409_and_keeps_the_first_link(client, db):
    create_link(client, url="https://first.example", alias="taken-alias")
    before = link_rows(db)
    response = client.post("/api/v1/links", json={"url": "https://second.example", "alias": "taken-alias"})
    assert response.status_code == 409
    assert "already taken" in response.get_json()["detail"]
    assert link_rows(db) == before
    assert client.get("/api/v1/links/taken-alias").get_json()["url"] == "https://first.example/"


def test_wrong_method_is_a_problem_too(client):
    response = client.put("/api/v1/links")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == PROBLEM
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(client, db):
    # Whatever ended up in a counter (an old worker stored any Referer "host"), the download keeps it text.
    code = create_link(client, url="https://example.com/csv")["code"]
    for host in ("=1+2", "+SUM(1,2)", "-2+3", "@A1", "news.example"):
        db.execute("INSERT INTO referrer_counts (code, referrer_host, clicks) VALUES (%s, %s, 1)", (code, host))
    rows = client.get(f"/api/v1/links/{code}/stats.csv").get_data(as_text=True).splitlines()
    assert sorted(row for row in rows if row.startswith("referrer,")) == [
        "referrer,\"'+SUM(1,2)\",1", "referrer,'-2+3,1", "referrer,'=1+2,1",
        "referrer,'@A1,1", "referrer,news.example,1"]


def test_answers_that_depend_on_the_asker_are_kept_by_no_cache(client):
    code = create_link(client, url="https://example.com/private-answer")["code"]
    for path in (f"/api/v1/links/{code}", f"/api/v1/links/{code}/stats", f"/api/v1/links/{code}/stats.csv"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store"
        assert {"X-Api-Key", "Cookie"} <= set(response.vary)
