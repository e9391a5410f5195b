"""The two load runners, each a warm-up then one measured run with CPU metered around it:
Locust (users running a scenario of scenarios/) and wrk (one path as fast as possible, or at a
fixed fraction of its peak)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import wrk
from .meters import Meter, children_cpu_s
from .plan import IO_USERS_PER_REPLICA, Plan
from .report import Point

LOCUST = str(Path(sys.executable).parent / "locust")
# The Locust image's folder: its scenarios import each other by module name, so Locust runs there.
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
# The load is spread over the seed links; wrk's connections (kept alive) against nginx.
WRK_CONNECTIONS = 32
# The latency column: p50/p99 when the load is this fraction of the path's measured peak.
LATENCY_AT = 0.7


@dataclass(frozen=True)
class Target:
    """What a measurement needs from a running stack: where to send load, how to meter its CPU,
    and how to wait until the warm-up's abandoned requests and queued clicks are worked off."""

    url: str
    meter: Callable[[], Meter]
    drain: Callable[[], None]



@dataclass(frozen=True)
class Scenario:
    """One Locust point of an experiment: which users, how many, against what."""

    experiment: str
    label: str
    locustfile: str
    users: int
    replicas: int
    worker_class: str = "sync"
    classes: tuple[str, ...] = ()  # empty: every user class of the locustfile


def io_scaling_scenario(replicas: int) -> Scenario:
    """The I/O-bound scaling point for `replicas` sync replicas."""
    return Scenario("scaling-io", f"{replicas} replicas", "io_bound.py", IO_USERS_PER_REPLICA * replicas, replicas)


def run_locust(target: Target, scenario: Scenario, seconds: int, csv_prefix: Path | None) -> tuple[float, float]:
    """Run Locust headless; returns (wall seconds, Locust's own CPU seconds)."""
    users = str(scenario.users)
    argv = [LOCUST, "-f", scenario.locustfile, "--headless", "-u", users, "-r", users, "-t", f"{seconds}s",
            "--host", target.url, "--only-summary", "--reset-stats", "--loglevel", "WARNING", *scenario.classes]
    if csv_prefix is not None:
        argv += ["--csv", str(csv_prefix)]
    started, cpu_before = time.monotonic(), children_cpu_s()
    with open(csv_prefix.with_suffix(".log") if csv_prefix else os.devnull, "w") as log:
        result = subprocess.run(argv, cwd=SCENARIOS, stdout=log, stderr=subprocess.STDOUT)
    # Locust exits 1 when any request failed; that is a result to report, not a crash.
    if result.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {result.returncode}; see {csv_prefix}.log")
    return time.monotonic() - started, children_cpu_s() - cpu_before


def measure(target: Target, plan: Plan, out: Path, scenario: Scenario) -> Point:
    """Warm up, then one measured Locust run with CPU sampled around it."""
    experiment, label, users = scenario.experiment, scenario.label, scenario.users
    print(f"  {experiment}: {label} ({users} users, {plan.warmup_s}s warm-up + {plan.run_s}s)", flush=True)
    run_locust(target, scenario, plan.warmup_s, None)
    target.drain()
    meter = target.meter()
    meter.start()
    prefix = out / _file_stem(experiment, label)
    wall, locust_cpu = run_locust(target, scenario, plan.run_s, prefix)
    cpu = meter.stop(wall)
    cpu["load"] = 100 * locust_cpu / wall
    row = _aggregated(Path(f"{prefix}_stats.csv"))
    point = Point(experiment=experiment, label=label, replicas=scenario.replicas,
                  worker_class=scenario.worker_class, users=users,
                  seconds=float(plan.run_s), requests=int(row["Request Count"]), failures=int(row["Failure Count"]),
                  rps=float(row["Requests/s"]), p50_ms=float(row["50%"]), p95_ms=float(row["95%"]),
                  p99_ms=float(row["99%"]), cpu_percent=cpu)
    _print(point)
    return point


@dataclass(frozen=True)
class WrkPath:
    """One path wrk loads: GET over `paths` (or POST `body` to them) on `base_url`."""

    label: str
    base_url: str
    paths: tuple[str, ...]
    body: str | None = None


def measure_wrk(target: Target, plan: Plan, out: Path, experiment: str, path: WrkPath, replicas: int,
                worker_class: str, connections: int = WRK_CONNECTIONS, delay_ms: int = 0) -> Point:
    """A short wrk warm-up, then one measured wrk run with CPU sampled around it."""
    print(f"  {experiment}: {path.label} ({connections} connections"
          f"{f', {delay_ms} ms apart' if delay_ms else ''}, {plan.wrk_s}s)", flush=True)
    wrk.run(path.base_url, list(path.paths), max(1, plan.warmup_s // 2), connections, body=path.body,
            delay_ms=delay_ms)
    target.drain()
    meter = target.meter()
    meter.start()
    load_before = children_cpu_s()
    result = wrk.run(path.base_url, list(path.paths), plan.wrk_s, connections, body=path.body, delay_ms=delay_ms)
    cpu = meter.stop(result.seconds)
    cpu["load"] = 100 * (children_cpu_s() - load_before) / result.seconds
    (out / f"{_file_stem(experiment, path.label)}.json").write_text(json.dumps(result.__dict__, indent=1))
    point = Point(experiment=experiment, label=path.label, replicas=replicas, worker_class=worker_class,
                  users=connections, seconds=result.seconds, requests=result.requests, failures=result.errors,
                  rps=result.rps, p50_ms=result.p50_ms, p95_ms=result.p95_ms, p99_ms=result.p99_ms, cpu_percent=cpu)
    _print(point)
    return point


def measure_at_fraction(target: Target, plan: Plan, out: Path, path: WrkPath, peak: Point) -> Point:
    """p50/p99 of `path` under a fixed load of LATENCY_AT × its peak (not as fast as possible).

    Each of C connections pauses d ms between requests, so the rate is C / (d + latency): a short
    calibration run measures the latency, and d is chosen to hit the rate.
    """
    rate = LATENCY_AT * peak.rps
    connections = max(4, math.ceil(rate * 0.02))  # about 20 ms between one connection's requests
    delay_ms = max(1, round(1000 * connections / rate))
    probe = wrk.run(path.base_url, list(path.paths), max(2, plan.wrk_s // 2), connections, body=path.body,
                    delay_ms=delay_ms)
    latency_ms = max(0.0, 1000 * connections / probe.rps - delay_ms)
    delay_ms = max(1, round(1000 * connections / rate - latency_ms))
    return measure_wrk(target, plan, out, "at-70%", path, peak.replicas, peak.worker_class, connections, delay_ms)


def _file_stem(experiment: str, label: str) -> str:
    stem = f"{experiment}_{label}".replace(" ", "_").replace("→", "to").replace("×", "x")
    return "".join(c for c in stem if c.isalnum() or c in "_-%.").replace("%", "pct")


def _print(point: Point) -> None:
    print(f"    {point.rps:.0f} req/s, p50 {point.p50_ms:.1f} ms, p99 {point.p99_ms:.1f} ms, "
          f"failures {point.failure_ratio:.2%}, CPU {point.total_cpu:.0f}%", flush=True)


def _aggregated(stats_csv: Path) -> dict[str, str]:
    with open(stats_csv) as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return row
    raise RuntimeError(f"no Aggregated row in {stats_csv}")

