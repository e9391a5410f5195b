"""Clicks a replica could not queue while Redis was down, kept in its memory and queued when
Redis answers again (docs/architecture.md, "Redis down").

Each spooled click gets an id of its own, which the worker stores it under instead of its stream
entry id: if a replay's reply is lost and the replay is sent again, the click is still stored once.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import secrets

import redis

from . import clickstream

# Clicks per MULTI/EXEC when replaying: one round trip each, short enough not to stall Redis.
REPLAY_CHUNK = 500


class ClickSpool:
    """At most `max_len` clicks of one process, oldest first; thread-safe (deque operations)."""

    def __init__(self, max_len: int) -> None:
        self._max_len = max_len
        self._events: collections.deque[clickstream.ClickEvent] = collections.deque()
        # Unique per process life: ids from a process that restarted never collide.
        self._prefix = f"spool-{secrets.token_hex(6)}-"
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: clickstream.ClickEvent) -> bool:
        """Keep `event` for later; False when the spool is full (the click is then lost)."""
        if len(self._events) >= self._max_len:
            return False
        self._events.append(dataclasses.replace(event, click_id=f"{self._prefix}{next(self._seq)}"))
        return True

    def replay(self, client: redis.Redis, stream_max_len: int) -> int:
        """Queue every spooled click on `client`, REPLAY_CHUNK at a time; returns how many. Raises
        redis.RedisError with the unsent clicks still spooled."""
        sent = 0
        while self._events:
            chunk = [self._events.popleft() for _ in range(min(REPLAY_CHUNK, len(self._events)))]
            try:
                clickstream.append_all(client, chunk, stream_max_len)
            except redis.RedisError:
                self._events.extendleft(reversed(chunk))
                raise
            sent += len(chunk)
        return sent
