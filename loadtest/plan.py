"""What `make bench` and `make demo` run: the plans (full and quick) and the app settings of each experiment."""

from __future__ import annotations

from dataclasses import dataclass


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

FULL = Plan(warmup_s=5, run_s=30, wrk_s=10, users=32, replicas=(1, 2, 4), io_replicas=(1, 2, 4, 8, 16),
            io_users=64, io_delay_ms=100,
            hot_path_workers=tuple((c, n) for c in ("sync", "gthread", "gevent") for n in (1, 2, 4)),
            ingest_events=200_000, stats_clicks=1_000_000)
QUICK = Plan(warmup_s=2, run_s=6, wrk_s=3, users=16, replicas=(1, 2), io_replicas=(1, 2), io_users=32,
             io_delay_ms=100, hot_path_workers=(("sync", 2), ("gevent", 2)), ingest_events=20_000,
             stats_clicks=50_000)

# Callers per I/O-bound replica: one request being served and one waiting, so each replica is
# always busy and the replicas, not the users, are the limit.
IO_USERS_PER_REPLICA = 2


def io_env(delay_ms: int) -> dict[str, str]:
    """Replicas of one sync process whose every request waits `delay_ms` on a slow downstream: one
    request at a time each, however idle the CPU."""
    return {**ONE_PROCESS_ENV, "GUNICORN_WORKER_CLASS": "sync", "DOWNSTREAM_DELAY_MS": str(delay_ms)}

