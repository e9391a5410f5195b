"""`make bench`: the stack's ceilings and scaling experiments, run headless against the local stack.

Experiments, each point a warm-up then a measured fixed-duration run, with the CPU time of every
tier measured around the measured run:
  1. ceilings (wrk): nginx alone, an empty Flask view, the redirect through nginx; an empty view,
     create and stats sent to one replica directly (nginx's edge limit would cap the creates);
     then p50/p99 of each app path at 70% of its measured peak;
  2. hot-path workers (wrk): the redirect with each gunicorn worker class and worker count;
  3. mixed scaling (Locust): the mixed scenario against 1, 2, 4 replicas, one process each —
     CPU-bound on a small machine, it shows where adding replicas stops helping;
  4. I/O-bound scaling (Locust): sync replicas whose every request waits on a slow downstream,
     1 … 16 of them — the replica, not the CPU, is the limit, so throughput follows N;
  5. worker classes (Locust): the I/O-bound scenario on one replica with sync, gthread, gevent;
  6. click ingest: how fast one click worker moves a pre-filled stream into PostgreSQL, with
     User-Agents it has seen before and with a new one per click (each classified).
With --compose (`make bench-compose`), experiments 3 and 4 run against docker-compose.yml instead,
scaled with `docker compose up -d --scale app=N` and CPU per service read from `docker stats`.
Writes loadtest/results/<timestamp>/ (or --out): the load tools' CSVs, summary.csv, scaling.png,
report.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

import psutil
import redis

from local_stack import LocalStack
from shortstack import clickstream

from . import wrk
from .compose_run import ComposeRun
from .report import Point, fit_usl, plot, write_report, write_summary
from .seed import SEEDS, ensure_seeds

LOADTEST = Path(__file__).resolve().parent
LOCUST = str(Path(sys.executable).parent / "locust")


@dataclass(frozen=True)
class Plan:
    warmup_s: int
    run_s: int  # each Locust point
    wrk_s: int  # each wrk point
    users: int
    replicas: tuple[int, ...]  # mixed scaling
    io_replicas: tuple[int, ...]  # I/O-bound scaling
    io_users: int  # worker classes
    io_delay_ms: int
    hot_path_workers: tuple[tuple[str, int], ...]  # (worker class, processes per replica)
    ingest_events: int
    stats_clicks: int  # the big link's clicks in the stats-cost experiment
    gthread_threads: int = 16


# No per-client creation limit: all of the load generator is one client address.
NO_LIMIT_ENV = {"LINK_CREATE_RATE_LIMIT": "1000000/minute"}
# One gunicorn process per replica, so N replicas are N app processes.
ONE_PROCESS_ENV = {**NO_LIMIT_ENV, "WEB_CONCURRENCY": "1"}
# The load is spread over the seed links; wrk's connections (kept alive) against nginx.
WRK_CONNECTIONS = 32
# The latency column: p50/p99 when the load is this fraction of the path's measured peak.
LATENCY_AT = 0.7

FULL = Plan(warmup_s=5, run_s=30, wrk_s=10, users=32, replicas=(1, 2, 4), io_replicas=(1, 2, 4, 8, 16),
            io_users=64, io_delay_ms=100,
            hot_path_workers=tuple((c, n) for c in ("sync", "gthread", "gevent") for n in (1, 2, 4)),
            ingest_events=200_000, stats_clicks=1_000_000)
QUICK = Plan(warmup_s=2, run_s=6, wrk_s=3, users=16, replicas=(1, 2), io_replicas=(1, 2), io_users=32,
             io_delay_ms=100, hot_path_workers=(("sync", 2), ("gevent", 2)), ingest_events=20_000,
             stats_clicks=50_000)


class Meter(Protocol):
    """CPU use per tier over one measured run, in percent of one core."""

    def start(self) -> None: ...

    def stop(self, wall_s: float) -> dict[str, float]: ...


@dataclass(frozen=True)
class Target:
    """What a measurement needs from a running stack: where to send load, how to meter its CPU,
    and how to wait until the warm-up's abandoned requests and queued clicks are worked off."""

    url: str
    meter: Callable[[], Meter]
    drain: Callable[[], None]


