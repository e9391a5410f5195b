"""A link's statistics: read from the counters the click worker keeps, and cached briefly in Redis."""

from __future__ import annotations

import json

import psycopg
import redis

from .backends import Backends
from .config import Settings


def stats_key(code: str) -> str:
    # The version of the stats' shape (v3: every hour and day, and who clicked): replicas of the
    # previous version, mid-deploy, cache theirs under the old key, so no replica serves the other's.
    return f"stats:v3:{code}"


class LinkStats:
    """Statistics of links for one process."""

    def __init__(self, backends: Backends, settings: Settings) -> None:
        self._backends = backends
        self._settings = settings

    def clicks_since(self, code: str, hours: int) -> int:
        """Clicks on `code` stored in the current hour and the `hours` - 1 before it (UTC)."""
        return self._backends.fetch_one(
            "SELECT coalesce(sum(clicks), 0)::bigint FROM clicks_hourly WHERE code = %s"
            " AND hour >= date_trunc('hour', now() - (%s - 1) * interval '1 hour', 'UTC')", (code, hours))[0]

    def stats(self, code: str) -> dict | None:
        """Clicks per hour (last 48 h: 48 rows, oldest first, hours without clicks at 0), per day
        (last 30 days: 30 rows, likewise), top referrers, and who clicked.

        `visitors` splits total_clicks into people, bots and link previews (the click worker's
        classification of the User-Agent); `bot_clicks` is bots and previews together, as it was
        before previews were told apart. `browsers`, `operating_systems` (top 10 each) and
        `devices` count clicks by what the worker parsed from the User-Agent; a null name is a
        click stored before it was recorded.

        Read from the counters the click worker keeps, so the cost grows with the number of
        hours shown, not of clicks; and kept STATS_CACHE_TTL seconds in Redis, so a crowd asking
        for one popular link's stats costs PostgreSQL one query a few seconds.
        """
        cached = self._cached_stats(code)
        if cached is not None:
            return cached
        stats = self._backends.transaction(lambda conn: _stats(conn, code), idempotent=True)
        if stats is not None:
            self._cache_put_stats(code, stats)
        return stats

    def rollups(self, code: str) -> list[tuple[str, str, int]]:
        """Every counter the click worker keeps for `code`, as (rollup, value, clicks) rows: "hour"
        (UTC, ISO 8601, oldest first), then "referrer" (host, "" for none), "browser", "os" and
        "device_type" ("" where not recorded), each most clicked first. Empty for unknown codes."""
        return self._backends.fetch_all(ROLLUPS, {"code": code})

    def _cached_stats(self, code: str) -> dict | None:
        if not self._settings.stats_cache_ttl:
            return None
        try:
            with self._backends.redis_call() as client:
                raw = client.get(stats_key(code))
        except redis.RedisError:
            return None
        return None if raw is None else json.loads(raw)

    def _cache_put_stats(self, code: str, stats: dict) -> None:
        if not self._settings.stats_cache_ttl:
            return
        try:
            with self._backends.redis_call() as client:
                client.set(stats_key(code), json.dumps(stats), ex=self._settings.stats_cache_ttl)
        except redis.RedisError:
            pass  # read from PostgreSQL again next time

# Every counter of one link, for the CSV export; `part` keeps each rollup's rows together.
ROLLUPS = """
SELECT rollup, value, clicks FROM (
    SELECT 1 AS part, 'hour' AS rollup, to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"') AS value, clicks
    FROM clicks_hourly WHERE code = %(code)s
    UNION ALL SELECT 2, 'referrer', referrer_host, clicks FROM referrer_counts WHERE code = %(code)s
    UNION ALL SELECT 3, 'browser', browser, sum(clicks)::bigint FROM user_agent_counts WHERE code = %(code)s GROUP BY 3
    UNION ALL SELECT 4, 'os', os, sum(clicks)::bigint FROM user_agent_counts WHERE code = %(code)s GROUP BY 3
    UNION ALL SELECT 5, 'device_type', device_type, sum(clicks)::bigint FROM user_agent_counts WHERE code = %(code)s
    GROUP BY 3
) AS counters
ORDER BY part, CASE WHEN part = 1 THEN value END, clicks DESC, value
"""
# (stats key, user_agent_counts column): who clicked, by one column each.
USER_AGENT_PARTS = (("browsers", "browser"), ("operating_systems", "os"), ("devices", "device_type"))


def _stats(conn: psycopg.Connection, code: str) -> dict | None:
    """LinkStats.stats, read on `conn`."""
    link = conn.execute("SELECT click_count, bot_click_count, preview_click_count FROM links WHERE code = %s",
                        (code,)).fetchone()
    if link is None:
        return None
    # Every slot, empty ones at 0: a chart of the rows shows time as it passed.
    by_hour = conn.execute(
        "SELECT slot, coalesce(clicks_hourly.clicks, 0) FROM generate_series("
        " date_trunc('hour', now() - interval '47 hours', 'UTC'), date_trunc('hour', now(), 'UTC'), interval '1 hour')"
        " AS slot LEFT JOIN clicks_hourly ON clicks_hourly.code = %s AND clicks_hourly.hour = slot ORDER BY 1",
        (code,),
    ).fetchall()
    # Days are UTC days: the series runs on timestamps without a time zone, so no DST shifts them.
    by_day = conn.execute(
        "SELECT day::date, coalesce(sum(clicks_hourly.clicks), 0)::bigint FROM generate_series("
        " date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days',"
        " date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS day"
        " LEFT JOIN clicks_hourly ON clicks_hourly.code = %s AND clicks_hourly.hour >= day AT TIME ZONE 'UTC'"
        " AND clicks_hourly.hour < (day + interval '1 day') AT TIME ZONE 'UTC'"
        " GROUP BY 1 ORDER BY 1",
        (code,),
    ).fetchall()
    referrers = conn.execute(
        "SELECT nullif(referrer_host, ''), clicks FROM referrer_counts WHERE code = %s"
        " ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 10",
        (code,),
    ).fetchall()
    user_agents = {
        key: [{"name": name, "clicks": n} for name, n in conn.execute(
            f"SELECT nullif({column}, ''), sum(clicks)::bigint FROM user_agent_counts WHERE code = %s"
            " GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 10", (code,)).fetchall()]
        for key, column in USER_AGENT_PARTS}
    return {
        "code": code,
        "total_clicks": link[0],
        "bot_clicks": link[1],
        "visitors": {"human": link[0] - link[1], "bot": link[1] - link[2], "preview": link[2]},
        "by_hour": [{"hour": h.isoformat(), "clicks": n} for h, n in by_hour],
        "by_day": [{"day": d.isoformat(), "clicks": n} for d, n in by_day],
        "top_referrers": [{"host": host, "clicks": n} for host, n in referrers],
        **user_agents,
    }
