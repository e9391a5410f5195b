"""The benchmark's arithmetic and its written report: efficiency, the USL fit, the plot, report.md."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# "load" is the load generator (Locust or wrk), on the same machine.
TIERS = ("nginx", "app", "worker", "postgres", "redis", "load")


@dataclass
class Point:
    """One measured run: what was run, and what came out."""

    experiment: str  # "ceiling", "at-70%", "hot-path-workers", "ingest", "stats-cost", "scaling-mixed", "scaling-io",
    #                   "worker-class"
    label: str
    replicas: int
    worker_class: str
    users: int
    seconds: float
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu_percent: dict[str, float] = field(default_factory=dict)  # per tier, 100 = one core busy

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def total_cpu(self) -> float:
        return sum(self.cpu_percent.values())


@dataclass(frozen=True)
class USLFit:
    """Universal Scalability Law: X(N) = λN / (1 + σ(N−1) + κN(N−1))."""

    lam: float  # throughput of one replica
    sigma: float  # contention: the serial fraction
    kappa: float  # coherency: the cost of keeping replicas in step

    def throughput(self, n: float) -> float:
        return self.lam * n / (1 + self.sigma * (n - 1) + self.kappa * n * (n - 1))

    @property
    def peak_n(self) -> float:
        """The N of maximum throughput (infinite when κ = 0)."""
        return math.sqrt((1 - self.sigma) / self.kappa) if self.kappa > 0 and self.sigma < 1 else math.inf


def scaling_efficiency(throughput: dict[int, float]) -> dict[int, float]:
    """X(N) / (N · X(1)) for each N: 1.0 is perfectly linear scaling."""
    base = throughput[1]
    return {n: x / (n * base) for n, x in sorted(throughput.items())}


def fit_usl(throughput: dict[int, float]) -> USLFit:
    """Fit σ and κ (both ≥ 0) to measured X(N), with λ = X(1).

    With C(N) = X(N)/X(1) the law is linear in σ and κ: N/C(N) − 1 = σ(N−1) + κN(N−1), so an
    ordinary least-squares fit without intercept does it; a negative coefficient is pinned to 0
    and the other refitted.
    """
    if 1 not in throughput or len(throughput) < 2:
        raise ValueError("the USL fit needs X(1) and at least one more replica count")
    ns = np.array(sorted(throughput), dtype=float)
    capacity = np.array([throughput[int(n)] for n in ns]) / throughput[1]
    y = ns / capacity - 1
    x = np.column_stack([ns - 1, ns * (ns - 1)])
    sigma, kappa = np.linalg.lstsq(x, y, rcond=None)[0]
    if sigma < 0 or kappa < 0:
        column = 1 if sigma < 0 else 0
        only = np.linalg.lstsq(x[:, [column]], y, rcond=None)[0][0]
        sigma, kappa = (0.0, max(0.0, only)) if column == 1 else (max(0.0, only), 0.0)
    return USLFit(lam=throughput[1], sigma=float(sigma), kappa=float(kappa))


def cpu_takeover(point: Point, single_replica_rps: float, cores: int) -> tuple[float, float]:
    """(replicas, req/s) at which the machine's CPU would be used up, at `point`'s CPU cost per request.

    Below that, each added replica adds single_replica_rps; beyond it the CPU is the limit.
    """
    core_seconds_per_request = point.total_cpu / 100 / point.rps
    ceiling = cores / core_seconds_per_request
    return ceiling / single_replica_rps, ceiling


def limiting_factor(point: Point, cores: int) -> str:
    """One honest sentence on what limited a run, read from its CPU figures."""
    capacity = 100 * cores
    share = ", ".join(f"{tier} {point.cpu_percent[tier]:.0f}%" for tier in TIERS if tier in point.cpu_percent)
    if point.cpu_percent.get("load", 0) >= 90:
        return (f"load-generator-bound: the load generator used a full core ({share}); the stack "
                f"could answer faster than it can ask.")
    if point.total_cpu >= 0.85 * capacity:
        return (f"CPU-bound: all tiers together used {point.total_cpu:.0f}% of the {capacity}% this "
                f"{cores}-core machine has ({share}); more replicas only share the same cores.")
    return (f"not CPU-bound ({point.total_cpu:.0f}% of {capacity}%: {share}): requests spent their time "
            f"waiting — for a free worker or a slow dependency, or in the closed loop of {point.users} "
            f"users (throughput ≈ users ÷ latency).")


def write_summary(points: list[Point], path: Path) -> None:
    """summary.csv: one row per measured run, CPU per tier as columns."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["experiment", "label", "replicas", "worker_class", "users", "seconds", "requests",
                         "failures", "failure_ratio", "rps", "p50_ms", "p95_ms", "p99_ms",
                         *(f"cpu_{t}_pct" for t in TIERS)])
        for p in points:
            writer.writerow([p.experiment, p.label, p.replicas, p.worker_class, p.users, f"{p.seconds:.1f}",
                             p.requests, p.failures, f"{p.failure_ratio:.4f}", f"{p.rps:.1f}", p.p50_ms, p.p95_ms,
                             p.p99_ms, *(f"{p.cpu_percent.get(t, 0):.0f}" for t in TIERS)])