class CpuMeter:
    """CPU seconds used by each tier's processes, including children they have already reaped."""

    def __init__(self, stack: LocalStack) -> None:
        self.roots: dict[str, list[int]] = {}
        for name, process in stack.processes.items():
            if process.running:
                tier = name.split("-")[0]
                self.roots.setdefault(tier, []).append(process.pid)

    def sample(self) -> dict[str, float]:
        return {tier: sum(_tree_cpu(pid) for pid in pids) for tier, pids in self.roots.items()}

    def start(self) -> None:
        self._before = self.sample()

    def stop(self, wall_s: float) -> dict[str, float]:
        after = self.sample()
        return {tier: 100 * (after[tier] - self._before[tier]) / wall_s for tier in self._before}


class DockerStatsMeter:
    """CPU per compose service, averaged over `docker stats` samples taken while the run lasts
    (containers of one service, e.g. the app replicas, add up)."""

    def __init__(self, project: str) -> None:
        self.project = project
        self._samples: list[dict[str, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_done, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wall_s: float) -> dict[str, float]:
        self._done.set()
        self._thread.join(30)
        tiers = {tier for sample in self._samples for tier in sample}
        return {tier: sum(s.get(tier, 0.0) for s in self._samples) / len(self._samples) for tier in tiers}

    def _sample_until_done(self) -> None:
        prefix = f"{self.project}-"
        while not self._done.is_set():
            out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}"],
                                 capture_output=True, text=True, timeout=60).stdout
            sample: dict[str, float] = {}
            for line in out.splitlines():
                name, percent = line.rsplit(" ", 1)
                if name.startswith(prefix):
                    service = name[len(prefix):].rsplit("-", 1)[0]  # <project>-<service>-<index>
                    sample[service] = sample.get(service, 0.0) + float(percent.rstrip("%"))
            if sample and not self._done.is_set():
                self._samples.append(sample)


def _tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])  # user, system, and reaped children's user and system
        for child in root.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- Locust scenarios ---------------------------------------------------------------------------

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


def run_locust(target: Target, scenario: Scenario, seconds: int, csv_prefix: Path | None) -> tuple[float, float]:
    """Run Locust headless; returns (wall seconds, Locust's own CPU seconds)."""
    users = str(scenario.users)
    argv = [LOCUST, "-f", scenario.locustfile, "--headless", "-u", users, "-r", users, "-t", f"{seconds}s",
            "--host", target.url, "--only-summary", "--reset-stats", "--loglevel", "WARNING", *scenario.classes]
    if csv_prefix is not None:
        argv += ["--csv", str(csv_prefix)]
    started, cpu_before = time.monotonic(), _children_cpu_s()
    with open(csv_prefix.with_suffix(".log") if csv_prefix else os.devnull, "w") as log:
        result = subprocess.run(argv, cwd=LOADTEST, stdout=log, stderr=subprocess.STDOUT)
    # Locust exits 1 when any request failed; that is a result to report, not a crash.
    if result.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {result.returncode}; see {csv_prefix}.log")
    return time.monotonic() - started, _children_cpu_s() - cpu_before


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


# --- wrk ceilings -------------------------------------------------------------------------------

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
    load_before = _children_cpu_s()
    result = wrk.run(path.base_url, list(path.paths), plan.wrk_s, connections, body=path.body, delay_ms=delay_ms)
    cpu = meter.stop(result.seconds)
    cpu["load"] = 100 * (_children_cpu_s() - load_before) / result.seconds
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


# --- click ingest -------------------------------------------------------------------------------

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


def run_stats_cost(stack: LocalStack, plan: Plan, out: Path) -> list[Point]:
    """GET /stats of a link with plan.stats_clicks clicks and of one with STATS_SMALL_CLICKS, both
    spread over 30 days, stored through the click worker, read uncached (STATS_CACHE_TTL=0) from
    one replica: the same cost means the stats do not grow with the clicks."""
    codes = {}
    for clicks in (plan.stats_clicks, STATS_SMALL_CLICKS):
        codes[clicks] = _create_on_replica(stack, f"https://example.com/stats-{clicks}")
        print(f"  stats-cost: storing {clicks} clicks on {codes[clicks]}", flush=True)
        _store_spread_clicks(stack, codes[clicks], clicks)
    stack.set_replicas(2, {**NO_LIMIT_ENV, "STATS_CACHE_TTL": "0"})
    replica = f"http://127.0.0.1:{next(iter(stack.app_ports.values()))}"
    points = [measure_wrk(local_target(stack), plan, out, "stats-cost",
                          WrkPath(f"{clicks} clicks", replica, (f"/api/v1/links/{code}/stats",)), 1, "default")
              for clicks, code in codes.items()]
    stack.set_replicas(2)
    return points


