"""Faults injected for real into a stack of its own, under a steady bounded load.

Each test prints what it sent and what happened, so the figures reach the CI log.
"""

import json
import re
import signal
import time

import pytest
import requests

from tests.integration.support import SteadyLoad, create_link, db, disposable_stack, follow, stored_clicks, wait_for


@pytest.fixture(scope="module")
def stack():
    with disposable_stack(replicas=3, workers=1, env={"LINK_CREATE_RATE_LIMIT": "100000/minute"}) as running:
        yield running


def redirects(stack, code):
    return lambda session, seq: session.get(f"{stack.url}/{code}", allow_redirects=False, timeout=30)


def metric(stack, name: str) -> int:
    """A counter summed over the replicas, read from each replica directly."""
    total = 0.0
    for port in stack.app_ports.values():
        for line in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
            if line.startswith(f"{name} "):
                total += float(line.split()[1])
    return int(total)


def test_killed_and_stopped_replicas_fail_no_get_and_apply_no_post_twice(stack):
    code = create_link(stack, url="https://example.com/steady")["code"]
    def post(session, seq):
        return session.post(f"{stack.url}/api/v1/links", timeout=30, json={"url": f"https://example.com/fault/{seq}"})

    with SteadyLoad(redirects(stack, code), threads=4) as gets, SteadyLoad(post, threads=1, pause_s=0.1) as posts:
        time.sleep(1)
        stack.kill("app-1", signal.SIGKILL)
        time.sleep(1)
        stack.stop_process("app-2")  # SIGTERM: graceful
        time.sleep(2)
        stack.restart("app-1")
        stack.restart("app-2")
        time.sleep(1)
    failed_posts = posts.failed({201})
    print(f"\nGETs sent {len(gets.outcomes)}, failed {len(gets.failed({302}))}; POSTs sent {len(posts.outcomes)}, "
          f"failed {len(failed_posts)} ({sorted(str(o.status) for o in failed_posts)})")
    assert len(gets.outcomes) > 100 and gets.failed({302}) == []
    with db(stack) as conn:
        for outcome in posts.outcomes:
            rows = conn.execute("SELECT count(*) FROM links WHERE url = %s",
                                (f"https://example.com/fault/{outcome.seq}",)).fetchone()[0]
            assert rows <= 1, outcome  # never applied twice
            if outcome.status == 201:
                assert rows == 1, outcome


def test_rolling_restart_fails_no_request(stack):
    code = create_link(stack, url="https://example.com/rolling")["code"]
    with SteadyLoad(redirects(stack, code), threads=4) as load:
        for name in ("app-1", "app-2", "app-3"):
            stack.stop_process(name)
            stack.restart(name)
            time.sleep(0.5)
    print(f"\nrolling restart: requests sent {len(load.outcomes)}, failed {len(load.failed({302}))}")
    assert len(load.outcomes) > 100 and load.failed({302}) == []


REDIS_OUTAGE_LOGGED = "Redis unavailable, serving without it"


def logged(stack, text: str) -> int:
    """How many times the replicas logged `text`."""
    return sum((stack.logs_dir / f"{name}.log").read_text().count(text) for name in stack.app_ports)


def test_redis_outage_keeps_redirects_at_pace_and_loses_no_click(stack):
    code = create_link(stack, url="https://example.com/no-redis")["code"]
    with SteadyLoad(redirects(stack, code), threads=2) as before:
        time.sleep(3)
    made = len(before.outcomes)
    wait_for(lambda: stored_clicks(stack, code) == made, 30, f"{made} clicks stored before the outage")
    lost_before, spooled_before, warned_before = (metric(stack, "shortstack_clicks_lost_total"),
                                                  metric(stack, "shortstack_clicks_spooled_total"),
                                                  logged(stack, REDIS_OUTAGE_LOGGED))

    stack.stop_process("redis")
    with SteadyLoad(redirects(stack, code), threads=2) as during:
        time.sleep(3)
        ready = requests.get(f"{stack.url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unavailable"
    assert "refused" not in ready.text.lower() and "127.0.0.1" not in ready.text  # the reason is logged only
    assert during.failed({302}) == [], during.failed({302})[:3]
    made += len(during.outcomes)
    # Each replica process noticed the outage once (its circuit breaker), not once per request.
    warned = logged(stack, REDIS_OUTAGE_LOGGED) - warned_before
    assert 1 <= warned <= len(stack.app_ports), warned

    stack.restart("redis")
    wait_for(lambda: requests.get(f"{stack.url}/readyz", timeout=10).status_code == 200, 30, "readiness after Redis")
    made += sum(follow(stack, code).status_code == 302 for _ in range(20))
    wait_for(lambda: stored_clicks(stack, code) >= made, 30, f"{made} stored clicks")
    time.sleep(1)  # a replay sent twice would show up now
    spooled = metric(stack, "shortstack_clicks_spooled_total") - spooled_before
    slowest = max(o.seconds for o in during.outcomes)
    print(f"\nRedis outage: redirects before {len(before.outcomes)} in 3 s, during {len(during.outcomes)} in 3 s "
          f"(ratio {len(during.outcomes) / len(before.outcomes):.2f}, slowest {slowest * 1000:.0f} ms), all 302; "
          f"clicks made {made}, stored {stored_clicks(stack, code)}, spooled and replayed {spooled}")
    assert stored_clicks(stack, code) == made
    assert metric(stack, "shortstack_clicks_lost_total") == lost_before
    assert spooled > 0
    with db(stack) as conn:
        assert conn.execute("SELECT click_count FROM links WHERE code = %s", (code,)).fetchone()[0] == made


def test_postgres_outage_serves_cached_links_and_refuses_writes_clearly(stack):
    code = create_link(stack, url="https://example.com/no-postgres")["code"]
    assert follow(stack, code).status_code == 302  # now cached

    stack.stop_process("postgres")
    with SteadyLoad(redirects(stack, code), threads=2) as load:
        create = requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/while-down"}, timeout=30)
        time.sleep(1)
    assert load.failed({302}) == [], load.failed({302})[:3]
    assert create.status_code == 503
    assert create.headers["Content-Type"] == "application/problem+json"
    assert int(create.headers["Retry-After"]) > 0
    assert "database is unavailable" in create.json()["detail"]

    stack.restart("postgres")
    wait_for(lambda: requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/back"},
                                   timeout=30).status_code == 201, 30, "link creation after PostgreSQL")
    made = 1 + len(load.outcomes)
    wait_for(lambda: stored_clicks(stack, code) == made, 30, f"{made} clicks stored after recovery")
    print(f"\nPostgreSQL outage: cached redirects {len(load.outcomes)} (all 302), create answered "
          f"{create.status_code} with Retry-After {create.headers['Retry-After']}, clicks stored after recovery "
          f"{stored_clicks(stack, code)} of {made}")