def _series(points: list[Point], experiment: str) -> list[Point]:
    return sorted((p for p in points if p.experiment == experiment), key=lambda p: p.replicas)


def plot(points: list[Point], fits: dict[str, USLFit], path: Path) -> None:
    """scaling.png: throughput against replicas for both scaling experiments, their efficiency, and
    the ceilings relative to an empty Flask view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    titles = {"scaling-io": "I/O-bound: the replica is the limit",
              "scaling-mixed": "Mixed scenario: the CPU is the limit"}
    for axis, experiment in zip(axes[0], ("scaling-io", "scaling-mixed")):
        series = _series(points, experiment)
        ns = [p.replicas for p in series]
        axis.plot(ns, [p.rps for p in series], "o-", label="measured")
        if series and series[0].replicas == 1:
            axis.plot(ns, [series[0].rps * n for n in ns], ":", color="grey", label="linear")
        if experiment in fits and ns:
            fit = fits[experiment]
            grid = np.linspace(1, max(ns), 60)
            axis.plot(grid, [fit.throughput(n) for n in grid], "--", label=f"USL σ={fit.sigma:.3f} κ={fit.kappa:.4f}")
        axis.set(title=titles[experiment], xlabel="app replicas", ylabel="requests/s", xticks=ns)
        axis.grid(alpha=0.3)
        axis.legend()
    for experiment, marker in (("scaling-io", "o-"), ("scaling-mixed", "s-")):
        series = _series(points, experiment)
        if series and series[0].replicas == 1:
            efficiency = scaling_efficiency({p.replicas: p.rps for p in series})
            axes[1][0].plot(list(efficiency), list(efficiency.values()), marker, label=experiment)
    axes[1][0].axhline(0.9, color="grey", linestyle=":", label="0.9")
    axes[1][0].set(title="Scaling efficiency X(N) / (N·X(1))", xlabel="app replicas", ylim=(0, 1.15))
    axes[1][0].grid(alpha=0.3)
    axes[1][0].legend()
    ceilings = [p for p in points if p.experiment == "ceiling" and p.label != "nginx only"]
    axes[1][1].barh([p.label for p in ceilings], [p.rps for p in ceilings], color="tab:green")
    axes[1][1].set(title="Ceilings (wrk, 2 replicas)", xlabel="requests/s")
    axes[1][1].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ceilings_section(points: list[Point]) -> list[str]:
    peaks = {p.label: p for p in points if p.experiment == "ceiling"}
    at_70 = {p.label: p for p in points if p.experiment == "at-70%"}
    if not peaks:
        return []
    lines = ["## Ceilings (wrk)", "",
             "| path | peak req/s | × empty view | p50 / p99 ms at peak | load at 70% | p50 / p99 ms at 70% | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, peak in peaks.items():
        base = peaks.get("replica → Flask, no I/O" if "replica" in label else "nginx → Flask, no I/O")
        ratio = f"{peak.rps / base.rps:.2f}" if base else ""
        calm = at_70.get(label)
        calm_cells = (f"{calm.rps:.0f} req/s ({calm.rps / peak.rps:.0%}) | {calm.p50_ms:.1f} / {calm.p99_ms:.1f}"
                      if calm else " | ")
        lines.append(f"| {label} | {peak.rps:.0f} | {ratio} | {peak.p50_ms:.1f} / {peak.p99_ms:.1f} | {calm_cells} | "
                     f"{peak.failures} |")
    hello, redirect = peaks.get("nginx → Flask, no I/O"), peaks.get("redirect")
    if hello and redirect:
        lines += ["", f"**The redirect runs at {redirect.rps / hello.rps:.2f}× an empty Flask view** through the "
                      "same nginx and replicas (Redis round trip, click queued, 302)."]
    lines.append("")
    return lines


def _workers_section(points: list[Point]) -> list[str]:
    runs = [p for p in points if p.experiment == "hot-path-workers"]
    if not runs:
        return []
    best = max(runs, key=lambda p: p.rps)
    lines = ["## The redirect by gunicorn worker class and processes per replica (wrk, 2 replicas)", "",
             "| workers per replica | req/s | × best | p50 ms | p99 ms | CPU total |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {p.label} | {p.rps:.0f} | {p.rps / best.rps:.2f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} | "
              f"{p.total_cpu:.0f}% |" for p in runs]
    return lines + ["", f"Fastest: {best.label}.", ""]


def _ingest_section(points: list[Point], cores: int) -> list[str]:
    runs = [p for p in points if p.experiment == "ingest"]
    if not runs:
        return []
    p = runs[0]
    share = ", ".join(f"{tier} {p.cpu_percent[tier]:.0f}%" for tier in TIERS if tier in p.cpu_percent)
    busiest = max(p.cpu_percent, key=p.cpu_percent.get)
    limit = (f"the {busiest} process is CPU-bound" if p.cpu_percent[busiest] >= 90 else
             f"no single process is CPU-bound ({p.total_cpu:.0f}% of {100 * cores}% used): each batch waits "
             "on Redis (read), PostgreSQL (COPY and commit) and Redis again (acknowledge) in turn")
    lines = ["## Click ingest: one worker draining a pre-filled stream", "",
             f"{p.requests} queued clicks drained in {p.seconds:.2f} s: **{p.rps:.0f} clicks/s** "
             f"(CPU: {share}). What limits it: {limit}.", ""]
    for new in runs[1:]:  # each click's User-Agent classified (none seen before)
        per_click_us = (1 / new.rps - 1 / p.rps) * 1e6
        lines += [f"With {new.label} ({new.requests} clicks): {new.rps:.0f} clicks/s, **{new.rps / p.rps:.2f}×** "
                  f"the run above: classifying a User-Agent costs the worker about {per_click_us:.0f} µs per "
                  "click it has not seen before.", ""]
    return lines


def _stats_section(points: list[Point]) -> list[str]:
    runs = sorted((p for p in points if p.experiment == "stats-cost"), key=lambda p: -int(p.label.split()[0]))
    if len(runs) != 2:
        return []
    big, small = runs
    return ["## Stats of a link with many clicks (wrk, one replica, stats cache off)", "",
            "| link | req/s | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |",
            *[f"| {p.label} | {p.rps:.0f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} |" for p in runs], "",
            f"Throughput with {big.label} / with {small.label}: **{big.rps / small.rps:.2f}** "
            "(1.00: the stats cost the same whatever the clicks; they read per-hour counters, not clicks).", ""]


def _scaling_section(points: list[Point], experiment: str, title: str, fit: USLFit | None, cores: int) -> list[str]:
    series = _series(points, experiment)
    if not series:
        return []
    efficiency = scaling_efficiency({p.replicas: p.rps for p in series}) if series[0].replicas == 1 else {}
    lines = [f"## {title}", "",
             "| replicas | users | req/s | efficiency X(N)/(N·X(1)) | p50 ms | p95 ms | p99 ms | failures | CPU |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {p.replicas} | {p.users} | {p.rps:.0f} | {efficiency.get(p.replicas, float('nan')):.2f} | "
              f"{p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.p99_ms:.0f} | {p.failure_ratio:.2%} | {p.total_cpu:.0f}% |"
              for p in series]
    if fit is not None:
        peak = "unbounded (κ = 0)" if math.isinf(fit.peak_n) else f"N ≈ {fit.peak_n:.1f}"
        lines += ["", f"USL fit: λ = {fit.lam:.0f} req/s, σ (contention) = {fit.sigma:.3f}, "
                      f"κ (coherency) = {fit.kappa:.4f}; predicted peak at {peak}."]
    if efficiency:
        n_cpu, x_cpu = cpu_takeover(series[-1], series[0].rps, cores)
        where = "inside" if n_cpu <= series[-1].replicas else "beyond"
        lines += ["", f"At the CPU cost per request of the {series[-1].replicas}-replica run, this machine's "
                      f"{cores} cores would be used up at about {x_cpu:.0f} req/s, i.e. N ≈ {n_cpu:.1f} replicas "
                      f"({where} the measured range): that is where the CPU takes over from the replicas as the limit."]
    lines += ["", "What limited each run:", ""]
    lines += [f"- {p.replicas} replica(s): {limiting_factor(p, cores)}" for p in series]
    return lines + [""]


def write_report(points: list[Point], fits: dict[str, USLFit], machine: str, cores: int, command: str,
                 path: Path) -> None:
    """report.md: the tables, the ratios, the fits and what limited each experiment."""
    lines = ["# Shortstack benchmark", "", f"- machine: {machine}", f"- command: `{command}`", ""]
    lines += _ceilings_section(points)
    lines += _workers_section(points)
    lines += _ingest_section(points, cores)
    lines += _stats_section(points)
    lines += _scaling_section(points, "scaling-io", "Scaling where the replica is the limit: I/O-bound, sync workers",
                              fits.get("scaling-io"), cores)
    lines += _scaling_section(points, "scaling-mixed", "Scaling where the CPU is the limit: the mixed scenario",
                              fits.get("scaling-mixed"), cores)
    classes = [p for p in points if p.experiment == "worker-class"]
    if classes:
        lines += ["## I/O-bound: gunicorn worker classes (one replica, one worker process)", "",
                  "| worker class | req/s | p50 ms | p95 ms | failures | CPU total |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p.label} | {p.rps:.0f} | {p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.failure_ratio:.2%} | "
                  f"{p.total_cpu:.0f}% |" for p in classes]
        lines += ["", "Each request waits on a slow downstream, so a replica serves as many requests at once as "
                      "its worker class lets it hold open: one (sync), one per thread (gthread), or one per "
                      "greenlet (gevent).", ""]
    lines += ["## Raw data", "", "`summary.csv` (every run), `scaling.png`, wrk's summary per run (`*.json`) and "
              "Locust's own CSVs per run (`<label>_stats.csv`, `_stats_history.csv`, `_failures.csv`)."]
    path.write_text("\n".join(lines) + "\n")
