"""The click stream contract: what a redirect appends to Redis and what the worker reads back.

The redirect hot path only appends the raw facts (code, time, Referer, User-Agent); the worker
does the slower enrichment (referrer host, user-agent family, bot or not) off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

STREAM = "clicks"
GROUP = "click-workers"
# Entries the worker cannot decode are moved here instead of being dropped.
DEAD_LETTER_STREAM = "clicks:dead"
# Client-supplied headers are cut to this length so one request cannot bloat the stream.
MAX_HEADER_CHARS = 512


@dataclass(frozen=True)
class ClickEvent:
    """One followed short link, as it travels through the stream."""

    code: str
    at_ms: int
    referrer: str = ""
    user_agent: str = ""

    def to_fields(self) -> dict[str, str]:
        """The stream entry's fields."""
        return {
            "code": self.code,
            "at_ms": str(self.at_ms),
            "referrer": self.referrer[:MAX_HEADER_CHARS],
            "user_agent": self.user_agent[:MAX_HEADER_CHARS],
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "ClickEvent":
        """Decode a stream entry; raises ValueError if it is not a click event."""
        try:
            return cls(
                code=fields["code"],
                at_ms=int(fields["at_ms"]),
                referrer=fields.get("referrer", ""),
                user_agent=fields.get("user_agent", ""),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a click event: {fields!r}") from exc


def append(client: redis.Redis, event: ClickEvent) -> str:
    """Append a click to the stream; returns the entry id, which becomes the stored click's key."""
    return client.xadd(STREAM, event.to_fields())
