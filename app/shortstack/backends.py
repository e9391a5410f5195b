"""Connections to PostgreSQL and Redis, created lazily in the process that uses them.

gunicorn imports the app after forking each worker (preload_app is off), and the first request
opens the pools, so no socket is ever shared across a fork.
"""

from __future__ import annotations

import psycopg
import redis
from psycopg_pool import ConnectionPool

from .config import Settings

# Short timeouts: a dead dependency should turn into a clear 503 quickly, not a hung worker.
REDIS_TIMEOUT_S = 1.0
DB_CONNECT_TIMEOUT_S = 3
DB_POOL_TIMEOUT_S = 3.0


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
    )


class Backends:
    """The per-process PostgreSQL pool and Redis client of one app worker."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._db: ConnectionPool | None = None
        self._redis: redis.Redis | None = None

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

    @property
    def redis(self) -> redis.Redis:
        """The Redis client."""
        if self._redis is None:
            self._redis = connect_redis(self._settings.redis_url)
        return self._redis
