"""Owners, API keys and takedowns: who may read a link's stats, and an operator's admin commands."""

import os
import re
import subprocess
import sys

import pytest
import requests

from support import cache, create_link, db, disposable_stack, follow, wait_for


def admin(stack, *args: str) -> subprocess.CompletedProcess:
    """python -m shortstack.admin against the stack's PostgreSQL and Redis."""
    env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
    return subprocess.run([sys.executable, "-m", "shortstack.admin", *args], env=env, capture_output=True,
                          text=True, timeout=30)


def new_key(stack, name: str = "tests") -> str:
    result = admin(stack, "create-key", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def read(stack, path: str, key: str | None = None, session: requests.Session | None = None) -> requests.Response:
    headers = {"X-Api-Key": key} if key else {}
    return (session or requests).get(f"{stack.url}{path}", headers=headers, timeout=5)


def test_a_keyed_link_is_readable_with_its_key_only(stack):
    key, other_key = new_key(stack, "alice"), new_key(stack, "bob")
    link = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/mine"},
                         headers={"X-Api-Key": key}, timeout=5).json()
    assert link["public_stats"] is False
    for path in (f"/api/v1/links/{link['code']}", f"/api/v1/links/{link['code']}/stats",
                 f"/api/v1/links/{link['code']}/stats.csv"):
        assert read(stack, path, key).status_code == 200
        for stranger in (None, other_key):
            refused = read(stack, path, stranger)
            assert refused.status_code == 403, refused.text
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert "https://example.com/mine" not in refused.text
    assert follow(stack, link["code"]).status_code == 302  # the short link itself works for everyone


def test_public_stats_are_readable_by_anyone(stack):
    key = new_key(stack)
    link = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/open", "public_stats": True},
                         headers={"X-Api-Key": key}, timeout=5).json()
    assert read(stack, f"/api/v1/links/{link['code']}/stats").status_code == 200
    anonymous = create_link(stack, url="https://example.com/nobodys")  # nobody else could ever see it
    assert read(stack, f"/api/v1/links/{anonymous['code']}/stats").status_code == 200


def test_keys_are_stored_hashed_listed_without_the_key_and_revocable(stack):
    key = new_key(stack, "to-revoke")
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{43}", key)
    with db(stack) as conn:
        stored = conn.execute("SELECT id, key_hash FROM api_keys WHERE name = 'to-revoke'").fetchone()
    assert key not in stored[1] and len(stored[1]) == 64
    listing = admin(stack, "list-keys").stdout
    assert "to-revoke" in listing and key not in listing
    create = {"json": {"url": "https://example.com/k"}, "headers": {"X-Api-Key": key}, "timeout": 5}
    assert requests.post(f"{stack.url}/api/v1/links", **create).status_code == 201

    assert admin(stack, "revoke-key", str(stored[0])).returncode == 0
    refused = requests.post(f"{stack.url}/api/v1/links", **create)
    assert refused.status_code == 401 and "unknown or revoked" in refused.json()["detail"]
    missing = admin(stack, "revoke-key", "999999")
    assert missing.returncode == 1 and "no API key has the id 999999" in missing.stderr


@pytest.mark.parametrize("key", ["sk_made-up", "ünïcode", ""])
def test_an_unknown_key_is_a_401_problem_and_stores_nothing(stack, key):
    with db(stack) as conn:
        before = conn.execute("SELECT count(*) FROM links").fetchone()[0]
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/x"},
                             headers={"X-Api-Key": key.encode()}, timeout=5)
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    with db(stack) as conn:
        assert conn.execute("SELECT count(*) FROM links").fetchone()[0] == before


def form_create(stack, browser: requests.Session, url: str, public: bool = False) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{stack.url}/", timeout=5).text)[1]
    form = {"csrf_token": token, "url": url, "alias": "", "expires_in": ""}
    if public:
        form["public_stats"] = "on"
    page = browser.post(f"{stack.url}/", data=form, timeout=5)
    assert page.status_code == 200, page.text
    return re.search(r'id="short-link">[^<]*/([A-Za-z0-9_-]+)</a>', page.text)[1]


def test_a_browser_sees_the_stats_of_its_own_links_only(stack):
    with requests.Session() as mine, requests.Session() as theirs:
        code = form_create(stack, mine, "https://example.com/from-my-browser")
        assert read(stack, f"/links/{code}", session=mine).status_code == 200
        assert read(stack, f"/api/v1/links/{code}/stats", session=mine).status_code == 200
        page = read(stack, f"/links/{code}", session=theirs)
        assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
        assert "from-my-browser" not in page.text
        assert read(stack, f"/api/v1/links/{code}/stats", session=theirs).status_code == 403

        shared = form_create(stack, mine, "https://example.com/shared", public=True)
        assert read(stack, f"/links/{shared}", session=theirs).status_code == 200


