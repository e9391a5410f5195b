"""The click worker against real Redis and PostgreSQL: crashes and redelivery never lose or double a click."""

import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from click_worker import StoredClick, enrich, store_batch
from shortstack.clickstream import GROUP, STREAM, ClickEvent
from shortstack.streams import ensure_group
from tests.integration.support import (
    cache,
    click_count,
    create_link,
    db,
    disposable_stack,
    follow,
    stored_clicks,
    wait_for,
)

BACKLOG = 20_000


@pytest.fixture(scope="module")
def stack():
    """One replica and no worker: each test starts and kills the workers it needs."""
    env = {"CLICK_BATCH_SIZE": "50", "CLICK_CLAIM_IDLE_MS": "1000", "LINK_CREATE_RATE_LIMIT": "100000/minute"}
    with disposable_stack(replicas=1, workers=0, env=env) as running:
        yield running


def queue_backlog(stack, codes: list[str], count: int) -> None:
    """Append `count` click events, as redirects would, spread over `codes`."""
    redis = cache(stack)
    now_ms = int(time.time() * 1000)
    pipe = redis.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(STREAM, ClickEvent(code=codes[i % len(codes)], at_ms=now_ms + i, user_agent="curl/8").to_fields())
    pipe.execute()


def counted_clicks(stack, codes: list[str]) -> int:
    with db(stack) as conn:
        return conn.execute("SELECT sum(click_count) FROM links WHERE code = ANY(%s)", (codes,)).fetchone()[0]


def counters(stack, codes: list[str]) -> dict[str, int]:
    """What the stats read (totals, hourly and referrer counters) beside the stored clicks they count."""
    with db(stack) as conn:
        return {name: conn.execute(query, (codes,)).fetchone()[0] for name, query in {
            "stored": "SELECT count(*) FROM clicks WHERE code = ANY(%s)",
            "total": "SELECT sum(click_count) FROM links WHERE code = ANY(%s)",
            "hourly": "SELECT sum(clicks) FROM clicks_hourly WHERE code = ANY(%s)",
            "referrers": "SELECT sum(clicks) FROM referrer_counts WHERE code = ANY(%s)",
            "user agents": "SELECT sum(clicks) FROM user_agent_counts WHERE code = ANY(%s)",
            "bots stored": "SELECT count(*) FROM clicks WHERE is_bot AND code = ANY(%s)",
            "bots": "SELECT sum(bot_click_count) FROM links WHERE code = ANY(%s)"}.items()}


def pending(stack) -> dict[str, int]:
    return {c["name"]: c["pending"] for c in cache(stack).xinfo_consumers(STREAM, GROUP)}


def test_kill_9_mid_batch_then_recover_stores_every_click_once(stack):
    codes = [create_link(stack, url=f"https://example.com/{i}")["code"] for i in range(5)]
    for code in codes:  # a few real redirects on top of the synthetic backlog
        assert follow(stack, code).status_code == 302
    queue_backlog(stack, codes, BACKLOG)
    total = BACKLOG + len(codes)

    stack.add_worker("worker-a")
    wait_for(lambda: stored_clicks(stack, *codes) > 0, 30, "worker-a to store something", interval=0.01)
    stack.kill("worker-a", signal.SIGKILL)
    at_kill, pending_at_kill = stored_clicks(stack, *codes), pending(stack).get("worker-a", 0)
    assert at_kill < total, "worker-a finished before it could be killed; raise BACKLOG"

    # Two fresh workers share the rest and claim what worker-a held.
    stack.add_worker("worker-b")
    stack.add_worker("worker-c")
    wait_for(lambda: stored_clicks(stack, *codes) == total, 60, f"all {total} clicks stored")
    wait_for(lambda: sum(pending(stack).values()) == 0, 10, "nothing left pending")
    print(f"\nclicks made {total}, stored by worker-a before kill -9 {at_kill}, pending on it {pending_at_kill}, "
          f"stored after recovery {stored_clicks(stack, *codes)}, counted {counted_clicks(stack, codes)}")

    assert stored_clicks(stack, *codes) == total
    assert counted_clicks(stack, codes) == total
    assert counters(stack, codes) == {"stored": total, "total": total, "hourly": total, "referrers": total,
                                      "user agents": total, "bots stored": total, "bots": total}
    assert cache(stack).xlen(STREAM) == 0  # acknowledged entries are removed: the stream is the backlog
    stack.stop_process("worker-b")
    stack.stop_process("worker-c")


