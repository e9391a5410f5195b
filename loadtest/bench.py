"""`make bench`: the scaling experiment, run headless against the local stack.

Three experiments on one stack, each point a warm-up run then a measured fixed-duration run at a
fixed user count, with the CPU time of every tier measured around the measured run:
  1. ceilings: nginx alone, nginx → Flask without I/O, and the redirect hot path;
  2. scaling: the mixed scenario against 1, 2, 4 app replicas (one gunicorn worker each);
  3. worker classes: the I/O-bound scenario on one replica with sync, gthread and gevent.
With --compose (`make bench-compose`), experiment 2 runs against docker-compose.yml instead,
scaled with `docker compose up -d --scale app=N` and CPU per service read from `docker stats`.
Writes loadtest/results/<timestamp>/ (or --out): Locust's CSVs, summary.csv, scaling.png, report.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
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

from local_stack import LocalStack
from local_stack.stack import REPO, free_port

from .report import Point, fit_usl, plot, write_report, write_summary

LOADTEST = Path(__file__).resolve().parent
LOCUST = str(Path(sys.executable).parent / "locust")


@dataclass(frozen=True)
class Plan:
    warmup_s: int
    run_s: int
    users: int
    replicas: tuple[int, ...]
    io_users: int
    io_delay_ms: int
    gthread_threads: int = 16


# One gunicorn process per replica, so N replicas are N app processes; no per-client creation
# limit, since all of Locust is one client address.
ONE_PROCESS_ENV = {"WEB_CONCURRENCY": "1", "LINK_CREATE_RATE_LIMIT": "1000000/minute"}

FULL = Plan(warmup_s=5, run_s=30, users=32, replicas=(1, 2, 4), io_users=64, io_delay_ms=100)
QUICK = Plan(warmup_s=2, run_s=6, users=16, replicas=(1, 2), io_users=32, io_delay_ms=100)


class Meter(Protocol):
    """CPU use per tier over one measured run, in percent of one core."""

    def start(self) -> None: ...

    def stop(self, wall_s: float) -> dict[str, float]: ...


@dataclass(frozen=True)
class Target:
    """What a measurement needs from a running stack: where to send load, how to meter its CPU,
    and how to wait until the warm-up's abandoned requests are worked off."""

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


def run_locust(target: Target, scenario: Scenario, seconds: int, csv_prefix: Path | None) -> tuple[float, float]:
    """Run Locust headless; returns (wall seconds, Locust's own CPU seconds)."""
    users = str(scenario.users)
    argv = [LOCUST, "-f", scenario.locustfile, "--headless", "-u", users, "-r", users, "-t", f"{seconds}s",
            "--host", target.url, "--only-summary", "--reset-stats", "--loglevel", "WARNING", *scenario.classes]
    if csv_prefix is not None:
        argv += ["--csv", str(csv_prefix)]
    started = time.monotonic()
    log = open(csv_prefix.with_suffix(".log") if csv_prefix else os.devnull, "w")
    with log:
        process = subprocess.Popen(argv, cwd=LOADTEST, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    # Locust exits 1 when any request failed; that is a result to report, not a crash.
    if process.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {process.returncode}; see {csv_prefix}.log")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Scenario:
    """One point of an experiment: which Locust users, how many, against what."""

    experiment: str
    label: str
    locustfile: str
    users: int
    replicas: int
    worker_class: str = "sync"
    classes: tuple[str, ...] = ()  # empty: every user class of the locustfile


def measure(target: Target, plan: Plan, out: Path, scenario: Scenario) -> Point:
    """Warm up, then one measured run with CPU sampled around it."""
    experiment, label, users = scenario.experiment, scenario.label, scenario.users
    print(f"  {experiment}: {label} ({users} users, {plan.warmup_s}s warm-up + {plan.run_s}s)", flush=True)
    run_locust(target, scenario, plan.warmup_s, None)
    target.drain()
    meter = target.meter()
    meter.start()
    prefix = out / f"{experiment}_{label}".replace(" ", "_").replace("→", "to").replace(",", "").replace("/", "")
    wall, locust_cpu = run_locust(target, scenario, plan.run_s, prefix)
    cpu = meter.stop(wall)
    cpu["locust"] = 100 * locust_cpu / wall
    row = _aggregated(Path(f"{prefix}_stats.csv"))
    point = Point(experiment=experiment, label=label, replicas=scenario.replicas,
                  worker_class=scenario.worker_class, users=users,
                  seconds=float(plan.run_s), requests=int(row["Request Count"]), failures=int(row["Failure Count"]),
                  rps=float(row["Requests/s"]), p50_ms=float(row["50%"]), p95_ms=float(row["95%"]),
                  p99_ms=float(row["99%"]), cpu_percent=cpu)
    print(f"    {point.rps:.0f} req/s, p95 {point.p95_ms:.0f} ms, failures {point.failure_ratio:.2%}, "
          f"CPU {point.total_cpu:.0f}%", flush=True)
    return point


def local_target(stack: LocalStack) -> Target:
    """The local stack as a measurement target."""
    return Target(stack.url, lambda: CpuMeter(stack), lambda: drain(stack))


def drain(stack: LocalStack) -> None:
    """Wait until every replica has worked off the requests the warm-up abandoned in its queue.

    A busy sync worker still holds the warm-up's queued connections; a /healthz sent directly to
    a replica is answered only after them, so its answer means the queue is empty.
    """
    for port in stack.app_ports.values():
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=120).close()


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
           f"Python {platform.python_version()}; everything (Locust included) on this one machine", cores


