"""Prometheus metrics of one replica, summed over its gunicorn workers.

gunicorn's workers are separate processes, so prometheus_client runs in multiprocess mode when
PROMETHEUS_MULTIPROC_DIR is set (each replica has its own folder, emptied when it starts, see
gunicorn.conf.py). GET /metrics on a replica (web/metrics_view.py) answers for the whole replica; nginx
does not expose it — scrape the replicas directly (the `observability` compose profile's Prometheus does).
No web imports here: the link store counts too.
"""

from __future__ import annotations

import os
from typing import Iterator

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import clickstream

CLICKS_QUEUED = Counter("shortstack_clicks_queued_total", "Clicks appended to the click stream.")
CLICKS_SPOOLED = Counter("shortstack_clicks_spooled_total",
                         "Clicks kept in the process while Redis was unavailable, queued once it answers.")
CLICKS_LOST = Counter("shortstack_clicks_lost_total",
                      "Clicks lost: Redis was unavailable and the process's click spool was full.")
CACHE_LOOKUPS = Counter("shortstack_link_cache_lookups_total", "Link cache lookups by result.", ["result"])
# Bound once: the redirect path should not look its label up on every request.
CACHE_HIT, CACHE_NEGATIVE_HIT, CACHE_MISS = (CACHE_LOOKUPS.labels(r) for r in ("hit", "negative_hit", "miss"))
REQUESTS = Counter("shortstack_http_requests_total", "Requests answered, by endpoint and status.",
                   ["endpoint", "status"])
# From the view's start to its response, by endpoint: the redirect's p99 is an alert. nginx's own
# timings are in its access log; stub_status has none.
REQUEST_SECONDS = Histogram("shortstack_http_request_duration_seconds", "Time to answer a request, by endpoint.",
                            ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
# Counted by the click worker, served on its own port (WORKER_METRICS_PORT).
CLICKS_STORED = Counter("shortstack_clicks_stored_total", "Clicks a click worker stored (not redelivered ones).")


def registry() -> CollectorRegistry:
    """The registry that sees every worker process of this replica."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined


def total(name: str) -> float:
    """The value of a counter summed over labels and worker processes, e.g. for /readyz."""
    return sum(sample.value for family in registry().collect() if family.name == name.removesuffix("_total")
               for sample in family.samples if sample.name == name)



class ClickStreamCollector:
    """The click stream's backlog and the clicks its cap dropped, read from Redis at scrape time.
    Every replica shares the stream, so every replica reports the same values (alert on one)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def collect(self) -> Iterator[Metric]:
        try:
            length, dropped = self._client.xlen(clickstream.STREAM), clickstream.dropped(self._client)
        except redis.RedisError:
            return  # Redis down: /readyz says so; no made-up values here
        yield GaugeMetricFamily("shortstack_click_stream_length", "Clicks queued and not yet stored.", value=length)
        yield CounterMetricFamily("shortstack_clicks_dropped", "Clicks the stream's length cap dropped.",
                                  value=dropped)


def click_stream_registry(client: redis.Redis) -> CollectorRegistry:
    """A registry with just the click stream's figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ClickStreamCollector(client))
    return registry
