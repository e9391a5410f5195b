"""The benchmark's arithmetic and its written report: efficiency, the USL fit, the plot, report.md."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TIERS = ("nginx", "app", "worker", "postgres", "redis", "locust")


@dataclass
class Point:
    """One measured run: what was run, and what came out."""

    experiment: str  # "ceiling", "scaling" or "worker-class"
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


def limiting_factor(point: Point, cores: int) -> str:
    """One honest sentence on what limited a run, read from its CPU figures."""
    capacity = 100 * cores
    share = ", ".join(f"{tier} {point.cpu_percent[tier]:.0f}%" for tier in TIERS if tier in point.cpu_percent)
    if point.cpu_percent.get("locust", 0) >= 90:
        return (f"load-generator-bound: Locust's single process used a full core ({share}); the stack "
                f"could answer faster than one Locust process can ask.")
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


def plot(points: list[Point], fit: USLFit | None, path: Path) -> None:
    """scaling.png: throughput and p95 against replicas, and the I/O-bound worker classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scaling = sorted((p for p in points if p.experiment == "scaling"), key=lambda p: p.replicas)
    classes = [p for p in points if p.experiment == "worker-class"]
    fig, (ax_rps, ax_p95, ax_io) = plt.subplots(1, 3, figsize=(15, 4.5))
    ns = [p.replicas for p in scaling]
    ax_rps.plot(ns, [p.rps for p in scaling], "o-", label="measured")
    if scaling:
        ax_rps.plot(ns, [scaling[0].rps * n / scaling[0].replicas for n in ns], ":", color="grey", label="linear")
    if fit is not None:
        grid = np.linspace(1, max(ns), 50)
        ax_rps.plot(grid, [fit.throughput(n) for n in grid], "--",
                    label=f"USL σ={fit.sigma:.2f} κ={fit.kappa:.3f}")
    ax_rps.set(title="Throughput vs replicas (mixed scenario)", xlabel="app replicas", ylabel="requests/s")
    ax_rps.legend()
    ax_p95.plot(ns, [p.p95_ms for p in scaling], "o-", color="tab:red")
    ax_p95.set(title="p95 latency vs replicas", xlabel="app replicas", ylabel="ms")
    ax_p95.set_ylim(bottom=0)
    ax_io.bar([p.label for p in classes], [p.rps for p in classes], color="tab:green")
    ax_io.set(title="I/O-bound: one replica, one worker process", ylabel="requests/s")
    for axis in (ax_rps, ax_p95):
        axis.set_xticks(ns)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(points: list[Point], fit: USLFit | None, machine: str, cores: int, command: str,
                 path: Path) -> None:
    """report.md: the tables, the ratios, the fit and what limited each curve."""
    by_label = {p.label: p for p in points}
    lines = ["# Shortstack benchmark", "", f"- machine: {machine}", f"- command: `{command}`", ""]

    ceilings = [p for p in points if p.experiment == "ceiling"]
    if ceilings:
        lines += ["## Ceilings (same run, same users)", "", "| path | req/s | p50 ms | p95 ms | failures |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p.label} | {p.rps:.0f} | {p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.failure_ratio:.2%} |"
                  for p in ceilings]
        nginx, hello, hot = (by_label.get(k) for k in ("nginx only", "nginx → Flask, no I/O", "redirect hot path"))
        if nginx and hello and hot:
            lines += ["", f"Ratios: redirect hot path = **{hot.rps / hello.rps:.2f}×** Flask-without-I/O and "
                          f"**{hot.rps / nginx.rps:.2f}×** nginx-alone throughput; Flask-without-I/O = "
                          f"{hello.rps / nginx.rps:.2f}× nginx alone.",
                      f"Limit of the nginx-alone run: {limiting_factor(nginx, cores)}"]
        lines.append("")

    scaling = sorted((p for p in points if p.experiment == "scaling"), key=lambda p: p.replicas)
    if scaling:
        efficiency = scaling_efficiency({p.replicas: p.rps for p in scaling}) if scaling[0].replicas == 1 else {}
        lines += ["## Scaling: mixed scenario (visitors, a creator, an analyst) vs app replicas", "",
                  "| replicas | req/s | efficiency X(N)/(N·X(1)) | p50 ms | p95 ms | p99 ms | failures | CPU total |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p.replicas} | {p.rps:.0f} | {efficiency.get(p.replicas, float('nan')):.2f} | {p.p50_ms:.0f} | "
                  f"{p.p95_ms:.0f} | {p.p99_ms:.0f} | {p.failure_ratio:.2%} | {p.total_cpu:.0f}% |" for p in scaling]
        if fit is not None:
            peak = "unbounded (κ = 0)" if math.isinf(fit.peak_n) else f"N ≈ {fit.peak_n:.1f}"
            lines += ["", f"USL fit: λ = {fit.lam:.0f} req/s, σ (contention) = {fit.sigma:.3f}, "
                          f"κ (coherency) = {fit.kappa:.4f}; predicted peak at {peak}."]
        lines += ["", "What limited it:", ""]
        lines += [f"- {p.replicas} replica(s): {limiting_factor(p, cores)}" for p in scaling]
        lines.append("")

    classes = [p for p in points if p.experiment == "worker-class"]
    if classes:
        lines += ["## I/O-bound: gunicorn worker classes (one replica, one worker process)", "",
                  "| worker class | req/s | p50 ms | p95 ms | failures | CPU total |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p.label} | {p.rps:.0f} | {p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.failure_ratio:.2%} | "
                  f"{p.total_cpu:.0f}% |" for p in classes]
        lines += ["", "Each request waits on a slow downstream, so a replica serves as many requests at once as "
                      "its worker class lets it hold open: one (sync), one per thread (gthread), or one per "
                      "greenlet (gevent)."]
        lines += [f"- {p.label}: {limiting_factor(p, cores)}" for p in classes]
        lines.append("")

    lines += ["## Raw data", "", "`summary.csv` (every run), `scaling.png`, and Locust's own CSVs per run "
              "(`<label>_stats.csv`, `_stats_history.csv`, `_failures.csv`)."]
    path.write_text("\n".join(lines) + "\n")
