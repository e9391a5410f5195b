"""The redirect cache (cache-aside in Redis): following a code in one round trip, reading PostgreSQL
on a miss, and publishing a link's new state to every replica."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

import redis

from . import clickstream, metrics
from .backends import Backends
from .config import Settings

# Cached "no such code": a flood of unknown codes costs Redis lookups, not PostgreSQL queries.
MISSING = "-"
# Cached "taken down by an operator" (admin disable): 410 on every replica at once.
DISABLED = "x"
# Cached "deleted by its owner": 410 too, said differently.
DELETED = "d"

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


class RedirectCache:
    """The link cache for one app process."""

    def __init__(self, backends: Backends, settings: Settings) -> None:
        self._backends = backends
        self._settings = settings
        self._follow_script: redis.commands.core.Script | None = None

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
        change was cached meanwhile (see publish)."""
        row = self._backends.fetch_one("SELECT url, expires_at, disabled_at, deleted_at FROM links WHERE code = %s",
                                       (code,))
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

    def put_new(self, code: str, url: str, expires_at: datetime | None) -> None:
        """Cache a link just committed, so the first redirect need not read PostgreSQL. A Redis
        failure is ignored: that redirect reads PostgreSQL instead."""
        self._cache_put(code, CachedTarget.of(url, expires_at).to_cache(), self._settings.link_cache_ttl)

    def publish(self, code: str, entry: str) -> None:
        """Cache `entry` (cache_entry: what the link `code` now is) for every replica's next
        redirect. A replica that read the row before the change caches its answer only if the key
        is absent (resolve_uncached), so it cannot put the old state back after this. Raises
        redis.RedisError."""
        with self._backends.redis_call() as client:
            client.set(cache_key(code), entry, ex=max(1, self._settings.link_cache_ttl))

    def _cache_put(self, code: str, value: str, ttl: int, only_if_absent: bool = False) -> None:
        try:
            with self._backends.redis_call() as client:
                client.set(cache_key(code), value, ex=max(1, ttl), nx=only_if_absent)
        except redis.RedisError:
            pass  # the next follow reads PostgreSQL again
