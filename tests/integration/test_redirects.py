"""The hot path through nginx: redirects, the Redis cache in front of PostgreSQL, clicks counted."""

import http.client
import socket
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.integration.support import cache, click_count, create_link, db, follow, wait_for

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_people_bots_and_link_previews_are_counted_apart(stack):
    """Previews and HTTP libraries were counted as people when only ua-parser's Spider said bot."""
    code = create_link(stack, url="https://example.com/shared-on-social", public_stats=True)["code"]
    visits = {CHROME: "human", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0":
              "human", GOOGLEBOT: "bot", "curl/8.5.0": "bot", "python-requests/2.31.0": "bot",
              "Go-http-client/1.1": "bot", "": "bot",
              "http.rb/5.1.1 (Mastodon/4.0.2; +https://mastodon.social/)": "preview",
              "Misskey/2023.11.0 (https://misskey.io)": "preview", "TelegramBot (like TwitterBot)": "preview"}
    for user_agent in visits:
        assert follow(stack, code, **{"User-Agent": user_agent}).status_code == 302
    wait_for(lambda: click_count(stack, code) == len(visits), 15, "every click stored")
    stats = requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).json()
    assert stats["visitors"] == {"human": 2, "bot": 5, "preview": 3}
    assert stats["bot_clicks"] == 8  # bots and previews: what it always counted, for older clients
    page = requests.get(f"{stack.url}/links/{code}", timeout=5).text
    assert "people 2 · bots 5 · link previews 3" in page
    with db(stack) as conn:
        stored = dict(conn.execute("SELECT visitor, count(*) FROM clicks WHERE code = %s GROUP BY 1",
                                   (code,)).fetchall())
    assert stored == {"human": 2, "bot": 5, "preview": 3}


def test_a_short_link_redirects_and_its_clicks_are_counted(stack):
    link = create_link(stack, url="https://example.com/landing")
    for _ in range(4):
        response = follow(stack, link["code"], Referer="https://news.ycombinator.com/item?id=1",
                          **{"User-Agent": CHROME})
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.com/landing"
        assert response.headers["Cache-Control"] == "no-store"
    follow(stack, link["code"], **{"User-Agent": GOOGLEBOT})

    wait_for(lambda: click_count(stack, link["code"]) == 5, 15, "the worker to count 5 clicks")
    stats = requests.get(f"{stack.url}/api/v1/links/{link['code']}/stats", timeout=5).json()
    assert stats["total_clicks"] == 5
    assert stats["bot_clicks"] == 1
    assert sum(h["clicks"] for h in stats["by_hour"]) == 5
    assert sum(d["clicks"] for d in stats["by_day"]) == 5
    assert stats["top_referrers"][0] == {"host": "news.ycombinator.com", "clicks": 4}