def test_a_batch_committed_but_never_acknowledged_is_not_counted_twice(stack):
    code = create_link(stack, url="https://example.com/redelivered")["code"]
    for _ in range(10):
        follow(stack, code)
    redis = cache(stack)
    ensure_group(redis, STREAM, GROUP)
    # A consumer reads the clicks and commits them, then dies before XACK.
    entries = redis.xreadgroup(GROUP, "crashed-consumer", {STREAM: ">"}, count=100)[0][1]
    assert len(entries) == 10
    with db(stack) as conn:
        assert store_batch(conn, [enrich(i, ClickEvent.from_fields(f)) for i, f in entries]) == 10
    assert click_count(stack, code) == 10

    stack.add_worker("worker-d")  # claims the dead consumer's entries once they are 1 s idle
    # Once it holds nothing, the dead consumer's name is removed from the group too.
    wait_for(lambda: "crashed-consumer" not in pending(stack) and sum(pending(stack).values()) == 0, 15,
             "the entries to be claimed, stored again and acked")
    assert click_count(stack, code) == 10
    assert stored_clicks(stack, code) == 10
    assert counters(stack, [code]) == {"stored": 10, "total": 10, "hourly": 10, "referrers": 10,
                                       "user agents": 10, "bots stored": 10, "bots": 10}
    stack.stop_process("worker-d")


def test_stats_from_the_counters_agree_with_the_stored_clicks(stack):
    code = create_link(stack, url="https://example.com/history")["code"]
    now = datetime.now(timezone.utc)
    ages = [timedelta(0)] * 3 + [timedelta(hours=5)] * 2 + [timedelta(days=3)] + [timedelta(days=40)] * 4
    referrers = ["news.example", None, "news.example", "blog.example", None, "news.example", None, None, None, None]
    visitors = ["bot" if i % 5 == 0 else "preview" if i == 3 else "human" for i in range(10)]
    browsers = ["Firefox", "Chrome", "Firefox", "Other", "Mobile Safari", "Googlebot", "Firefox", "Chrome", "Firefox",
                "Chrome"]
    def device(browser: str, visitor: str) -> str:
        return "mobile" if browser == "Mobile Safari" else "desktop" if visitor == "human" else "bot"

    clicks = [StoredClick(stream_id=f"history-{i}", code=code, clicked_at=now - age, referrer_host=referrer,
                          ua_family=browser, visitor=visitor, device_type=device(browser, visitor),
                          os_family="iOS" if browser == "Mobile Safari" else "Linux")
              for i, (age, referrer, visitor, browser) in enumerate(zip(ages, referrers, visitors, browsers))]
    with db(stack) as conn:
        assert store_batch(conn, clicks[:6]) == 6
        assert store_batch(conn, clicks) == 4  # the first six again, skipped, and four more
        # The statistics as they were computed before the counters existed, from every click.
        by_hour = conn.execute("SELECT date_trunc('hour', clicked_at, 'UTC'), count(*) FROM clicks WHERE code = %s"
                               " AND clicked_at >= date_trunc('hour', now() - interval '47 hours', 'UTC')"
                               " GROUP BY 1 ORDER BY 1", (code,)).fetchall()
        by_day = conn.execute("SELECT date_trunc('day', clicked_at, 'UTC'), count(*) FROM clicks WHERE code = %s"
                              " AND clicked_at >= date_trunc('day', now() - interval '29 days', 'UTC')"
                              " GROUP BY 1 ORDER BY 1", (code,)).fetchall()
    stats = requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).json()
    assert (stats["total_clicks"], stats["bot_clicks"]) == (10, 3)
    assert stats["visitors"] == {"human": 7, "bot": 2, "preview": 1}
    # Every hour and day shown, those without clicks at 0, so a chart of them shows time as it passed.
    assert len(stats["by_hour"]) == 48 and len(stats["by_day"]) == 30
    assert datetime.fromisoformat(stats["by_hour"][-1]["hour"]) == now.replace(minute=0, second=0, microsecond=0)
    assert stats["by_day"][-1]["day"] == now.date().isoformat()
    assert [(row["hour"], row["clicks"]) for row in stats["by_hour"] if row["clicks"]] == [
        (h.isoformat(), n) for h, n in by_hour]
    assert [(row["day"], row["clicks"]) for row in stats["by_day"] if row["clicks"]] == [
        (d.date().isoformat(), n) for d, n in by_day]
    assert sum(row["clicks"] for row in stats["by_hour"]) == 5 and sum(row["clicks"] for row in stats["by_day"]) == 6
    assert stats["top_referrers"] == [{"host": None, "clicks": 6}, {"host": "news.example", "clicks": 3},
                                      {"host": "blog.example", "clicks": 1}]
    # Who clicked, counted once although the first six clicks were stored twice.
    assert stats["browsers"] == [{"name": "Firefox", "clicks": 4}, {"name": "Chrome", "clicks": 3},
                                 {"name": "Googlebot", "clicks": 1}, {"name": "Mobile Safari", "clicks": 1},
                                 {"name": "Other", "clicks": 1}]
    assert stats["operating_systems"] == [{"name": "Linux", "clicks": 9}, {"name": "iOS", "clicks": 1}]
    assert stats["devices"] == [{"name": "desktop", "clicks": 6}, {"name": "bot", "clicks": 3},
                                {"name": "mobile", "clicks": 1}]


