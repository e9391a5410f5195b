"""Owners manage their links through nginx and the replicas: list, search and page them, edit them
(merge patch), delete them; and a browser signed in with an API key acts for the key."""

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.support import (
    admin,
    cache,
    create_link,
    db,
    disposable_stack,
    follow,
    form_create,
    new_key,
    wait_for,
)

PROBLEM = "application/problem+json"


def api(stack, method: str, path: str, key: str | None = None, session: requests.Session | None = None,
        headers: dict | None = None, **kwargs) -> requests.Response:
    headers = {**({"X-Api-Key": key} if key else {}), **(headers or {})}
    return (session or requests).request(method, f"{stack.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)


def create_owned(stack, key: str, url: str, **body) -> dict:
    response = api(stack, "POST", "/links", key, json={"url": url, **body})
    assert response.status_code == 201, response.text
    return response.json()


def row(stack, code: str) -> tuple:
    with db(stack) as conn:
        return conn.execute("SELECT url, expires_at, public_stats, deleted_at FROM links WHERE code = %s",
                            (code,)).fetchone()


def script_failures(stack) -> int:
    """Script calls (the hot path's among them) that ended in an error, all time."""
    return cache(stack).info("commandstats").get("cmdstat_evalsha", {}).get("failed_calls", 0)


def csrf_token(stack, browser: requests.Session, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{stack.url}{path}", timeout=5).text)[1]


def sign_in(stack, browser: requests.Session, key: str) -> requests.Response:
    return browser.post(f"{stack.url}/login", data={"csrf_token": csrf_token(stack, browser, "/login"), "key": key},
                        allow_redirects=False, timeout=5)


def test_an_owner_lists_their_links_newest_first_in_pages_and_searches_them(stack):
    key, other = new_key(stack, "lister"), new_key(stack, "someone-else")
    tag = uuid.uuid4().hex[:8]
    made = [create_owned(stack, key, f"https://list-{tag}.example/{n}") for n in range(5)]
    create_owned(stack, other, f"https://list-{tag}.example/not-mine")

    first = api(stack, "GET", "/links?per_page=2", key)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["total"], body["pages"], body["page"], body["per_page"]) == (5, 3, 1, 2)
    assert [link["code"] for link in body["links"]] == [made[4]["code"], made[3]["code"]]
    assert set(body["links"][0]) >= {"code", "short_url", "url", "click_count", "expires_at", "public_stats"}
    last = api(stack, "GET", "/links?per_page=2&page=3", key).json()
    assert [link["code"] for link in last["links"]] == [made[0]["code"]]
    assert api(stack, "GET", "/links?page=4&per_page=2", key).json()["links"] == []

    by_target = api(stack, "GET", f"/links?q=LIST-{tag}.EXAMPLE/3", key).json()
    assert [link["code"] for link in by_target["links"]] == [made[3]["code"]] and by_target["total"] == 1
    by_code = api(stack, "GET", "/links", key, params={"q": made[1]["code"]}).json()
    assert made[1]["code"] in [link["code"] for link in by_code["links"]]
    assert "not-mine" not in api(stack, "GET", f"/links?q={tag}", key).text

    anonymous = api(stack, "GET", "/links")
    assert anonymous.status_code == 401 and anonymous.headers["Content-Type"] == PROBLEM
    assert "X-Api-Key" in anonymous.json()["detail"]


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page=two", "page"), ("page=-1", "page"),
                                          ("per_page=101", "per_page"), ("per_page=", None),
                                          ("page=99999999999999999999", "page"), ("q=" + "x" * 201, "q"),
                                          ("q=a%00b", "q")])
def test_bad_list_parameters_are_a_400_naming_the_parameter(stack, query, field):
    response = api(stack, "GET", f"/links?{query}", new_key(stack))
    if field is None:  # empty means the default
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == field and field in response.json()["detail"]


