"""`make demo`: watch horizontal scaling happen on docker compose, and keep the picture of it.

The stack comes up with one app replica; Locust (headless, on the host) sends the I/O-bound
scenario — sync replicas whose every request waits 100 ms on a slow downstream, so each replica
serves about 10 req/s however idle the CPU is — with enough users for the largest step. Every
`--step-seconds` the app is scaled to the next count (`docker compose up -d --scale app=N`) while
the load runs. Meanwhile http://127.0.0.1:$HTTP_PORT/cluster shows each replica's req/s live.
At the end: demo.csv (one row per second: replicas, req/s, p95) and demo.png, with the replica
count marked on the chart. The project is removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .bench import LOADTEST
from .compose_run import ComposeRun
from .plan import IO_USERS_PER_REPLICA, io_env
from .runners import LOCUST, SCENARIOS

DELAY_MS = 100


@dataclass(frozen=True)
class Sample:
    """One second of the run, as Locust's history saw it."""

    elapsed_s: float
    replicas: int
    users: int
    rps: float
    p95_ms: float
    failures_per_s: float


def replicas_at(elapsed_s: float, changes: list[tuple[float, int]]) -> int:
    """The replica count in effect `elapsed_s` into the run, given (time, count) changes in order."""
    current = changes[0][1]
    for at, count in changes:
        if at <= elapsed_s:
            current = count
    return current


def read_history(history_csv: Path, started_at: float, changes: list[tuple[float, int]]) -> list[Sample]:
    """Locust's per-second Aggregated rows, with the replica count in effect at each."""
    samples = []
    with open(history_csv) as handle:
        for row in csv.DictReader(handle):
            if row["Name"] != "Aggregated" or row["95%"] in ("N/A", ""):
                continue
            elapsed = float(row["Timestamp"]) - started_at
            samples.append(Sample(elapsed, replicas_at(elapsed, changes), int(row["User Count"]),
                                  float(row["Requests/s"]), float(row["95%"]), float(row["Failures/s"])))
    return samples


def write_csv(samples: list[Sample], path: Path) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["elapsed_s", "replicas", "users", "requests_per_s", "p95_ms", "failures_per_s"])
        for s in samples:
            writer.writerow([f"{s.elapsed_s:.0f}", s.replicas, s.users, f"{s.rps:.1f}", f"{s.p95_ms:.0f}",
                             f"{s.failures_per_s:.1f}"])


def plot(samples: list[Sample], changes: list[tuple[float, int]], path: Path) -> None:
    """req/s and p95 over time, with a marked line where each scale-up took effect."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    times = [s.elapsed_s for s in samples]
    top.plot(times, [s.rps for s in samples], color="tab:blue", label="requests/s (Locust)")
    top.step([at for at, _ in changes] + [times[-1] if times else 0],
             [n * 1000 / DELAY_MS for _, n in changes] + [changes[-1][1] * 1000 / DELAY_MS],
             where="post", linestyle=":", color="grey", label="N × 10 req/s (one sync replica's capacity)")
    bottom.plot(times, [s.p95_ms for s in samples], color="tab:red", label="p95 ms")
    for axis in (top, bottom):
        for at, n in changes:
            axis.axvline(at, color="grey", alpha=0.4)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left" if axis is bottom else "lower right")
    for at, n in changes:
        top.annotate(f"{n} replica{'s' if n > 1 else ''}", (at, top.get_ylim()[1]), xytext=(3, -14),
                     textcoords="offset points", fontsize=9)
    top.set(title="docker compose up --scale app=N under steady load (I/O-bound, sync replicas)", ylabel="requests/s")
    bottom.set(xlabel="seconds", ylabel="p95 latency, ms")
    bottom.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(steps: list[int], step_seconds: int, out: Path, http_port: int, keep: bool,
        project: str = "shortstack-demo") -> list[Sample]:
    """The whole demo; returns the samples it wrote to out/demo.csv."""
    out.mkdir(parents=True, exist_ok=True)
    compose = ComposeRun(project, io_env(DELAY_MS), http_port)
    print(f"starting the stack with {steps[0]} replica(s) on {compose.url} ...", flush=True)
    compose.scale(steps[0])
    users = IO_USERS_PER_REPLICA * max(steps)
    print(f"load: {users} Locust users on the I/O-bound scenario; watch {compose.url}/cluster", flush=True)
    prefix = out / "locust"
    locust = subprocess.Popen(
        [LOCUST, "-f", "io_bound.py", "--headless", "-u", str(users), "-r", str(users),
         "-t", f"{step_seconds * len(steps)}s", "--host", compose.url, "--csv", str(prefix), "--only-summary",
         # Full history: its percentiles are those of the last seconds, not of the whole run so far.
         "--csv-full-history",
         "--loglevel", "WARNING"], cwd=SCENARIOS, stdout=open(out / "locust.log", "w"), stderr=subprocess.STDOUT)
    started_at = time.time()
    changes = [(0.0, steps[0])]
    try:
        for n in steps[1:]:
            time.sleep(max(0.0, started_at + step_seconds * len(changes) - time.time()))
            print(f"  {time.time() - started_at:5.0f} s: docker compose up -d --scale app={n}", flush=True)
            compose.scale(n)
            # Healthy now; nginx re-resolves `app` within 5 s and starts sending to the new ones.
            changes.append((time.time() - started_at, n))
        locust.wait(timeout=step_seconds * len(steps) + 120)
    finally:
        if locust.poll() is None:
            locust.terminate()
        if not keep:
            compose.down()
    samples = read_history(Path(f"{prefix}_stats_history.csv"), started_at, changes)
    write_csv(samples, out / "demo.csv")
    plot(samples, changes, out / "demo.png")
    for n in steps:
        settled = [s.rps for s in samples if s.replicas == n][-max(1, step_seconds // 3):]
        if settled:
            print(f"  {n} replica(s): {sum(settled) / len(settled):.0f} req/s at the end of its step", flush=True)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1,2,4,8", help="app replica counts, in order (default 1,2,4,8)")
    parser.add_argument("--step-seconds", type=int, default=30, help="how long each count runs (default 30)")
    parser.add_argument("--http-port", type=int, default=8080, help="where the stack is published (default 8080)")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    parser.add_argument("--project", default="shortstack-demo", help="compose project name (default shortstack-demo)")
    parser.add_argument("--out", type=Path, help="results folder (default: loadtest/results/demo-<UTC timestamp>)")
    args = parser.parse_args()
    try:
        steps = [int(n) for n in args.steps.split(",")]
    except ValueError:
        sys.exit(f"--steps takes replica counts separated by commas, e.g. 1,2,4,8 (got {args.steps!r})")
    if not steps or min(steps) < 1:
        sys.exit("--steps needs at least one replica count, each at least 1")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = (args.out or LOADTEST / "results" / f"demo-{stamp}").resolve()
    run(steps, args.step_seconds, out, args.http_port, args.keep, args.project)
    print(f"written to {out}/ (demo.png, demo.csv, Locust's CSVs)", flush=True)


if __name__ == "__main__":
    main()
