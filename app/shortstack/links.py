"""Links: creating them in PostgreSQL and resolving codes through the Redis cache (cache-aside)."""

from __future__ import annotations

import enum
import itertools
import json
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

import psycopg
import redis
from psycopg import sql

from . import clickstream, metrics
from .backends import Backends
from .config import Settings
from .validation import NewLink, canonical_host, looks_like_code

CODE_ALPHABET = string.ascii_letters + string.digits
# 62**7 ≈ 3.5e12 codes: a guess hits an existing link with negligible odds, and collisions are retried.
CODE_LENGTH = 7
CREATE_ATTEMPTS = 5
# Cached "no such code": a flood of unknown codes costs Redis lookups, not PostgreSQL queries.
MISSING = "-"
# Cached "taken down by an operator" (admin disable): 410 on every replica at once.
DISABLED = "x"
# Cached "deleted by its owner": 410 too, said differently.
DELETED = "d"
LINK_COLUMNS = ("code, url, created_at, expires_at, click_count, owner_key_id, owner_session, public_stats,"
                " disabled_at, deleted_at")


# The hot path in one Redis round trip: read the cached target and, only if it is live and the
# caller sent a click, queue the click (capped, see clickstream), atomically. Expiry is checked
# here (for a cached target) and in CachedTarget.is_expired (for one just read from PostgreSQL).
# KEYS: the cache key, the click stream, its dropped counter. ARGV: now in Unix ms, the
# "unknown code", "disabled" and "deleted" markers, the stream's cap, then the click's field/value
# pairs (none: not counted).
FOLLOW_SCRIPT = clickstream.QUEUE_CLICK_LUA + """
local cached = redis.call('GET', KEYS[1])
if not cached then return {'uncached'} end
if cached == ARGV[2] then return {'unknown'} end
if cached == ARGV[3] then return {'disabled'} end
if cached == ARGV[4] then return {'deleted'} end
local expires_at_ms = cjson.decode(cached)['e']
if expires_at_ms ~= cjson.null and tonumber(ARGV[1]) >= expires_at_ms then return {'expired'} end
if #ARGV > 5 then queue_click(KEYS[2], KEYS[3], ARGV[5], {unpack(ARGV, 6)}) end
return {'live', cached}
"""


class Followed(enum.Enum):
    """What following a code found."""

    LIVE = "live"  # redirect; the click (if any) is in the stream
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    DISABLED = "disabled"  # taken down by an operator
    DELETED = "deleted"  # deleted by its owner
    UNCACHED = "uncached"  # not in the cache (or Redis is down): ask PostgreSQL


_CACHE_COUNTERS = {Followed.LIVE: metrics.CACHE_HIT, Followed.EXPIRED: metrics.CACHE_HIT,
                   Followed.DISABLED: metrics.CACHE_HIT, Followed.DELETED: metrics.CACHE_HIT,
                   Followed.UNKNOWN: metrics.CACHE_NEGATIVE_HIT, Followed.UNCACHED: metrics.CACHE_MISS}


class AliasTaken(Exception):
    """The requested alias already names another link."""


class UnknownLink(LookupError):
    """No link has this code (or it could not be one); the message says so."""

    def __init__(self, code: str) -> None:
        super().__init__(f"No link has the code {code!r}.")


class PrivateLink(PermissionError):
    """The link exists, but its target and statistics are its owner's only."""


class DeletedLink(LookupError):
    """Its owner deleted the link; the code stays taken, and answers 410."""


@dataclass(frozen=True)
class Owner:
    """Who is asking: the API key sent (its id) and the browser session's owner id, either or
    neither (anonymous); or, through the bot, a Telegram sender (user or chat id)."""

    key_id: int | None = None
    session: str | None = None
    telegram_sender: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None and self.session is None and self.telegram_sender is None


@dataclass(frozen=True)
class Link:
    """A stored link (columns as in LINK_COLUMNS)."""

    code: str
    url: str
    created_at: datetime
    expires_at: datetime | None
    click_count: int
    owner_key_id: int | None
    owner_session: str | None
    public_stats: bool
    disabled_at: datetime | None
    deleted_at: datetime | None

    def is_expired(self, now: datetime) -> bool:
        """True once `now` has reached the expiry time."""
        return self.expires_at is not None and now >= self.expires_at

    def visible_to(self, owner: Owner) -> bool:
        """Whether `owner` may read this link's target and statistics: public ones to anyone,
        others only their owner's."""
        return self.public_stats or self.owned_by(owner)

    def owned_by(self, owner: Owner) -> bool:
        """Whether `owner` may manage this link: the key or the browser session that created it.
        A link created by neither has no owner, so nobody manages it."""
        return ((owner.key_id is not None and owner.key_id == self.owner_key_id)
                or (owner.session is not None and owner.session == self.owner_session))


