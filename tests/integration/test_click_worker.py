"""The click worker against real Redis and PostgreSQL: crashes and redelivery never lose or double a click."""

import signal
import time

import pytest

from click_worker import enrich, store_batch
from shortstack.clickstream import GROUP, STREAM, ClickEvent
from shortstack.streams import ensure_group
from support import cache, click_count, create_link, db, disposable_stack, follow, wait_for

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


def stored_clicks(stack, codes: list[str]) -> int:
    with db(stack) as conn:
        return conn.execute("SELECT count(*) FROM clicks WHERE code = ANY(%s)", (codes,)).fetchone()[0]


def counted_clicks(stack, codes: list[str]) -> int:
    with db(stack) as conn:
        return conn.execute("SELECT sum(click_count) FROM links WHERE code = ANY(%s)", (codes,)).fetchone()[0]


def pending(stack) -> dict[str, int]:
    return {c["name"]: c["pending"] for c in cache(stack).xinfo_consumers(STREAM, GROUP)}


def test_kill_9_mid_batch_then_recover_stores_every_click_once(stack):
    codes = [create_link(stack, url=f"https://example.com/{i}")["code"] for i in range(5)]
    for code in codes:  # a few real redirects on top of the synthetic backlog
        assert follow(stack, code).status_code == 302
    queue_backlog(stack, codes, BACKLOG)
    total = BACKLOG + len(codes)

    stack.add_worker("worker-a")
    wait_for(lambda: stored_clicks(stack, codes) > 0, 30, "worker-a to store something", interval=0.01)
    stack.kill("worker-a", signal.SIGKILL)
    at_kill, pending_at_kill = stored_clicks(stack, codes), pending(stack).get("worker-a", 0)
    assert at_kill < total, "worker-a finished before it could be killed; raise BACKLOG"

    # Two fresh workers share the rest and claim what worker-a held.
    stack.add_worker("worker-b")
    stack.add_worker("worker-c")
    wait_for(lambda: stored_clicks(stack, codes) == total, 60, f"all {total} clicks stored")
    wait_for(lambda: sum(pending(stack).values()) == 0, 10, "nothing left pending")
    print(f"\nclicks made {total}, stored by worker-a before kill -9 {at_kill}, pending on it {pending_at_kill}, "
          f"stored after recovery {stored_clicks(stack, codes)}, counted {counted_clicks(stack, codes)}")

    assert stored_clicks(stack, codes) == total
    assert counted_clicks(stack, codes) == total
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
    wait_for(lambda: pending(stack).get("crashed-consumer", 1) == 0, 15, "the entries to be claimed and acked")
    assert click_count(stack, code) == 10
    assert stored_clicks(stack, [code]) == 10
    stack.stop_process("worker-d")


def test_sigterm_finishes_the_batch_in_hand_and_exits(stack):
    code = create_link(stack, url="https://example.com/sigterm")["code"]
    queue_backlog(stack, [code], BACKLOG)
    worker = stack.add_worker("worker-e")
    wait_for(lambda: stored_clicks(stack, [code]) > 0, 30, "worker-e to store something", interval=0.01)
    worker.signal(signal.SIGTERM)
    assert worker.popen.wait(10) == 0
    # Whatever it read it stored and acknowledged: nothing is left pending on it, nothing is lost.
    assert pending(stack).get("worker-e", 0) == 0
    assert stored_clicks(stack, [code]) + cache(stack).xlen(STREAM) == BACKLOG
    assert counted_clicks(stack, [code]) == stored_clicks(stack, [code])