def test_a_hung_replica_is_cut_off_and_costs_no_request(stack):
    code = create_link(stack, url="https://example.com/hung")["code"]
    follow(stack, code)
    stack.kill("app-3", signal.SIGSTOP)
    try:
        with SteadyLoad(redirects(stack, code), threads=8) as load:
            time.sleep(25)
    finally:
        stack.kill("app-3", signal.SIGCONT)
    slow = [o for o in load.outcomes if o.seconds > 9]
    print(f"\nhung replica: requests {len(load.outcomes)}, failed {len(load.failed({302}))}, "
          f"delayed by nginx's 10 s read timeout {len(slow)}")
    assert load.failed({302}) == []
    assert slow, "no request ever waited on the hung replica; was it really stopped?"
    # After the first timeouts nginx marks it failed and only probes it now and then.
    assert len(slow) <= 0.05 * len(load.outcomes)
    wait_for(lambda: follow(stack, code).headers["X-Served-By"] == "app-3", 30, "app-3 to serve again")


def test_with_every_replica_gone_a_get_is_tried_twice_a_post_once_and_both_explained():
    with disposable_stack(replicas=1, workers=0) as lonely:
        lonely.stop_process("app-1")
        page = requests.get(f"{lonely.url}/anything", timeout=30)
        api = requests.get(f"{lonely.url}/api/v1/links/anything", timeout=30)
        create = requests.post(f"{lonely.url}/api/v1/links", json={"url": "https://example.com/x"}, timeout=30)
        log = [line for line in (lonely.logs_dir / "nginx.log").read_text().splitlines() if '"status":502' in line]
    assert page.status_code == 502 and "Temporarily unavailable" in page.text
    assert api.status_code == 502 and api.headers["Content-Type"] == "application/problem+json"
    assert create.status_code == 502 and create.headers["Content-Type"] == "application/problem+json"
    tries = {json.loads(line)["uri"]: len(re.findall(r"\d+\.\d+\.\d+\.\d+:\d+", json.loads(line)["upstream_addr"]))
             for line in log}
    # A GET gets a second pass over the replica list (@again in nginx's config); a POST does not.
    assert tries == {"/anything": 2, "/api/v1/links/anything": 2, "/api/v1/links": 1}, log


def test_a_postgres_restart_costs_no_failed_request(stack):
    code = create_link(stack, url="https://example.com/pg-restart")["code"]

    def create(session, seq):
        return session.post(f"{stack.url}/api/v1/links", timeout=30, json={"url": f"https://example.com/pg/{seq}"})

    def stats(session, seq):  # read from PostgreSQL on every request: the stats cache is skipped
        return session.get(f"{stack.url}/api/v1/links/{code}", timeout=30)

    with SteadyLoad(create, threads=2, pause_s=0.05) as creates, SteadyLoad(stats, threads=2) as reads:
        time.sleep(1)
        stack.restart("postgres")  # a fast shutdown and start, as `docker compose restart postgres`
        time.sleep(3)
    failed = creates.failed({201}) + reads.failed({200})
    retried = logged(stack, "died mid-transaction")
    print(f"\nPostgreSQL restart: creates {len(creates.outcomes)}, reads {len(reads.outcomes)}, failed {len(failed)} "
          f"({sorted(str(o.status) for o in failed)}), slowest {max(o.seconds for o in creates.outcomes):.1f} s, "
          f"transactions run again after their connection died {retried}")
    assert len(creates.outcomes) > 20 and failed == [], failed[:3]
    with db(stack) as conn:  # a create run again after its connection died is stored once
        stored = dict(conn.execute("SELECT url, count(*) FROM links WHERE url LIKE 'https://example.com/pg/%%'"
                                   " GROUP BY url").fetchall())
    assert stored == {f"https://example.com/pg/{o.seq}": 1 for o in creates.outcomes}