def test_disable_answers_410_on_every_replica_at_once_and_stops_counting(stack):
    link = create_link(stack, url="https://phish.example/login")
    served = {follow(stack, link["code"]).headers["X-Served-By"] for _ in range(9)}
    assert len(served) == 3  # every replica has redirected it (and the cache holds it)
    wait_for(lambda: stored_clicks(stack, link["code"]) == 9, 15, "9 clicks stored")

    result = admin(stack, "disable", link["code"])
    assert result.returncode == 0, result.stderr
    gone = [follow(stack, link["code"]) for _ in range(9)]
    assert {r.status_code for r in gone} == {410}
    assert {r.headers["X-Served-By"] for r in gone} == served
    assert "disabled" in gone[0].text
    cache(stack).delete(f"link:{link['code']}")  # from PostgreSQL too, not just the cache
    assert follow(stack, link["code"]).status_code == 410
    assert stored_clicks(stack, link["code"]) == 9
    assert read(stack, f"/api/v1/links/{link['code']}").json()["disabled"] is True

    assert admin(stack, "enable", link["code"]).returncode == 0
    assert follow(stack, link["code"]).status_code == 302


def test_disable_of_an_unknown_code_says_so_and_does_the_rest(stack):
    link = create_link(stack, url="https://example.com/partly")
    result = admin(stack, "disable", "no-such-code", link["code"])
    assert result.returncode == 1
    assert "no link has the code 'no-such-code'" in result.stderr and f"Disabled {link['code']}" in result.stdout
    assert follow(stack, link["code"]).status_code == 410


def test_links_by_host_finds_a_host_and_its_subdomains_only(stack):
    codes = {url: create_link(stack, url=url)["code"] for url in (
        "https://scam.example/a", "https://login.SCAM.example./b", "https://scam.example:8443/c",
        "https://notscam.example/d", "https://scam.example.org/e")}
    result = admin(stack, "links-by-host", "Scam.Example")
    assert result.returncode == 0, result.stderr
    listed = {line.split("\t")[0] for line in result.stdout.splitlines()}
    assert listed == {codes["https://scam.example/a"], codes["https://login.SCAM.example./b"],
                      codes["https://scam.example:8443/c"]}
    assert "3 link(s)" in result.stderr


def test_bad_admin_commands_get_a_readable_message(stack):
    result = admin(stack, "revoke-key", "not-a-number")
    assert result.returncode == 2 and "invalid int value" in result.stderr
    unreachable = subprocess.run([sys.executable, "-m", "shortstack.admin", "list-keys"], capture_output=True,
                                 text=True, timeout=30,
                                 env={**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert unreachable.returncode == 1 and unreachable.stderr.startswith("error: ")
    assert "Traceback" not in unreachable.stderr


def stored_clicks(stack, code: str) -> int:
    with db(stack) as conn:
        return conn.execute("SELECT count(*) FROM clicks WHERE code = %s", (code,)).fetchone()[0]


@pytest.fixture(scope="module")
def keys_only():
    """A stack where creating a link needs an API key."""
    with disposable_stack(replicas=1, workers=1, env={"CREATE_REQUIRES_KEY": "true"}) as running:
        yield running


def test_with_keys_required_only_key_holders_create_links(keys_only):
    refused = requests.post(f"{keys_only.url}/api/v1/links", json={"url": "https://example.com/x"}, timeout=5)
    assert refused.status_code == 401 and "X-Api-Key" in refused.json()["detail"]
    with requests.Session() as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{keys_only.url}/", timeout=5).text)[1]
        page = browser.post(f"{keys_only.url}/", data={"csrf_token": token, "url": "https://example.com/y",
                                                       "expires_in": ""}, timeout=5)
        assert page.status_code == 422 and "API key" in page.text
    with db(keys_only) as conn:
        assert conn.execute("SELECT count(*) FROM links").fetchone()[0] == 0
    accepted = requests.post(f"{keys_only.url}/api/v1/links", json={"url": "https://example.com/z"},
                             headers={"X-Api-Key": new_key(keys_only)}, timeout=5)
    assert accepted.status_code == 201, accepted.text
