"""The HTML pages without a browser: CSRF on the form, and the form's plain POST path."""

import re

import requests

from tests.integration.support import csrf_token, db, link_rows


def test_a_form_post_without_its_csrf_token_is_refused_and_stores_nothing(stack):
    before = link_rows(stack)
    response = requests.post(f"{stack.url}/", data={"url": "https://example.com/csrf"}, timeout=5)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "CSRF" in response.text
    assert link_rows(stack) == before


def test_the_form_shortens_with_a_plain_post_and_remembers_the_browser(stack):
    with requests.Session() as browser:
        token = csrf_token(browser.get(f"{stack.url}/", timeout=5).text)
        page = browser.post(f"{stack.url}/", data={"csrf_token": token, "url": "https://example.com/form",
                                                   "alias": "", "expires_in": "1d"}, timeout=5)
        assert page.status_code == 200
        code = re.search(r'id="short-link">[^<]*/([A-Za-z0-9_-]+)</a>', page.text)[1]
        assert f'href="/links/{code}"' in browser.get(f"{stack.url}/", timeout=5).text  # links from this browser
    with db(stack) as conn:
        url, expires_at = conn.execute("SELECT url, expires_at FROM links WHERE code = %s", (code,)).fetchone()
    assert url == "https://example.com/form" and expires_at is not None


def test_the_form_refuses_credentials_in_the_target_and_stores_nothing(stack):
    before = link_rows(stack)
    with requests.Session() as browser:
        token = csrf_token(browser.get(f"{stack.url}/", timeout=5).text)
        page = browser.post(f"{stack.url}/", data={"csrf_token": token, "url": "https://user:secret@example.com/x",
                                                   "alias": "", "expires_in": ""}, timeout=5)
    assert page.status_code == 422
    assert "must not contain a user name or password" in page.text
    assert link_rows(stack) == before


def test_link_page_of_an_unknown_code_is_a_404_page(stack):
    response = requests.get(f"{stack.url}/links/nothing-here", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