def _create_on_replica(stack: LocalStack, url: str) -> str:
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


# --- the experiments ----------------------------------------------------------------------------

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
    stats_code = _create_on_replica(stack, "https://example.com/stats")
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
        points += run_stats_cost(stack, plan, out)
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


# Callers per I/O-bound replica: one request being served and one waiting, so each replica is
# always busy and the replicas, not the users, are the limit.
IO_USERS_PER_REPLICA = 2


def io_env(delay_ms: int) -> dict[str, str]:
    """Replicas of one sync process whose every request waits `delay_ms` on a slow downstream: one
    request at a time each, however idle the CPU."""
    return {**ONE_PROCESS_ENV, "GUNICORN_WORKER_CLASS": "sync", "DOWNSTREAM_DELAY_MS": str(delay_ms)}


def io_scaling_scenario(replicas: int) -> Scenario:
    """The I/O-bound scaling point for `replicas` sync replicas."""
    return Scenario("scaling-io", f"{replicas} replicas", "io_bound.py", IO_USERS_PER_REPLICA * replicas, replicas)


def run_compose_scaling(plan: Plan, out: Path) -> list[Point]:
    """Both scaling experiments against docker-compose.yml, in a project of its own that is removed after."""
    compose = ComposeRun(f"shortstack-bench-{uuid.uuid4().hex[:8]}", ONE_PROCESS_ENV)
    # The replicas are not reachable from the host to drain them one by one (as the local stack
    # does), so the warm-up's abandoned requests get a pause to finish instead.
    target = Target(compose.url, lambda: DockerStatsMeter(compose.project), lambda: time.sleep(3))
    experiments = [(n, Scenario("scaling-mixed", f"{n} replicas", "locustfile.py", plan.users, n), {})
                   for n in plan.replicas]
    experiments += [(n, io_scaling_scenario(n), io_env(plan.io_delay_ms)) for n in plan.io_replicas]
    points: list[Point] = []
    try:
        for n, scenario, extra_env in experiments:
            compose.scale(n, extra_env)
            if not points:
                print(f"compose project {compose.project} up at {target.url}; results in {out}", flush=True)
            points.append(measure(target, plan, out, scenario))
    finally:
        compose.down()
    return points


# --- the run ------------------------------------------------------------------------------------

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


def machine_description() -> tuple[str, int]:
    cores = os.cpu_count() or 1
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = psutil.virtual_memory().total / 2**30
    return f"{platform.system()} {platform.release()}, {model}, {cores} cores, {memory:.0f} GiB, " \
           f"Python {platform.python_version()}; everything (the load generator too) on this one machine", cores


def run(plan: Plan, out: Path, command: str, compose: bool = False) -> Path:
    """Run every experiment of `plan`, write the results into `out`, return report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    if compose:
        points = run_compose_scaling(plan, out)
    else:
        wrk.binary()  # a missing wrk fails here, before a stack is started
        # The stack's data lives outside the results (and outside 0700 folders the postgres user cannot enter).
        data_dir = Path(tempfile.mkdtemp(prefix="shortstack-bench-"))
        try:
            points = run_experiments(plan, out, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    fits = {}
    for experiment in ("scaling-mixed", "scaling-io"):
        throughput = {p.replicas: p.rps for p in points if p.experiment == experiment}
        if 1 in throughput and len(throughput) >= 2:
            fits[experiment] = fit_usl(throughput)
    machine, cores = machine_description()
    write_summary(points, out / "summary.csv")
    plot(points, fits, out / "scaling.png")
    write_report(points, fits, machine, cores, command, out / "report.md")
    return out / "report.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, fewer points (about 3 minutes)")
    parser.add_argument("--compose", action="store_true",
                        help="the replica scaling against docker-compose.yml on a Docker engine")
    parser.add_argument("--out", type=Path, help="results folder (default: loadtest/results/<UTC timestamp>)")
    args = parser.parse_args()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = (args.out or LOADTEST / "results" / stamp).resolve()
    command = ("make bench-compose" if args.compose else "make bench") + (" QUICK=1" if args.quick else "")
    report = run(QUICK if args.quick else FULL, out, command, compose=args.compose)
    print(f"\n{report.read_text()}\nwritten to {out}/", flush=True)


if __name__ == "__main__":
    main()
