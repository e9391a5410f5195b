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

The parts: plan.py (what runs), runners.py (Locust and wrk), meters.py (CPU per tier),
experiments.py and click_experiments.py (the local stack), compose_experiments.py (compose).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import psutil

from . import wrk
from .compose_experiments import run_compose_scaling
from .experiments import run_experiments
from .plan import FULL, QUICK, Plan
from .report import fit_usl, plot, write_report, write_summary

LOADTEST = Path(__file__).resolve().parent


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