def test_create_edit_follow_delete_follow_across_every_replica(stack):
    key = new_key(stack, "journey")
    link = create_owned(stack, key, "https://before.example/page", alias=f"j-{uuid.uuid4().hex[:10]}")
    code = link["code"]
    first = [follow(stack, code) for _ in range(9)]
    assert {r.headers["Location"] for r in first} == {"https://before.example/page"}
    served = {r.headers["X-Served-By"] for r in first}
    assert len(served) == 3  # every replica has redirected it, and the cache holds the old target

    edited = api(stack, "PATCH", f"/links/{code}", key, json={"url": "https://after.example/new"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["url"] == "https://after.example/new"
    after = [follow(stack, code) for _ in range(9)]
    assert {r.headers["Location"] for r in after} == {"https://after.example/new"}
    assert {r.headers["X-Served-By"] for r in after} == served

    assert api(stack, "DELETE", f"/links/{code}", key).status_code == 204
    failed_scripts = script_failures(stack)
    gone = [follow(stack, code) for _ in range(9)]
    assert {r.status_code for r in gone} == {410}
    # Answered by the hot path's one script call, which knows the deleted marker (no Lua error).
    assert script_failures(stack) == failed_scripts
    assert {r.headers["X-Served-By"] for r in gone} == served
    assert "deleted by its owner" in gone[0].text
    cache(stack).delete(f"link:{code}")  # from PostgreSQL too, not only the cache
    assert follow(stack, code).status_code == 410

    for method, path in (("GET", f"/links/{code}"), ("GET", f"/links/{code}/stats"), ("PATCH", f"/links/{code}")):
        refused = api(stack, method, path, key, json={"url": "https://again.example/"})
        assert refused.status_code == 410 and refused.headers["Content-Type"] == PROBLEM, (method, path)
    assert code not in api(stack, "GET", "/links", key).text
    taken = api(stack, "POST", "/links", new_key(stack), json={"url": "https://squatter.example/", "alias": code})
    assert taken.status_code == 409  # the code is never given to another link
    assert api(stack, "DELETE", f"/links/{code}", key).status_code == 204  # deleting again is harmless
    assert row(stack, code)[0] == "https://after.example/new"  # kept for the operator


def test_an_edit_is_a_merge_patch_validated_as_creation_is(stack):
    key = new_key(stack)
    code = create_owned(stack, key, "https://merge.example/a")["code"]

    later = "2030-01-31T12:00:00+00:00"
    patched = api(stack, "PATCH", f"/links/{code}", key, json={"expires_at": later, "public_stats": True})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["url"], patched.json()["expires_at"], patched.json()["public_stats"]) == \
        ("https://merge.example/a", later, True)
    cleared = api(stack, "PATCH", f"/links/{code}", key, data='{"expires_at": null}',
                  headers={"Content-Type": "application/merge-patch+json"})
    assert cleared.status_code == 200 and cleared.json()["expires_at"] is None
    assert cleared.json()["public_stats"] is True  # what the patch does not name stays

    before = row(stack, code)
    for body, field in (({"url": "ftp://merge.example/"}, "url"), ({"url": None}, "url"),
                        ({"url": f"{stack.url}/loop"}, "url"), ({"url": "https://u:p@merge.example/"}, "url"),
                        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
                        ({"public_stats": None}, "public_stats"),
                        ({"alias": "new-code"}, "alias"), (["url"], "body")):
        refused = api(stack, "PATCH", f"/links/{code}", key, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    assert api(stack, "PATCH", f"/links/{code}", key, data="url=x").status_code == 415
    assert api(stack, "PATCH", f"/links/{code}", key, data="{",
               headers={"Content-Type": "application/json"}).status_code == 400
    assert row(stack, code) == before
    assert follow(stack, code).headers["Location"] == "https://merge.example/a"


def test_only_the_owner_edits_or_deletes_and_ownerless_links_have_none(stack):
    key = new_key(stack)
    code = create_owned(stack, key, "https://owned.example/", public_stats=True)["code"]
    ownerless = create_link(stack, url="https://nobodys.example/")["code"]
    for asker, target in ((new_key(stack), code), (None, code), (key, ownerless), (None, ownerless)):
        for method in ("PATCH", "DELETE"):
            refused = api(stack, method, f"/links/{target}", asker, json={"url": "https://evil.example/"})
            assert refused.status_code == 403, (method, target, refused.text)
            assert refused.headers["Content-Type"] == PROBLEM and "owner" in refused.json()["detail"]
    assert row(stack, code)[0] == "https://owned.example/" and row(stack, code)[3] is None
    assert row(stack, ownerless)[0] == "https://nobodys.example/" and row(stack, ownerless)[3] is None
    assert api(stack, "PATCH", "/links/no-such-link", key, json={}).status_code == 404
    assert api(stack, "DELETE", "/links/no-such-link", key).status_code == 404


def test_an_operator_disabled_link_cannot_be_edited_back_to_life(stack):
    key = new_key(stack)
    code = create_owned(stack, key, "https://phish.example/")["code"]
    assert admin(stack, "disable", code).returncode == 0
    refused = api(stack, "PATCH", f"/links/{code}", key, json={"url": "https://innocent.example/"})
    assert refused.status_code == 409 and "operator" in refused.json()["detail"]
    assert follow(stack, code).status_code == 410 and row(stack, code)[0] == "https://phish.example/"


def test_a_browser_manages_its_own_links_with_its_session(stack):
    with requests.Session() as mine, requests.Session() as theirs:
        code = form_create(stack, mine, "https://from-the-form.example/")
        listed = api(stack, "GET", "/links", session=mine).json()
        assert [link["code"] for link in listed["links"]] == [code]
        change = {"url": "https://x.example/"}
        assert api(stack, "PATCH", f"/links/{code}", session=theirs, json=change).status_code == 403
        assert api(stack, "PATCH", f"/links/{code}", session=mine, json=change).status_code == 200
        assert follow(stack, code).headers["Location"] == "https://x.example/"

        page = mine.get(f"{stack.url}/links", timeout=5)
        assert page.status_code == 200 and f'data-code="{code}"' in page.text
        form = {"csrf_token": csrf_token(stack, mine, f"/links/{code}/edit"), "url": "https://edited.example/",
                "expires_in": "1d", "public_stats": "on"}
        assert mine.post(f"{stack.url}/links/{code}/edit", data={**form, "url": "javascript:alert(1)"},
                         timeout=5).status_code == 422
        saved = mine.post(f"{stack.url}/links/{code}/edit", data=form, allow_redirects=False, timeout=5)
        assert saved.status_code == 303, saved.text
        assert row(stack, code)[0] == "https://edited.example/" and row(stack, code)[1] is not None
        assert theirs.get(f"{stack.url}/links/{code}/edit", timeout=5).status_code == 403
        no_token = mine.post(f"{stack.url}/links/{code}/delete", timeout=5)
        assert no_token.status_code == 400 and row(stack, code)[3] is None  # CSRF, as the form has
        deleted = mine.post(f"{stack.url}/links/{code}/delete", allow_redirects=False, timeout=5,
                            data={"csrf_token": csrf_token(stack, mine, f"/links/{code}/delete")})
        assert deleted.status_code == 303 and row(stack, code)[3] is not None
        assert follow(stack, code).status_code == 410
        assert f'data-code="{code}"' not in mine.get(f"{stack.url}/links", timeout=5).text


def test_a_key_pasted_once_makes_the_browser_its_owner_until_it_signs_out(stack):
    key = new_key(stack, "signer")
    code = create_owned(stack, key, "https://private-to-the-key.example/")["code"]
    with requests.Session() as browser:
        assert browser.get(f"{stack.url}/links/{code}", timeout=5).status_code == 403
        refused = sign_in(stack, browser, "sk_not-a-key")
        assert refused.status_code == 401 and "unknown or revoked" in refused.text

        signed_in = sign_in(stack, browser, key)
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/links"
        assert key not in str(browser.cookies.get_dict())  # the cookie holds a sign-in token, not the key
        assert browser.get(f"{stack.url}/links/{code}", timeout=5).status_code == 200
        assert f'data-code="{code}"' in browser.get(f"{stack.url}/links", timeout=5).text
        assert [link["code"] for link in api(stack, "GET", "/links", session=browser).json()["links"]] == [code]
        copied = requests.Session()
        copied.cookies.update(browser.cookies)

        made_here = form_create(stack, browser, "https://made-while-signed-in.example/")
        assert api(stack, "GET", f"/links/{made_here}", key).status_code == 200  # it belongs to the key

        token = csrf_token(stack, browser, "/links")
        assert browser.post(f"{stack.url}/logout", data={"csrf_token": token}, timeout=5).status_code == 200
        assert browser.get(f"{stack.url}/links/{code}", timeout=5).status_code == 403
        assert copied.get(f"{stack.url}/links/{code}", timeout=5).status_code == 403  # ended for every copy
        # The link made through the form while signed in is the key's alone: signed out, neither
        # the browser nor a copy of its cookie can change it, and its home page no longer lists it.
        for session in (browser, copied):
            edit = api(stack, "PATCH", f"/links/{made_here}", session=session, json={"url": "https://evil.example/"})
            assert edit.status_code == 403, edit.text
        assert made_here not in browser.get(f"{stack.url}/", timeout=5).text
        copied.close()
    assert api(stack, "GET", f"/links/{made_here}", key).json()["url"] == "https://made-while-signed-in.example/"


def test_revoking_the_key_ends_its_browser_sign_ins(stack):
    key = new_key(stack, "to-revoke-signed-in")
    code = create_owned(stack, key, "https://revoked.example/")["code"]
    with requests.Session() as browser:
        assert sign_in(stack, browser, key).status_code == 303
        assert browser.get(f"{stack.url}/links/{code}", timeout=5).status_code == 200
        made_here = form_create(stack, browser, "https://made-before-revoking.example/")
        with db(stack) as conn:
            key_id = conn.execute("SELECT id FROM api_keys WHERE name = 'to-revoke-signed-in'").fetchone()[0]
        assert admin(stack, "revoke-key", str(key_id)).returncode == 0
        assert browser.get(f"{stack.url}/links/{code}", timeout=5).status_code == 403
        assert api(stack, "DELETE", f"/links/{made_here}", session=browser).status_code == 403


@pytest.fixture(scope="module")
def redis_stack():
    """A stack of its own, for stopping its Redis."""
    with disposable_stack(replicas=2, workers=1) as running:
        yield running


def test_an_edit_while_redis_is_down_changes_nothing_and_repeating_it_reaches_the_redirects(redis_stack):
    key = new_key(redis_stack)
    code = create_owned(redis_stack, key, "https://old.example/")["code"]
    assert follow(redis_stack, code).headers["Location"] == "https://old.example/"  # and cached
    redis_stack.stop_process("redis")
    try:
        refused = api(redis_stack, "PATCH", f"/links/{code}", key, json={"url": "https://new.example/"})
        assert refused.status_code == 503 and refused.headers["Content-Type"] == PROBLEM
        assert refused.headers["Retry-After"].isdigit() and "Repeat the request" in refused.json()["detail"]
        assert row(redis_stack, code)[0] == "https://old.example/"  # not changed without its cache entry
        assert follow(redis_stack, code).headers["Location"] == "https://old.example/"  # read from PostgreSQL
    finally:
        redis_stack.restart("redis")
    wait_for(lambda: requests.get(f"{redis_stack.url}/readyz", timeout=10).status_code == 200, 30, "Redis back")
    assert "old.example" in cache(redis_stack).get(f"link:{code}")  # cache and database still agree

    # As a client honouring Retry-After does: a replica may still be waiting to try Redis again.
    wait_for(lambda: api(redis_stack, "PATCH", f"/links/{code}", key, json={"url": "https://new.example/"}
                         ).status_code == 200, 30, "the repeated edit", interval=1)
    assert {follow(redis_stack, code).headers["Location"] for _ in range(6)} == {"https://new.example/"}


def test_concurrent_changes_of_a_link_leave_every_replica_on_the_last_one(stack):
    """An edit racing a delete, and two edits racing each other, on 20 links each: whatever order
    they commit in, the cache the redirects read ends on what PostgreSQL holds."""
    key = new_key(stack, "racer")
    racing = [create_owned(stack, key, "https://race.example/v0")["code"] for _ in range(40)]
    for code in racing:
        assert follow(stack, code).status_code == 302  # cached, as a busy link is

    def edit(code: str, n: int) -> tuple:
        return "PATCH", code, {"url": f"https://race.example/v{n}"}

    # Each link's two changes side by side in the queue, so they run at the same time.
    pairs = [(("DELETE", code, None), edit(code, 1)) for code in racing[:20]] + \
            [(edit(code, 1), edit(code, 2)) for code in racing[20:]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: api(stack, r[0], f"/links/{r[1]}", key, json=r[2]),
                      [r for pair in pairs for r in pair]))
    for code in racing:
        url, deleted = row(stack, code)[0], row(stack, code)[3]
        answers = {(r.status_code, r.headers.get("Location")) for r in (follow(stack, code) for _ in range(6))}
        assert answers == ({(410, None)} if deleted else {(302, url)}), (code, url, deleted, answers)
