"""Connections to PostgreSQL and Redis, created lazily in the process that uses them.

gunicorn imports the app after forking each worker (preload_app is off), and the first request
opens the pools, so no socket is ever shared across a fork.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import psycopg
import redis
from psycopg import sql
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Short timeouts: a dead dependency should turn into a clear 503 quickly, not a hung worker.
REDIS_TIMEOUT_S = 1.0
DB_CONNECT_TIMEOUT_S = 3
# The pool reconnects in the background with a doubling delay (1, 2, 4 s…, psycopg_pool's own), so
# after a restart of 1–2 s its next attempt can come up to 3 s after the first failure; a request
# waits a little longer than that rather than take a 503 (nginx's read timeout is 10 s).
DB_POOL_TIMEOUT_S = 5.0
# How long an open Redis circuit breaker skips Redis before an ordinary call may probe it.
REDIS_RETRY_S = 5.0


def connect_db(database_url: str) -> psycopg.Connection:
    """One PostgreSQL connection in UTC, for the worker and the migrate job."""
    return psycopg.connect(database_url, connect_timeout=DB_CONNECT_TIMEOUT_S, options="-c TimeZone=UTC")


def connect_redis(redis_url: str, blocking_ms: int = 0) -> redis.Redis:
    """A Redis client (it keeps its own connection pool) that answers strings, not bytes.

    `blocking_ms`: the longest blocking command (XREADGROUP BLOCK) it will send; the socket waits
    that much longer, so an idle blocking read returns empty instead of timing out.
    """
    return redis.Redis.from_url(
        redis_url,
        decode_responses=True,
        socket_timeout=REDIS_TIMEOUT_S + blocking_ms / 1000,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=30,
        # One immediate retry: a pooled connection that Redis closed (a restart) reconnects. redis-py's
        # default, three with backoff, made each call against a stopped Redis pay three connection
        # attempts, each with a DNS lookup of a container that has gone.
        retry=Retry(NoBackoff(), 1),
    )


class RedisUnavailable(redis.ConnectionError):
    """Raised instead of calling Redis while the circuit breaker is open (see Backends.redis_call);
    a redis.ConnectionError, so every fallback for a failed call applies to it unchanged."""


class Backends:
    """The per-process PostgreSQL pool and Redis client of one app worker, with the circuit
    breaker every use of Redis in a request goes through (redis_call)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._db: ConnectionPool | None = None
        self._redis: redis.Redis | None = None
        self._redis_retry_at = 0.0  # monotonic; 0: the breaker is closed

    @property
    def db(self) -> ConnectionPool:
        """The PostgreSQL pool; `with backends.db.connection() as conn:` borrows a connection."""
        if self._db is None:
            self._db = ConnectionPool(
                self._settings.database_url,
                min_size=1,
                max_size=max(1, self._settings.db_pool_size),
                kwargs={"connect_timeout": DB_CONNECT_TIMEOUT_S, "options": "-c TimeZone=UTC"},
                timeout=DB_POOL_TIMEOUT_S,
                # A connection that died while PostgreSQL restarted is replaced at checkout instead
                # of failing the request that drew it: one round trip buys recovery without errors.
                check=ConnectionPool.check_connection,
                open=False,
            )
            # Opening without waiting lets the app start (and answer /readyz 503) while PostgreSQL is down.
            self._db.open(wait=False)
        return self._db

    def transaction(self, work: Callable[[psycopg.Connection], T], idempotent: bool = False,
                    retry: bool = True) -> T:
        """`work(conn)` in one transaction on a pooled connection, committed once it returns.

        If the connection dies (PostgreSQL restarted, or ended the session as a fast shutdown does
        to every one), the transaction runs once more on a fresh connection, which the pool waits
        for (DB_POOL_TIMEOUT_S): when it died inside `work`, since nothing was committed; when it
        died while committing, only if `work` is `idempotent` (reads, upserts), since that commit
        may have happened.
        """
        used: psycopg.Connection | None = None
        try:
            with self.db.connection() as conn:
                used = conn
                try:
                    return work(conn)
                except psycopg.OperationalError:
                    if not (retry and conn.broken):
                        raise
                # Leaving the block now neither commits nor rolls back: a broken connection is
                # closed, and the pool replaces it.
        except psycopg.OperationalError:
            if not (retry and idempotent and used is not None and used.broken):
                raise
        log.info("a PostgreSQL connection died mid-transaction; running it again on a fresh one")
        return self.transaction(work, idempotent, retry=False)

    # For statements that may run twice (reads, idempotent updates): see transaction.
    def fetch_one(self, query: str | sql.Composed, params: tuple | dict) -> tuple | None:
        """The first row of `query`, or None."""
        return self.transaction(lambda conn: conn.execute(query, params).fetchone(), idempotent=True)

    def fetch_all(self, query: str | sql.Composed, params: tuple | dict) -> list[tuple]:
        """Every row of `query`."""
        return self.transaction(lambda conn: conn.execute(query, params).fetchall(), idempotent=True)

    @property
    def redis(self) -> redis.Redis:
        """The Redis client, without the breaker: for probes and operators' commands."""
        if self._redis is None:
            self._redis = connect_redis(self._settings.redis_url)
        return self._redis

    def close(self) -> None:
        """Close the PostgreSQL pool and the Redis client, if they were opened."""
        if self._db is not None:
            self._db.close()
        if self._redis is not None:
            self._redis.close()

    @property
    def redis_down(self) -> bool:
        """True while the breaker is open: Redis failed, and no probe has reached it since."""
        return self._redis_retry_at > 0

    @contextmanager
    def redis_call(self, probe: bool = False) -> Iterator[redis.Redis]:
        """The Redis client for the calls in the `with` block, through a circuit breaker.

        A connection error or timeout opens the breaker; while it is open the block is not run and
        RedisUnavailable (a redis.ConnectionError) is raised at once, so a request pays for a dead
        Redis once per outage, not per call (in compose each try paid a DNS lookup of seconds).
        A `probe` runs even then, and one that succeeds closes it. The app's heartbeat probes every
        second, and each failed probe defers the next ordinary try by REDIS_RETRY_S, so in the app
        no request waits on a probe; a process without a heartbeat (the bot) lets one call through
        as the probe every REDIS_RETRY_S.
        """
        if self._redis_retry_at and not probe:
            if time.monotonic() < self._redis_retry_at:
                raise RedisUnavailable("Redis failed recently and is not tried meanwhile")
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_S  # this call probes; others keep skipping
        try:
            yield self.redis
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not self._redis_retry_at:
                log.warning("Redis unavailable, serving without it until it answers again: %s", exc)
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_S
            raise
        if self._redis_retry_at:
            log.info("Redis answers again")
            self._redis_retry_at = 0.0
