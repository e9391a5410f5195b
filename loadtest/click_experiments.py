"""The click worker's experiments: how fast one worker stores a queued backlog, and whether a
link's stats cost grows with its clicks. Both queue clicks straight into the stream."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from pathlib import Path

import redis

from local_stack import LocalStack
from shortstack import clickstream

from .meters import CpuMeter
from .plan import NO_LIMIT_ENV, Plan
from .report import Point
from .runners import Target, WrkPath, measure_wrk
from .scenarios.seed import SEEDS

USER_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
               "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
               "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0", "")
REFERRERS = ("", "https://news.ycombinator.com/item?id=1", "https://t.co/abc", "https://www.google.com/")


# The worst case of the worker's User-Agent classification: a browser it has never seen, so
# ua-parser and every crawler pattern run, and no cached answer helps.
NEW_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.{} Safari/537.36"
INGEST_LABELS = {False: "repeated User-Agents", True: "a new User-Agent per click"}


def measure_ingest(stack: LocalStack, events: int, new_agents: bool = False) -> Point:
    """Stop the click worker, queue `events` clicks on the seed links, start it, time the drain.

    With `new_agents` every click carries a User-Agent never seen before, so the worker classifies
    each one (real traffic repeats User-Agents, and the worker caches the answer per string)."""
    print(f"  ingest: one click worker, {events} queued clicks, {INGEST_LABELS[new_agents]}", flush=True)
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    stack.stop_process("worker-1")
    rng = random.Random(1)
    now_ms = time.time_ns() // 1_000_000
    for start in range(0, events, 5000):
        with client.pipeline(transaction=False) as pipe:
            for n in range(start, min(events, start + 5000)):
                agent = NEW_USER_AGENT.format(n) if new_agents else rng.choice(USER_AGENTS)
                click = clickstream.ClickEvent(rng.choice(SEEDS)[0], now_ms, rng.choice(REFERRERS), agent)
                clickstream.append(pipe, click, max_len=events)  # a backlog this size on purpose: no cap
            pipe.execute()
    stack.processes["worker-1"].start()
    meter = CpuMeter(stack)
    deadline = time.monotonic() + 300
    while client.xlen(clickstream.STREAM) >= events and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.monotonic()
    meter.start()
    while client.xlen(clickstream.STREAM) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the click worker did not drain the stream within 300 s")
        time.sleep(0.01)
    seconds = time.monotonic() - started
    point = Point(experiment="ingest", label=INGEST_LABELS[new_agents], replicas=0, worker_class="", users=0,
                  seconds=seconds, requests=events, failures=0, rps=events / seconds, p50_ms=0, p95_ms=0,
                  p99_ms=0, cpu_percent=meter.stop(seconds))
    print(f"    {point.rps:.0f} clicks/s, CPU {point.total_cpu:.0f}%", flush=True)
    return point


# --- stats of a link with many clicks ------------------------------------------------------------

STATS_SMALL_CLICKS = 1_000
STATS_SPREAD_MS = 30 * 24 * 3600 * 1000  # the clicks fill every hour the stats show
STATS_QUEUE_CHUNK = 50_000  # queued while the worker drains, so Redis never holds more than this


def run_stats_cost(stack: LocalStack, target: Target, plan: Plan, out: Path) -> list[Point]:
    """GET /stats of a link with plan.stats_clicks clicks and of one with STATS_SMALL_CLICKS, both
    spread over 30 days, stored through the click worker, read uncached (STATS_CACHE_TTL=0) from
    one replica: the same cost means the stats do not grow with the clicks."""
    codes = {}
    for clicks in (plan.stats_clicks, STATS_SMALL_CLICKS):
        codes[clicks] = create_on_replica(stack, f"https://example.com/stats-{clicks}")
        print(f"  stats-cost: storing {clicks} clicks on {codes[clicks]}", flush=True)
        _store_spread_clicks(stack, codes[clicks], clicks)
    stack.set_replicas(2, {**NO_LIMIT_ENV, "STATS_CACHE_TTL": "0"})
    replica = f"http://127.0.0.1:{next(iter(stack.app_ports.values()))}"
    points = [measure_wrk(target, plan, out, "stats-cost",
                          WrkPath(f"{clicks} clicks", replica, (f"/api/v1/links/{code}/stats",)), 1, "default")
              for clicks, code in codes.items()]
    stack.set_replicas(2)
    return points


def create_on_replica(stack: LocalStack, url: str) -> str:
    replica = f"http://127.0.0.1:{next(iter(stack.app_ports.values()))}"
    with urllib.request.urlopen(urllib.request.Request(
            f"{replica}/api/v1/links", data=json.dumps({"url": url}).encode(),
            headers={"Content-Type": "application/json"})) as response:
        return json.load(response)["code"]


def _store_spread_clicks(stack: LocalStack, code: str, clicks: int) -> None:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    rng = random.Random(2)
    now_ms = time.time_ns() // 1_000_000
    deadline = time.monotonic() + 600
    for start in range(0, clicks, STATS_QUEUE_CHUNK):
        with client.pipeline(transaction=False) as pipe:
            for _ in range(start, min(clicks, start + STATS_QUEUE_CHUNK)):
                click = clickstream.ClickEvent(code, now_ms - rng.randrange(STATS_SPREAD_MS), rng.choice(REFERRERS),
                                               rng.choice(USER_AGENTS))
                clickstream.append(pipe, click, max_len=2 * STATS_QUEUE_CHUNK)
            pipe.execute()
        while client.xlen(clickstream.STREAM) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the click worker did not store the stats clicks within 600 s")
            time.sleep(0.05)

