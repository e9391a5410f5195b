"""Watching it: `docker compose --profile observability up`, as docs/operations.md says. Prometheus
scrapes every replica (found through Docker's DNS, a new one too), the workers and the exporters;
a real fault, the click worker stopped, fires NoClickWorker, and it clears once the worker is back.

Its own project (the profile adds services the other journeys do not expect), images under
SIDE_NAMESPACE."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_stack.processes import free_port
from tests.compose.project import SIDE_NAMESPACE, ComposeProject
from tests.compose.usage import click_count
from tests.integration.support import create_link, wait_for

RULES = (Path(__file__).resolve().parents[2] / "prometheus" / "rules.yml").read_text()
# What the rules' bound for NoClickWorker is made of: its `for:`, plus a DNS refresh, a scrape
# and an evaluation (10 s each in prometheus.yml) before the worker's absence is seen.
NO_WORKER_FOR_S = 60 * int(re.search(r"alert: NoClickWorker\n.*\n\s+for: (\d+)m", RULES).group(1))
NO_WORKER_BOUND_S = NO_WORKER_FOR_S + 3 * 10


@pytest.fixture(scope="module")
def watched() -> Iterator[ComposeProject]:
    with ComposeProject(env={"COMPOSE_PROFILES": "observability", "PROMETHEUS_PORT": str(free_port()),
                             "IMAGE_NAMESPACE": SIDE_NAMESPACE}).running() as running:
        yield running


def prometheus(project: ComposeProject, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{project.env['PROMETHEUS_PORT']}/api/v1/{path}"
    answer = requests.get(url, params=params, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]


def targets_up(project: ComposeProject) -> dict[str, int]:
    """How many healthy targets each scrape job has."""
    counts: dict[str, int] = {}
    for target in prometheus(project, "targets", state="active")["activeTargets"]:
        counts.setdefault(target["labels"]["job"], 0)
        counts[target["labels"]["job"]] += target["health"] == "up"
    return counts


def firing(project: ComposeProject) -> set[str]:
    return {a["labels"]["alertname"] for a in prometheus(project, "alerts")["alerts"] if a["state"] == "firing"}


def test_every_replica_worker_and_exporter_is_scraped(watched):
    replicas = len(watched.container_ids("app"))
    want = {"app": replicas, "click-worker": 1, "nginx": 1, "redis": 1, "postgres": 1, "prometheus": 1}
    started = time.monotonic()
    wait_for(lambda: targets_up(watched) == want or None, 60, f"all targets up: {want}", interval=1)
    print(f"all {sum(want.values())} targets up {time.monotonic() - started:.0f} s after `up --wait`")
    # The exporters answer for what they watch, not only for themselves.
    for query in ("nginx_up", "redis_up", "pg_up"):
        assert [float(s["value"][1]) for s in prometheus(watched, "query", query=query)["result"]] == [1.0], query


def test_a_followed_link_shows_in_latency_and_ingest(watched):
    code = create_link(watched, url="https://example.com/watched")["code"]
    assert requests.get(f"{watched.url}/{code}", allow_redirects=False, timeout=10).status_code == 302
    wait_for(lambda: click_count(watched, code) == 1, 30, "the click stored")

    def seen(query: str) -> bool:
        return any(float(s["value"][1]) >= 1 for s in prometheus(watched, "query", query=query)["result"])

    wait_for(lambda: seen('sum(shortstack_http_request_duration_seconds_count{endpoint="redirects.follow"})'), 40,
             "the redirect timed by Prometheus", interval=2)
    wait_for(lambda: seen("sum(shortstack_clicks_stored_total)"), 40, "the stored click counted", interval=2)


def test_a_new_replica_is_scraped_without_a_config_change(watched):
    before = targets_up(watched)["app"]
    watched.compose("up", "-d", "--wait", "--scale", f"app={before + 1}", timeout=300)
    started = time.monotonic()
    wait_for(lambda: targets_up(watched)["app"] == before + 1, 60, "the new replica scraped", interval=1)
    print(f"replica {before + 1} scraped {time.monotonic() - started:.0f} s after it was healthy")


def test_a_stopped_click_worker_fires_its_alert_and_clears(watched):
    assert "NoClickWorker" not in firing(watched)
    watched.compose("stop", "worker", timeout=120)
    stopped = time.monotonic()
    wait_for(lambda: "NoClickWorker" in firing(watched), NO_WORKER_BOUND_S + 30, "NoClickWorker firing",
             interval=2)
    fired_after = time.monotonic() - stopped
    print(f"NoClickWorker fired {fired_after:.0f} s after the worker stopped (bound {NO_WORKER_BOUND_S} s)")
    assert fired_after >= NO_WORKER_FOR_S, "fired before its `for:` had passed"

    watched.compose("start", "worker", timeout=120)
    restarted = time.monotonic()
    wait_for(lambda: "NoClickWorker" not in firing(watched), 60, "NoClickWorker cleared", interval=2)
    print(f"NoClickWorker cleared {time.monotonic() - restarted:.0f} s after the worker started")
