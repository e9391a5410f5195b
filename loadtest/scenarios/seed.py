"""The seed set of short links the load test follows, created through the public API.

Aliases are fixed (seed-0001, …), so every Locust process of a run, and every later run, agrees
on the same set: a process looks each link up, creates it only if missing, and treats a 409 from
a racing process as success. Seeding uses plain HTTP, outside Locust's statistics: it is set-up,
not user behaviour.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import urllib.error
import urllib.request

import gevent.lock

# Few enough that seeding plus a minute of the Creator (CREATOR_PACE_S) stays inside the app's
# default creation limit of 30 a minute per client: a fresh stack seeds at once, nobody waits.
SEED_LINKS = 20
# Link popularity is heavily skewed: a Zipf law with this exponent over the seed set.
ZIPF_EXPONENT = 1.1
SEED_TIMEOUT_S = 60

SEEDS = [(f"seed-{i:04d}", f"https://example.com/seed/{i}") for i in range(1, SEED_LINKS + 1)]
_CUMULATIVE = list(itertools.accumulate(1 / rank**ZIPF_EXPONENT for rank in range(1, SEED_LINKS + 1)))


def popular_link(rng: random.Random) -> tuple[str, str]:
    """A seed (code, target), drawn with Zipf-skewed popularity."""
    return rng.choices(SEEDS, cum_weights=_CUMULATIVE)[0]


def _call(request: urllib.request.Request) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, {}, dict(error.headers)


def ensure_seeds(host: str) -> None:
    """Make sure every seed link exists on `host` with its target."""
    deadline = time.monotonic() + SEED_TIMEOUT_S
    for code, url in SEEDS:
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not create the seed links on {host} within {SEED_TIMEOUT_S}s")
            status, link, _ = _call(urllib.request.Request(f"{host}/api/v1/links/{code}"))
            if status == 200:
                if link["url"] != url:
                    raise RuntimeError(f"{code} exists but points at {link['url']}, not {url}")
                break
            body = json.dumps({"url": url, "alias": code}).encode()
            status, _, headers = _call(urllib.request.Request(
                f"{host}/api/v1/links", data=body, headers={"Content-Type": "application/json"}))
            if status == 429:  # the balancer's creation limit: wait as asked
                time.sleep(float(headers.get("Retry-After", "1")))


_seeding = gevent.lock.Semaphore()
_seeded = False


def seed_once(host: str) -> None:
    """ensure_seeds once per Locust process, before any of its users sends traffic."""
    global _seeded
    with _seeding:
        if not _seeded:
            ensure_seeds(host)
            _seeded = True
