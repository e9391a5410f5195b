"""An operator's admin commands: API keys and takedowns (who may read what: tests/views/test_visibility.py)."""

import os
import re
import subprocess
import sys

import requests

from tests.integration.support import admin, cache, create_link, db, follow, new_key, stored_clicks, wait_for


def read(stack, path: str) -> requests.Response:
    return requests.get(f"{stack.url}{path}", timeout=5)


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


