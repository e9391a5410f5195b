"""The experiments on the local stack (`make bench`): ceilings, hot-path worker classes, mixed and
I/O-bound scaling, worker classes under I/O, then the click worker's (click_experiments.py),
all on one LocalStack."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import redis

from local_stack import LocalStack
from shortstack import clickstream

from .click_experiments import create_on_replica, measure_ingest, run_stats_cost
from .meters import CpuMeter
from .plan import NO_LIMIT_ENV, ONE_PROCESS_ENV, Plan, io_env
from .report import Point
from .runners import Scenario, Target, WrkPath, io_scaling_scenario, measure, measure_at_fraction, measure_wrk
from .scenarios.seed import SEEDS, ensure_seeds


def local_target(stack: LocalStack) -> Target:
    """The local stack as a measurement target."""
    return Target(stack.url, lambda: CpuMeter(stack), lambda: drain(stack))


def drain(stack: LocalStack) -> None:
    """Wait until every replica has worked off the requests the warm-up abandoned in its queue,
    and the click worker the clicks it queued.

    A busy sync worker still holds the warm-up's queued connections; a /healthz sent directly to
    a replica is answered only after them, so its answer means the queue is empty.
    """
    for port in stack.app_ports.values():
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=120).close()
    client = redis.Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + 60
    while client.xlen(clickstream.STREAM) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)


def run_ceilings(stack: LocalStack, plan: Plan, out: Path) -> list[Point]:
    """Peaks by wrk, then each app path's latency at LATENCY_AT of its peak, with the replicas'
    default gunicorn settings (those of compose and `make local`)."""
    target = local_target(stack)
    replica = f"http://127.0.0.1:{next(iter(stack.app_ports.values()))}"
    stats_code = create_on_replica(stack, "https://example.com/stats")
    paths = [WrkPath("nginx only", stack.url, ("/nginx-health",)),
             WrkPath("nginx → Flask, no I/O", stack.url, ("/healthz",)),
             WrkPath("redirect", stack.url, tuple(f"/{code}" for code, _ in SEEDS)),
             WrkPath("replica → Flask, no I/O", replica, ("/healthz",)),
             WrkPath("create (replica)", replica, ("/api/v1/links",), json.dumps({"url": "https://example.com/b"})),
             WrkPath("stats (replica)", replica, (f"/api/v1/links/{stats_code}/stats",))]
    peaks = [measure_wrk(target, plan, out, "ceiling", p, len(stack.app_ports), "default") for p in paths]
    return peaks + [measure_at_fraction(target, plan, out, path, peak)
                    for path, peak in zip(paths, peaks) if path.label != "nginx only"]


def worker_env(worker_class: str, processes: int, threads: int) -> dict[str, str]:
    """The app env for `processes` gunicorn workers of `worker_class` per replica."""
    return {**ONE_PROCESS_ENV, "WEB_CONCURRENCY": str(processes), "GUNICORN_WORKER_CLASS": worker_class,
            "GUNICORN_THREADS": str(threads if worker_class == "gthread" else 1)}


def worker_label(worker_class: str, processes: int, threads: int) -> str:
    threads_note = f" ({threads} threads)" if worker_class == "gthread" else ""
    return f"{worker_class} ×{processes}{threads_note}"


def run_experiments(plan: Plan, out: Path, data_dir: Path) -> list[Point]:
    """Every experiment of the local stack, on one stack."""
    points: list[Point] = []
    with LocalStack(replicas=2, workers=1, data_dir=data_dir, env=NO_LIMIT_ENV) as stack:
        print(f"stack up at {stack.url}; results in {out}", flush=True)
        ensure_seeds(stack.url)
        target = local_target(stack)
        threads = 4
        redirect = WrkPath("redirect", stack.url, tuple(f"/{code}" for code, _ in SEEDS))
        for worker_class, processes in plan.hot_path_workers:
            stack.set_replicas(2, worker_env(worker_class, processes, threads))
            label = worker_label(worker_class, processes, threads)
            points.append(measure_wrk(target, plan, out, "hot-path-workers",
                                      WrkPath(label, redirect.base_url, redirect.paths), 2, worker_class))
        stack.set_replicas(2)
        points += run_ceilings(stack, plan, out)
        points.append(measure_ingest(stack, plan.ingest_events))
        # Ten times fewer: each click then costs about a millisecond of classification.
        points.append(measure_ingest(stack, plan.ingest_events // 10, new_agents=True))
        points += run_stats_cost(stack, target, plan, out)
        for n in plan.replicas:
            stack.set_replicas(n, ONE_PROCESS_ENV)
            points.append(measure(target, plan, out,
                                  Scenario("scaling-mixed", f"{n} replicas", "locustfile.py", plan.users, n)))
        for n in plan.io_replicas:
            stack.set_replicas(n, io_env(plan.io_delay_ms))
            points.append(measure(target, plan, out, io_scaling_scenario(n)))
        for worker_class in ("sync", "gthread", "gevent"):
            stack.set_replicas(1, {**io_env(plan.io_delay_ms), **worker_env(worker_class, 1, plan.gthread_threads)})
            label = f"gthread ×{plan.gthread_threads}" if worker_class == "gthread" else worker_class
            points.append(measure(target, plan, out,
                                  Scenario("worker-class", label, "io_bound.py", plan.io_users, 1, worker_class)))
    return points