def raw_get(stack, target: str) -> http.client.HTTPResponse:
    """GET `target` exactly as written (requests would re-encode | { } in it), not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    conn.request("GET", target)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize("url", [
    "https://example.com/search?filter[brand]=acme&sort=price|asc&tags={a,b}",
    "https://example.com/a^b|c[d]/{e}?x=`y`&z=^",
    "https://example.com/caf%C3%A9?q=%7C|&r=a%20b#frag[1]|{2}",
    "https://例え.jp/パス?キー=値&b='q'",
])
def test_location_is_exactly_the_stored_and_shown_target(stack, url):
    link = create_link(stack, url=url, public_stats=True)
    shown = requests.get(f"{stack.url}/api/v1/links/{link['code']}", timeout=5).json()["url"]
    with db(stack) as conn:
        stored = conn.execute("SELECT url FROM links WHERE code = %s", (link["code"],)).fetchone()[0]
    sent = follow(stack, link["code"]).headers["Location"]
    assert link["url"] == shown == stored == sent
    cache(stack).delete(f"link:{link['code']}")  # and from PostgreSQL, not the cache
    assert follow(stack, link["code"]).headers["Location"] == stored


@pytest.mark.parametrize("suffix", ["/", ".", ")", ",", ").", "!", "%20", "%E2%80%A6", "%22", ">"])
def test_a_code_with_what_clients_glue_to_it_reaches_the_link(stack, suffix):
    link = create_link(stack, url="https://example.com/glued")
    response = raw_get(stack, f"/{link['code']}{suffix}")
    assert (response.status, response.headers["Location"]) == (301, f"/{link['code']}"), suffix
    assert follow(stack, link["code"]).headers["Location"] == "https://example.com/glued"


def test_a_trailing_slash_keeps_the_query_and_other_paths_stay_unknown(stack):
    link = create_link(stack, url="https://example.com/glued-query")
    response = raw_get(stack, f"/{link['code']}/?utm_source=mail&x=a|b")
    assert (response.status, response.headers["Location"]) == (301, f"/{link['code']}?utm_source=mail&x=a|b")
    # Two slashes: never werkzeug's 308 to an address built from Host (another port, once).
    for path in (f"/{link['code']}é", f"/{link['code']}/x", "/links/", f"/{link['code']}.x", f"/{link['code']}//"):
        assert requests.get(f"{stack.url}{path}", allow_redirects=False, timeout=5).status_code == 404, path
    for path in ("/api/", f"/api/v1/links/{link['code']}/"):  # the service's own paths: still its problems
        response = requests.get(f"{stack.url}{path}", allow_redirects=False, timeout=5)
        assert (response.status_code, response.headers["Content-Type"]) == (404, "application/problem+json")


def test_a_query_on_a_short_link_is_forwarded_to_the_target(stack):
    link = create_link(stack, url="https://example.com/page?id=1#top")
    response = raw_get(stack, f"/{link['code']}?utm_source=mail&utm_campaign=a|b&q=%C3%A9")
    assert response.status == 302
    assert response.headers["Location"] == "https://example.com/page?id=1&utm_source=mail&utm_campaign=a|b&q=%C3%A9#top"
    assert raw_get(stack, f"/{link['code']}?").headers["Location"] == "https://example.com/page?id=1#top"
    plain = create_link(stack, url="https://example.com/plain")
    assert raw_get(stack, f"/{plain['code']}?ref=x y"[:-2] + "%20y").headers["Location"] == \
        "https://example.com/plain?ref=x%20y"
    wait_for(lambda: click_count(stack, link["code"]) == 2, 15, "both follows counted")


def test_without_host_a_stack_with_a_public_address_answers_421_in_its_own_form(stack):
    # This stack has PUBLIC_BASE_URL, so nginx serves that host only (test_edge_errors: without it).
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=10) as sock:
        body = b'{"url": "https://example.com/no-host"}'
        sock.sendall(b"POST /api/v1/links HTTP/1.0\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"421", reply
    assert b"Content-Type: application/problem+json" in head and b"public address" in body


def test_head_requests_redirect_without_counting_a_click(stack):
    link = create_link(stack, url="https://example.com/preview")
    response = requests.head(f"{stack.url}/{link['code']}", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    follow(stack, link["code"])
    wait_for(lambda: click_count(stack, link["code"]) == 1, 15, "one click")
    with db(stack) as conn:
        assert conn.execute("SELECT count(*) FROM clicks WHERE code = %s", (link["code"],)).fetchone()[0] == 1


def test_second_redirect_is_served_from_the_cache_not_postgresql(stack):
    link = create_link(stack, url="https://example.com/original")
    assert follow(stack, link["code"]).headers["Location"] == "https://example.com/original"
    # Change the row behind the cache's back: a redirect that read PostgreSQL would see it.
    with db(stack) as conn:
        conn.execute("UPDATE links SET url = 'https://example.com/changed' WHERE code = %s", (link["code"],))
    for _ in range(6):  # any replica: the cache is shared
        assert follow(stack, link["code"]).headers["Location"] == "https://example.com/original"
    # Dropping the cache entry makes the next redirect read PostgreSQL, proving the above did not.
    cache(stack).delete(f"link:{link['code']}")
    assert follow(stack, link["code"]).headers["Location"] == "https://example.com/changed"


def test_unknown_codes_are_negatively_cached(stack):
    assert follow(stack, "ghost42").status_code == 404
    with db(stack) as conn:
        conn.execute("INSERT INTO links (code, url) VALUES ('ghost42', 'https://example.com/ghost')")
    assert follow(stack, "ghost42").status_code == 404  # still the cached "unknown"
    cache(stack).delete("link:ghost42")
    assert follow(stack, "ghost42").status_code == 302


def test_creating_an_alias_replaces_a_cached_unknown(stack):
    assert follow(stack, "fresh-alias").status_code == 404
    create_link(stack, url="https://example.com/fresh", alias="fresh-alias")
    assert follow(stack, "fresh-alias").headers["Location"] == "https://example.com/fresh"


def test_unknown_code_gets_a_404_page(stack):
    response = follow(stack, "doesNotExist")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "no short link here" in response.text
    assert response.headers["X-Served-By"] in {"app-1", "app-2", "app-3"}


def test_expired_link_is_gone(stack):
    with db(stack) as conn:
        conn.execute("INSERT INTO links (code, url, expires_at, public_stats)"
                     " VALUES ('old-news', 'https://example.com', %s, true)",
                     (datetime.now(timezone.utc) - timedelta(minutes=1),))
    response = follow(stack, "old-news")
    assert response.status_code == 410
    assert "expired" in response.text
    assert requests.get(f"{stack.url}/api/v1/links/old-news", timeout=5).json()["expired"] is True


def test_link_expires_while_cached(stack):
    expires = datetime.now(timezone.utc) + timedelta(seconds=2)
    link = create_link(stack, url="https://example.com/soon", expires_at=expires.isoformat())
    assert follow(stack, link["code"]).status_code == 302
    wait_for(lambda: follow(stack, link["code"]).status_code == 410, 10, "the link to expire", interval=0.5)


def test_a_cached_redirect_costs_one_redis_round_trip(stack):
    link = create_link(stack, url="https://example.com/one-trip")
    follow(stack, link["code"])  # the link is cached on creation; this warms every replica's script too
    commands: list[str] = []
    with cache(stack).monitor() as monitor:
        for i in range(5):  # a forwarded query changes nothing here
            assert requests.get(f"{stack.url}/{link['code']}?utm_source={i}", allow_redirects=False,
                                timeout=10).status_code == 302
        follow(stack, "endmarker9")
        while True:
            command = monitor.next_command()
            if "endmarker9" in command["command"]:
                break
            # Commands a script runs are reported too, marked as coming from "lua": not round trips.
            if command["client_type"] != "lua" and (link["code"] in command["command"]
                                                    or command["command"].startswith("XADD")):
                commands.append(command["command"].split()[0])
    assert commands == ["EVALSHA"] * 5


def test_a_stored_target_werkzeug_cannot_encode_still_redirects_exactly(stack):
    # Stored before such hosts were refused: werkzeug's IDNA step raises on it, which was a 500.
    code = create_link(stack, url="https://example.com/placeholder")["code"]
    with db(stack) as conn:
        conn.execute("UPDATE links SET url = 'https://a..b/' WHERE code = %s", (code,))
    cache(stack).delete(f"link:{code}")
    response = follow(stack, code)
    assert response.status_code == 302 and response.headers["Location"] == "https://a..b/"