def run(plan: Plan, out: Path, command: str, compose: bool = False) -> Path:
    """Run every experiment of `plan`, write the results into `out`, return report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    if compose:
        points = run_compose_scaling(plan, out)
    else:
        # The stack's data lives outside the results (and outside 0700 folders the postgres user cannot enter).
        data_dir = Path(tempfile.mkdtemp(prefix="shortstack-bench-"))
        try:
            points = run_experiments(plan, out, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    scaling = {p.replicas: p.rps for p in points if p.experiment == "scaling"}
    fit = fit_usl(scaling) if 1 in scaling and len(scaling) >= 2 else None
    machine, cores = machine_description()
    write_summary(points, out / "summary.csv")
    plot(points, fit, out / "scaling.png")
    write_report(points, fit, machine, cores, command, out / "report.md")
    return out / "report.md"


def run_experiments(plan: Plan, out: Path, data_dir: Path) -> list[Point]:
    """The ceilings, the replica scaling and the worker classes, on one local stack."""
    points: list[Point] = []
    with LocalStack(replicas=2, workers=1, data_dir=data_dir, env=ONE_PROCESS_ENV) as stack:
        print(f"stack up at {stack.url}; results in {out}", flush=True)
        target = local_target(stack)
        for label, user in (("nginx only", "NginxOnly"), ("nginx → Flask, no I/O", "FlaskHello"),
                            ("redirect hot path", "Redirect")):
            points.append(measure(target, plan, out,
                                  Scenario("ceiling", label, "ceilings.py", plan.users, 2, classes=(user,))))
        for n in plan.replicas:
            stack.set_replicas(n, ONE_PROCESS_ENV)
            points.append(measure(target, plan, out,
                                  Scenario("scaling", f"{n} replicas", "locustfile.py", plan.users, n)))
        for worker_class in ("sync", "gthread", "gevent"):
            env = {**ONE_PROCESS_ENV, "GUNICORN_WORKER_CLASS": worker_class,
                   "DOWNSTREAM_DELAY_MS": str(plan.io_delay_ms),
                   "GUNICORN_THREADS": str(plan.gthread_threads if worker_class == "gthread" else 1)}
            stack.set_replicas(1, env)
            label = f"gthread ×{plan.gthread_threads}" if worker_class == "gthread" else worker_class
            points.append(measure(target, plan, out,
                                  Scenario("worker-class", label, "io_bound.py", plan.io_users, 1, worker_class)))
    return points


def run_compose_scaling(plan: Plan, out: Path) -> list[Point]:
    """The replica scaling against docker-compose.yml, in a project of its own that is removed after."""
    project, http_port = f"shortstack-bench-{uuid.uuid4().hex[:8]}", free_port()
    env = {**os.environ, **ONE_PROCESS_ENV, "HTTP_PORT": str(http_port), "LOCUST_PORT": str(free_port())}

    def compose(*args: str) -> None:
        result = subprocess.run(["docker", "compose", "-p", project, *args], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"docker compose {' '.join(args)} failed:\n{result.stderr[-3000:]}")

    # The replicas are not reachable from the host to drain them one by one (as the local stack
    # does), so the warm-up's abandoned requests get a pause to finish instead.
    target = Target(f"http://127.0.0.1:{http_port}", lambda: DockerStatsMeter(project), lambda: time.sleep(3))
    points: list[Point] = []
    try:
        for n in plan.replicas:
            # Only what the scenario needs: nginx pulls in app, migrate, PostgreSQL and Redis.
            compose("up", "-d", "--build", "--wait", "--scale", f"app={n}", "nginx", "worker")
            if not points:
                print(f"compose project {project} up at {target.url}; results in {out}", flush=True)
            points.append(measure(target, plan, out, Scenario("scaling", f"{n} replicas", "locustfile.py",
                                                              plan.users, n)))
    finally:
        compose("down", "-v", "--remove-orphans")
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, fewer points (under 2 minutes)")
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
