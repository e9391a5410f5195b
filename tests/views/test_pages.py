"""The HTML pages: CSRF on the form, and the form's plain POST path."""

import re

from tests.views.support import csrf_token, link_rows


def test_a_form_post_without_its_csrf_token_is_refused_and_stores_nothing(client, db):
    before = link_rows(db)
    response = client.post("/", data={"url": "https://example.com/csrf"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "CSRF" in response.text
    assert link_rows(db) == before


def test_the_form_shortens_with_a_plain_post_and_remembers_the_browser(client, db):
    page = client.post("/", data={"csrf_token": csrf_token(client), "url": "https://example.com/form",
                                  "alias": "", "expires_in": "1d"})
    assert page.status_code == 200
    code = re.search(r'id="short-link">[^<]*/([A-Za-z0-9_-]+)</a>', page.text)[1]
    assert f'href="/links/{code}"' in client.get("/").text  # links from this browser
    url, expires_at = db.execute("SELECT url, expires_at FROM links WHERE code = %s", (code,)).fetchone()
    assert url == "https://example.com/form" and expires_at is not None


def test_the_form_refuses_credentials_in_the_target_and_stores_nothing(client, db):
    before = link_rows(db)
    page = client.post("/", data={"csrf_token": csrf_token(client), "url": "https://user:secret@example.com/x",
                                  "alias": "", "expires_in": ""})
    assert page.status_code == 422
    assert "must not contain a user name or password" in page.text
    assert link_rows(db) == before


def test_link_page_of_an_unknown_code_is_a_404_page(client):
    response = client.get("/links/nothing-here")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")

