"""The click stream contract: what a redirect appends to Redis and what the worker reads back.

The redirect hot path only appends the raw facts (code, time, Referer, User-Agent); the worker
does the slower enrichment (referrer host, user-agent family, bot or not) off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

STREAM = "clicks"
GROUP = "click-workers"
# How many clicks the stream's length cap (CLICK_STREAM_MAX_LEN) has dropped, all time.
DROPPED_KEY = "clicks:dropped"
# Entries the worker cannot decode are moved here instead of being dropped.
DEAD_LETTER_STREAM = "clicks:dead"
# Client-supplied headers are cut to this length so one request cannot bloat the stream.
MAX_HEADER_CHARS = 512
# nginx passes a caller's own X-Request-ID on: kept to this length (a UUID is 36, nginx's own 32).
MAX_REQUEST_ID_CHARS = 64


@dataclass(frozen=True)
class ClickEvent:
    """One followed short link, as it travels through the stream."""

    code: str
    at_ms: int
    referrer: str = ""
    user_agent: str = ""
    # Set by a replica that kept the click while Redis was down (clickspool): the id it is stored
    # under instead of its stream entry id, so a spooled click queued twice is stored once.
    click_id: str = ""
    # The X-Request-ID of the redirect, which the worker logs when it stores the click.
    request_id: str = ""

    def to_fields(self) -> dict[str, str]:
        """The stream entry's fields ("click_id" and "request_id" only when set)."""
        fields = {
            "code": self.code,
            "at_ms": str(self.at_ms),
            "referrer": self.referrer[:MAX_HEADER_CHARS],
            "user_agent": self.user_agent[:MAX_HEADER_CHARS],
        }
        if self.click_id:
            fields["click_id"] = self.click_id
        if self.request_id:
            fields["request_id"] = self.request_id[:MAX_REQUEST_ID_CHARS]
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "ClickEvent":
        """Decode a stream entry; raises ValueError if it is not a click event."""
        try:
            return cls(
                code=fields["code"],
                at_ms=int(fields["at_ms"]),
                referrer=fields.get("referrer", ""),
                user_agent=fields.get("user_agent", ""),
                click_id=fields.get("click_id", ""),
                request_id=fields.get("request_id", ""),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a click event: {fields!r}") from exc


# Lua, shared by every script that queues a click: XADD with an approximate length cap, so a
# backlog (workers slow or down) cannot fill Redis and push out the cache and the rate-limit
# counters; the entries the cap trims are counted. Trimming removes whole internal nodes (about
# 100 entries), so the stream may run a little over the cap before it drops any.
QUEUE_CLICK_LUA = """
local function queue_click(stream, dropped_key, max_len, fields)
  local before = redis.call('XLEN', stream)
  redis.call('XADD', stream, 'MAXLEN', '~', max_len, '*', unpack(fields))
  local dropped = before + 1 - redis.call('XLEN', stream)
  if dropped > 0 then redis.call('INCRBY', dropped_key, dropped) end
end
"""
# KEYS: the stream, the dropped counter. ARGV: the cap, then the click's field/value pairs.
_APPEND = QUEUE_CLICK_LUA + "queue_click(KEYS[1], KEYS[2], ARGV[1], {unpack(ARGV, 2)})"


def flat_fields(event: ClickEvent) -> list[str]:
    """The event's stream fields as one field, value, field, value… list, as scripts take them."""
    return [v for pair in event.to_fields().items() for v in pair]


def append(client: redis.Redis, event: ClickEvent, max_len: int) -> None:
    """Append a click to the stream, which is kept near `max_len` entries (a pipeline works too)."""
    client.eval(_APPEND, 2, STREAM, DROPPED_KEY, max_len, *flat_fields(event))


def append_all(client: redis.Redis, events: list[ClickEvent], max_len: int) -> None:
    """Append several clicks in one round trip, all or none (MULTI/EXEC), as append does."""
    with client.pipeline(transaction=True) as pipe:
        for event in events:
            append(pipe, event, max_len)
        pipe.execute()


def dropped(client: redis.Redis) -> int:
    """How many clicks the length cap has dropped."""
    return int(client.get(DROPPED_KEY) or 0)