def test_sigterm_finishes_the_batch_in_hand_and_exits(stack):
    code = create_link(stack, url="https://example.com/sigterm")["code"]
    queue_backlog(stack, [code], BACKLOG)
    worker = stack.add_worker("worker-e")
    wait_for(lambda: stored_clicks(stack, code) > 0, 30, "worker-e to store something", interval=0.01)
    worker.signal(signal.SIGTERM)
    assert worker.popen.wait(10) == 0
    # Whatever it read it stored and acknowledged: nothing is left pending on it, nothing is lost.
    assert pending(stack).get("worker-e", 0) == 0
    assert stored_clicks(stack, code) + cache(stack).xlen(STREAM) == BACKLOG
    assert counted_clicks(stack, [code]) == stored_clicks(stack, code)


def test_consumers_do_not_pile_up_in_the_group(stack):
    code = create_link(stack, url="https://example.com/consumers")["code"]
    redis = cache(stack)
    ensure_group(redis, STREAM, GROUP)
    # Three restarts' worth of names: each worker names itself anew (host name and pid).
    for name in ("worker-f", "worker-g", "worker-h"):
        worker = stack.add_worker(name)
        follow(stack, code)
        wait_for(lambda: name in pending(stack), 15, f"{name} to join the group")
        stack.stop_process(name)
        assert worker.popen.returncode == 0
        assert name not in pending(stack), "a worker that stopped holding nothing must leave the group"
    # One that vanished without leaving (kill -9 while idle) is removed by a live one once idle.
    redis.xreadgroup(GROUP, "vanished", {STREAM: ">"}, count=1, block=None)
    worker = stack.add_worker("worker-i")
    wait_for(lambda: set(pending(stack)) == {"worker-i"}, 15, "only the live worker left in the group")
    wait_for(lambda: click_count(stack, code) == 3, 15, "every click stored")
    # Idle past CLICK_CLAIM_IDLE_MS (2 s here) with nothing to read: its own sweeps never remove
    # it (Redis before 7.2 counts an empty read as idle time).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert "worker-i" in pending(stack), "the live worker removed itself from the group"
        time.sleep(0.2)
    stack.stop_process("worker-i")
    assert pending(stack) == {}