@dataclass(frozen=True)
class CachedTarget:
    """What a redirect needs to know about a code; this is what the cache holds."""

    url: str
    expires_at_ms: int | None

    def is_expired(self, now_ms: int) -> bool:
        """True once `now_ms` (Unix milliseconds) has reached the expiry time."""
        return self.expires_at_ms is not None and now_ms >= self.expires_at_ms

    def to_cache(self) -> str:
        return json.dumps({"u": self.url, "e": self.expires_at_ms})

    @classmethod
    def from_cache(cls, raw: str) -> "CachedTarget":
        data = json.loads(raw)
        return cls(url=data["u"], expires_at_ms=data["e"])

    @classmethod
    def of(cls, url: str, expires_at: datetime | None) -> "CachedTarget":
        return cls(url=url, expires_at_ms=None if expires_at is None else int(expires_at.timestamp() * 1000))


def new_code() -> str:
    """A random, URL-safe, unguessable short code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def cache_entry(url: str, expires_at: datetime | None, disabled_at: datetime | None,
                deleted_at: datetime | None) -> str:
    """What the link cache holds for a stored link: the DELETED or DISABLED marker, else its CachedTarget."""
    if deleted_at is not None:
        return DELETED
    if disabled_at is not None:
        return DISABLED
    return CachedTarget.of(url, expires_at).to_cache()


def cache_key(code: str) -> str:
    return f"link:{code}"


def stats_key(code: str) -> str:
    # The version of the stats' shape (v3: every hour and day, and who clicked): replicas of the
    # previous version, mid-deploy, cache theirs under the old key, so no replica serves the other's.
    return f"stats:v3:{code}"


class LinkStore:
    """Link persistence for one app process."""

    def __init__(self, backends: Backends, settings: Settings) -> None:
        self._backends = backends
        self._settings = settings
        self._follow_script: redis.commands.core.Script | None = None

    def create(self, new: NewLink, owner: Owner = Owner()) -> Link:
        """Store a new link under its alias or a fresh random code; raises AliasTaken.

        Its statistics are public if the request says so, and otherwise only when it has no
        owner (nobody else could ever see them).
        """
        codes = [new.alias] if new.alias else [new_code() for _ in range(CREATE_ATTEMPTS)]
        public = owner.anonymous if new.public_stats is None else new.public_stats

        runs = itertools.count()

        def insert(conn: psycopg.Connection) -> tuple | None:
            # A second run follows a connection that died, possibly while committing the first: a
            # code of ours now holding our target for our owner is that commit, not another link.
            again = next(runs) > 0
            for code in codes:
                row = conn.execute(
                    "INSERT INTO links (code, url, expires_at, owner_key_id, owner_session, public_stats, target_host)"
                    f" VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING RETURNING {LINK_COLUMNS}",
                    (code, new.url, new.expires_at, owner.key_id, owner.session, public, canonical_host(new.url)),
                ).fetchone()
                if row is None and again:
                    row = conn.execute(
                        f"SELECT {LINK_COLUMNS} FROM links WHERE code = %s AND url = %s"
                        " AND owner_key_id IS NOT DISTINCT FROM %s AND owner_session IS NOT DISTINCT FROM %s",
                        (code, new.url, owner.key_id, owner.session),
                    ).fetchone()
                if row is not None:
                    return row
            return None

        row = self._backends.transaction(insert, idempotent=True)
        if row is not None:
            link = Link(*row)
            # Cached once committed: a replica must not redirect to a link that was rolled back.
            self._cache_put(link.code, CachedTarget.of(link.url, link.expires_at).to_cache(),
                            self._settings.link_cache_ttl)
            return link
        if new.alias:
            raise AliasTaken(new.alias)
        raise RuntimeError(f"no free code after {CREATE_ATTEMPTS} random attempts")

    def get(self, code: str) -> Link | None:
        """The link with its click total, straight from PostgreSQL (totals are not cached)."""
        row = self._one(f"SELECT {LINK_COLUMNS} FROM links WHERE code = %s", (code,))
        return None if row is None else Link(*row)

    def readable(self, code: str, owner: Owner) -> Link:
        """The link `code` with its click total, if `owner` may read its target and statistics:
        public ones to anyone, others with the key, from the browser session or by the Telegram
        sender that created them. Raises UnknownLink, DeletedLink, PrivateLink."""
        link = self.get(code) if looks_like_code(code) else None
        if link is None:
            raise UnknownLink(code)
        if link.deleted_at is not None:
            raise DeletedLink(code)
        if not (link.visible_to(owner) or (owner.telegram_sender is not None
                                           and self.created_by_telegram_user(owner.telegram_sender, code))):
            raise PrivateLink(code)
        return link

    def get_many(self, codes: list[str]) -> list[Link]:
        """Several links with their click totals, in the order of `codes` (unknown and deleted codes
        skipped)."""
        rows = self._all(f"SELECT {LINK_COLUMNS} FROM links WHERE code = ANY(%s) AND deleted_at IS NULL", (codes,))
        by_code = {row[0]: Link(*row) for row in rows}
        return [by_code[code] for code in codes if code in by_code]

    def list_owned(self, owner: Owner, search: str, limit: int, offset: int) -> tuple[list[Link], int]:
        """One page of the links `owner` manages (Link.owned_by), newest first, deleted ones left out,
        and how many there are in all. `search` ("" for all) is found case-insensitively anywhere
        in the target or the code."""
        where = ("deleted_at IS NULL AND (owner_key_id = %(key)s OR owner_session = %(session)s)"
                 " AND (%(q)s = '' OR strpos(lower(url), lower(%(q)s)) > 0 OR strpos(lower(code), lower(%(q)s)) > 0)")
        params = {"key": owner.key_id, "session": owner.session, "q": search, "limit": limit, "offset": offset}

        def read(conn: psycopg.Connection) -> tuple[list[Link], int]:
            total = conn.execute(f"SELECT count(*) FROM links WHERE {where}", params).fetchone()[0]
            rows = conn.execute(f"SELECT {LINK_COLUMNS} FROM links WHERE {where}"
                                " ORDER BY created_at DESC, code LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
            return [Link(*row) for row in rows], total

        return self._backends.transaction(read, idempotent=True)

    def update(self, code: str, changes: dict[str, object]) -> Link | None:
        """Apply `changes` (validation.parse_link_changes: column -> value) to the link `code` and
        point every replica's redirect at the result from the next request on; None if no live
        (undeleted) link has `code`. Raises redis.RedisError if the cache could not be updated
        (repeating the call then finishes the job)."""
        if "url" in changes:
            changes = {**changes, "target_host": canonical_host(changes["url"])}
        assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                                         for column in changes) if changes else sql.SQL("code = code")
        row = self._one(sql.SQL("UPDATE links SET {} WHERE code = {} AND deleted_at IS NULL RETURNING {}").format(
            assignments, sql.Placeholder("code"), sql.SQL(LINK_COLUMNS)), {**changes, "code": code})
        if row is None:
            return None
        link = Link(*row)
        self._publish(link)
        return link

    def delete(self, code: str) -> bool:
        """Delete the link `code`: every replica answers 410 from the next request on, and the code
        stays taken, so no later link gets it. Repeating it is harmless. False if no link has `code`.
        Raises redis.RedisError as update does."""
        # disabled_at too: replicas of the previous version, mid-deploy, know no deleted_at and
        # would otherwise redirect a deleted link on a cache miss.
        row = self._one(f"UPDATE links SET deleted_at = coalesce(deleted_at, now()),"
                        f" disabled_at = coalesce(disabled_at, now()) WHERE code = %s RETURNING {LINK_COLUMNS}",
                        (code,))
        if row is None:
            return False
        self._publish(Link(*row))
        return True

    def clicks_since(self, code: str, hours: int) -> int:
        """Clicks on `code` stored in the current hour and the `hours` - 1 before it (UTC)."""
        return self._one("SELECT coalesce(sum(clicks), 0)::bigint FROM clicks_hourly WHERE code = %s"
                         " AND hour >= date_trunc('hour', now() - (%s - 1) * interval '1 hour', 'UTC')",
                         (code, hours))[0]

    def record_telegram_owner(self, user_id: int, code: str) -> None:
        """Remember that a Telegram sender created `code` (for the bot's /mylinks). `user_id` is the
        sender's id: a user's (positive), or a chat's (negative) for a message sent on a group's or
        channel's behalf; telegram_links.user_id holds both."""
        self._backends.transaction(lambda conn: conn.execute(
            "INSERT INTO telegram_links (user_id, code) VALUES (%s, %s) ON CONFLICT DO NOTHING", (user_id, code)),
            idempotent=True)

    def telegram_links(self, user_id: int, limit: int = 20) -> list[Link]:
        """The links a Telegram sender (user or chat id, as record_telegram_owner) created, newest first."""
        rows = self._all(
            f"SELECT {LINK_COLUMNS} FROM links WHERE code IN (SELECT code FROM telegram_links WHERE user_id = %s"
            " ORDER BY created_at DESC LIMIT %s) ORDER BY created_at DESC",
            (user_id, limit),
        )
        return [Link(*row) for row in rows]

    def created_by_telegram_user(self, user_id: int, code: str) -> bool:
        """True if the Telegram sender `user_id` (user or chat id) created `code` through the bot."""
        return self._one("SELECT 1 FROM telegram_links WHERE user_id = %s AND code = %s", (user_id, code)) is not None

    def set_disabled(self, code: str, disabled: bool) -> bool:
        """Take a link down (every replica answers 410 from the next request on) or put it back
        (unless its owner deleted it); False if no link has `code`. Raises redis.RedisError if the
        cache could not be updated, since replicas would then keep redirecting until their cached
        copy expires."""
        # A deleted link stays disabled too: see delete.
        row = self._one("UPDATE links SET disabled_at = CASE WHEN %s OR deleted_at IS NOT NULL"
                        " THEN coalesce(disabled_at, now()) END"
                        f" WHERE code = %s RETURNING {LINK_COLUMNS}", (disabled, code))
        if row is None:
            return False
        self._publish(Link(*row))
        return True

    def by_target_host(self, host: str, limit: int = 1000) -> list[Link]:
        """Links whose target is on `host` or one of its subdomains, newest first."""
        host = canonical_host(f"http://{host}/") or host.lower()
        rows = self._all(
            f"SELECT {LINK_COLUMNS} FROM links WHERE target_host = %(host)s"
            " OR right(target_host, length(%(host)s) + 1) = '.' || %(host)s"
            " ORDER BY created_at DESC LIMIT %(limit)s",
            {"host": host, "limit": limit},
        )
        return [Link(*row) for row in rows]

    def follow_cached(self, code: str, now_ms: int,
                      click: clickstream.ClickEvent | None) -> tuple[Followed, CachedTarget | None]:
        """Look `code` up in the cache and, if it is live there, queue `click`: one Redis round trip.

        UNCACHED means PostgreSQL must answer (resolve_uncached) and the click is not queued yet;
        that is also the answer when Redis is down.
        """
        fields = [] if click is None else clickstream.flat_fields(click)
        try:
            with self._backends.redis_call() as client:
                if self._follow_script is None:
                    self._follow_script = client.register_script(FOLLOW_SCRIPT)
                reply = self._follow_script(keys=[cache_key(code), clickstream.STREAM, clickstream.DROPPED_KEY],
                                            args=[now_ms, MISSING, DISABLED, DELETED,
                                                  self._settings.click_stream_max_len, *fields])
        except redis.RedisError:  # Backends.redis_call logs an outage once, not per request
            reply = ["uncached"]
        followed = Followed(reply[0])
        _CACHE_COUNTERS[followed].inc()
        return followed, CachedTarget.from_cache(reply[1]) if followed is Followed.LIVE else None

    def resolve_uncached(self, code: str, now_ms: int) -> tuple[Followed, CachedTarget | None]:
        """What `code` is, from PostgreSQL: LIVE with its target, or UNKNOWN, DISABLED, DELETED,
        EXPIRED. The answer is cached (also "no such code", "disabled" and "deleted"), unless a
        change was cached meanwhile (see _publish)."""
        row = self._one("SELECT url, expires_at, disabled_at, deleted_at FROM links WHERE code = %s", (code,))
        if row is None:
            self._cache_put(code, MISSING, self._settings.negative_cache_ttl, only_if_absent=True)
            return Followed.UNKNOWN, None
        url, expires_at, disabled_at, deleted_at = row
        entry = cache_entry(url, expires_at, disabled_at, deleted_at)
        self._cache_put(code, entry, self._settings.link_cache_ttl, only_if_absent=True)
        if entry in (DELETED, DISABLED):
            return (Followed.DELETED if entry == DELETED else Followed.DISABLED), None
        target = CachedTarget.from_cache(entry)
        return (Followed.EXPIRED if target.is_expired(now_ms) else Followed.LIVE), target

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
        return self._all(ROLLUPS, {"code": code})

    # For statements that may run twice (reads, idempotent updates): see Backends.transaction.
    def _one(self, query: str | sql.Composed, params: tuple | dict) -> tuple | None:
        return self._backends.transaction(lambda conn: conn.execute(query, params).fetchone(), idempotent=True)

    def _all(self, query: str | sql.Composed, params: tuple | dict) -> list[tuple]:
        return self._backends.transaction(lambda conn: conn.execute(query, params).fetchall(), idempotent=True)

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

    def _cache_put(self, code: str, value: str, ttl: int, only_if_absent: bool = False) -> None:
        try:
            with self._backends.redis_call() as client:
                client.set(cache_key(code), value, ex=max(1, ttl), nx=only_if_absent)
        except redis.RedisError:
            pass  # the next follow reads PostgreSQL again

    def _publish(self, link: Link) -> None:
        """Cache what `link` now is, for every replica's next redirect. A replica that read the row
        before the change caches its answer only if the key is absent (resolve_uncached), so it
        cannot put the old state back after this. Raises redis.RedisError."""
        entry = cache_entry(link.url, link.expires_at, link.disabled_at, link.deleted_at)
        with self._backends.redis_call() as client:
            client.set(cache_key(link.code), entry, ex=max(1, self._settings.link_cache_ttl))


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
    """LinkStore.stats, read on `conn`."""
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
