"""Who is serving: heartbeats in Redis from every app process and click worker, and their sum.

Each gunicorn worker process and each click worker writes a small hash every second with a
5-second TTL, so a process that dies disappears from the view within seconds. GET
/api/v1/cluster and the /cluster page read them all.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable

import redis

from . import clickstream

KEY_PREFIX = "heartbeat:"
INTERVAL_S = 1.0
TTL_S = 5
# Requests that are not traffic, by Flask endpoint: health checks (Docker's, every few seconds per
# container), Prometheus' scrape and /cluster's own polling. Counted, they made an idle stack show
# a steady few req/s. /metrics still counts them, by endpoint.
NOT_TRAFFIC = frozenset({"health.healthz", "health.readyz", "metrics.prometheus_metrics", "api.get_cluster"})


def _write(client: redis.Redis, key: str, fields: dict[str, object]) -> None:
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
        pipe.expire(key, TTL_S)
        pipe.execute()


class AppHeartbeat:
    """The heartbeat of one gunicorn worker process: requests served and its rate.

    It is also the probe of the process's Redis circuit breaker: `redis_call(probe=True)` (see
    Backends.redis_call) runs even while the breaker is open and closes it when Redis answers, and
    `after_beat(client)` then runs (replaying the clicks spooled meanwhile)."""

    def __init__(self, redis_call: Callable[..., AbstractContextManager[redis.Redis]], instance_id: str,
                 version: str, after_beat: Callable[[redis.Redis], object] = lambda client: None) -> None:
        self._redis_call = redis_call
        self._after_beat = after_beat
        self._instance_id = instance_id
        self._version = version
        self.started_at = time.time()
        self.requests = 0

    def start(self) -> None:
        """Beat from a daemon thread of this process (gunicorn creates the app after forking)."""
        threading.Thread(target=self._beat, args=(os.getpid(),), name="heartbeat", daemon=True).start()

    def count_request(self, endpoint: str) -> None:
        """Count one answered request to the Flask `endpoint`, unless it is not traffic (NOT_TRAFFIC)."""
        if endpoint not in NOT_TRAFFIC:
            self.requests += 1

    def _beat(self, pid: int) -> None:
        key = f"{KEY_PREFIX}app:{self._instance_id}:{pid}"
        last = self.requests
        while True:
            time.sleep(INTERVAL_S)
            now = self.requests
            try:
                with self._redis_call(probe=True) as client:
                    _write(client, key, {"kind": "app", "instance": self._instance_id, "pid": pid,
                                         "version": self._version, "started_at": self.started_at,
                                         "requests": now, "requests_per_s": (now - last) / INTERVAL_S})
                    self._after_beat(client)
            except redis.RedisError:
                pass  # Redis is down: this replica simply drops out of the view until it is back
            last = now


def worker_heartbeat(client: redis.Redis, name: str, started_at: float, stored: int, stored_per_s: float,
                     pending: int) -> None:
    """Announce a click worker, with what it has stored and what it holds unacknowledged."""
    _write(client, f"{KEY_PREFIX}worker:{name}", {"kind": "worker", "name": name, "pid": os.getpid(),
                                                  "started_at": started_at, "stored": stored,
                                                  "stored_per_s": stored_per_s, "pending": pending})


def snapshot(client: redis.Redis) -> dict:
    """Every live replica (its processes summed), their total request rate, every click worker, and
    the click stream's backlog."""
    keys = sorted(client.scan_iter(match=f"{KEY_PREFIX}*", count=500))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        beats = [b for b in pipe.execute() if b]
    now = time.time()
    replicas: dict[str, dict] = {}
    workers = []
    for beat in beats:
        uptime = round(now - float(beat["started_at"]))
        if beat["kind"] == "app":
            # A count of processes, not their pids: this view is public. A replica started before
            # versions were reported has none.
            replica = replicas.setdefault(beat["instance"], {"instance": beat["instance"],
                                                             "version": beat.get("version", "unknown"), "processes": 0,
                                                             "uptime_s": 0, "requests": 0, "requests_per_s": 0.0})
            replica["processes"] += 1
            replica["uptime_s"] = max(replica["uptime_s"], uptime)
            replica["requests"] += int(beat["requests"])
            replica["requests_per_s"] += float(beat["requests_per_s"])
        else:
            workers.append({"name": beat["name"], "uptime_s": uptime,
                            "stored": int(beat["stored"]), "stored_per_s": float(beat["stored_per_s"]),
                            "pending": int(beat["pending"])})
    return {
        "replicas": sorted(replicas.values(), key=lambda r: r["instance"]),
        "requests_per_s": sum(r["requests_per_s"] for r in replicas.values()),
        "workers": sorted(workers, key=lambda w: w["name"]),
        "stream": _stream(client),
    }


def _stream(client: redis.Redis) -> dict:
    try:
        groups = client.xinfo_groups(clickstream.STREAM)
    except redis.ResponseError:  # no click has been queued yet
        groups = []
    group = next((g for g in groups if g["name"] == clickstream.GROUP), None)
    return {"length": client.xlen(clickstream.STREAM), "pending": group["pending"] if group else 0,
            "unread": group.get("lag") if group else None, "dropped": clickstream.dropped(client)}
