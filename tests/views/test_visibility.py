"""Owners and API keys: who may read a link and its stats, and who may create links."""

import re

import pytest

from tests.views.support import csrf_token, link_rows, new_key


def read(client, path: str, key: str | None = None):
    return client.get(path, headers={"X-Api-Key": key} if key else {})


def test_a_keyed_link_is_readable_with_its_key_only(app, client):
    key, other_key = new_key(app, "alice"), new_key(app, "bob")
    link = client.post("/api/v1/links", json={"url": "https://example.com/mine"}, headers={"X-Api-Key": key}).get_json()
    assert link["public_stats"] is False
    for path in (f"/api/v1/links/{link['code']}", f"/api/v1/links/{link['code']}/stats",
                 f"/api/v1/links/{link['code']}/stats.csv"):
        assert read(client, path, key).status_code == 200
        for stranger in (None, other_key):
            refused = read(client, path, stranger)
            assert refused.status_code == 403, refused.text
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert "https://example.com/mine" not in refused.text
    assert client.get(f"/{link['code']}").status_code == 302  # the short link itself works for everyone


def test_public_stats_are_readable_by_anyone(app, client):
    key = new_key(app)
    link = client.post("/api/v1/links", json={"url": "https://example.com/open", "public_stats": True},
                       headers={"X-Api-Key": key}).get_json()
    assert read(client, f"/api/v1/links/{link['code']}/stats").status_code == 200
    anonymous = client.post("/api/v1/links", json={"url": "https://example.com/nobodys"}).get_json()
    assert read(client, f"/api/v1/links/{anonymous['code']}/stats").status_code == 200  # nobody else could ever see it


# The last one as a WSGI server hands UTF-8 bytes of a header to the app: decoded as latin-1.
@pytest.mark.parametrize("key", ["sk_made-up", "ünïcode".encode().decode("latin-1"), ""])
def test_an_unknown_key_is_a_401_problem_and_stores_nothing(client, db, key):
    before = link_rows(db)
    response = client.post("/api/v1/links", json={"url": "https://example.com/x"}, headers={"X-Api-Key": key})
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert link_rows(db) == before


def form_create(browser, url: str, public: bool = False) -> str:
    form = {"csrf_token": csrf_token(browser), "url": url, "alias": "", "expires_in": ""}
    if public:
        form["public_stats"] = "on"
    page = browser.post("/", data=form)
    assert page.status_code == 200, page.text
    return re.search(r'id="short-link">[^<]*/([A-Za-z0-9_-]+)</a>', page.text)[1]


def test_a_browser_sees_the_stats_of_its_own_links_only(app):
    mine, theirs = app.test_client(), app.test_client()
    code = form_create(mine, "https://example.com/from-my-browser")
    assert read(mine, f"/links/{code}").status_code == 200
    assert read(mine, f"/api/v1/links/{code}/stats").status_code == 200
    page = read(theirs, f"/links/{code}")
    assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
    assert "from-my-browser" not in page.text
    assert read(theirs, f"/api/v1/links/{code}/stats").status_code == 403

    shared = form_create(mine, "https://example.com/shared", public=True)
    assert read(theirs, f"/links/{shared}").status_code == 200


@pytest.mark.parametrize("settings_env", [{"CREATE_REQUIRES_KEY": "true"}])
def test_with_keys_required_only_key_holders_create_links(app, client, db):
    before = link_rows(db)
    refused = client.post("/api/v1/links", json={"url": "https://example.com/x"})
    assert refused.status_code == 401 and "X-Api-Key" in refused.get_json()["detail"]
    page = client.post("/", data={"csrf_token": csrf_token(client), "url": "https://example.com/y", "expires_in": ""})
    assert page.status_code == 422 and "API key" in page.text
    assert link_rows(db) == before
    key = new_key(app)
    accepted = client.post("/api/v1/links", json={"url": "https://example.com/z"}, headers={"X-Api-Key": key})
    assert accepted.status_code == 201, accepted.text
    # A browser signed in with a key is a key holder too, on the form as on the API.
    signed_in = client.post("/login", data={"csrf_token": csrf_token(client), "key": key})
    assert signed_in.status_code == 303
    page = client.post("/", data={"csrf_token": csrf_token(client), "url": "https://example.com/signed-in",
                                  "expires_in": ""})
    assert page.status_code == 200 and "signed-in" in page.text
    assert link_rows(db) == before + 2
