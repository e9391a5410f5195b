"""Reading a Redis stream as one consumer of a group, at least once, for the click and bot workers.

Each batch comes from, in order: this consumer's own unacknowledged entries (at start, and after a
batch that was not all marked done: a failure retries them), entries another consumer left
pending longer than `claim_idle_ms` (it died: XAUTOCLAIM takes them over), then new entries.
Entries are acknowledged and deleted only when the caller says they are done, so the stream's
length is the backlog.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)

Entry = tuple[str, "dict[str, str] | None"]

# How long a consumer waits for new entries in one read (its Redis client must wait longer:
# connect_redis(url, blocking_ms=READ_BLOCK_MS)).
READ_BLOCK_MS = 1000
# The one error policy of every stream consumer: a Redis error waits this long, then the same
# call is made again; the entries stay pending in the meantime, so nothing is lost.
RETRY_DELAY_S = 1.0


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) if they do not exist yet."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class StreamReader:
    """One consumer named `consumer` in `group` on `stream`."""

    def __init__(self, client: redis.Redis, stream: str, group: str, consumer: str, batch_size: int,
                 claim_idle_ms: int) -> None:
        self.client, self.stream, self.group, self.consumer = client, stream, group, consumer
        self.batch_size, self.claim_idle_ms = batch_size, claim_idle_ms
        self._group_ready = False
        self._next_claim = 0.0
        # The ids of the last batch not yet marked done; None until the first batch, when this
        # consumer may hold entries from an earlier life. Own pending entries are read back only
        # then, or when part of the last batch was never marked done: otherwise that read is a
        # wasted round trip per batch.
        self._not_done: set[str] | None = None

    def next_batch(self, block_ms: int) -> list[Entry]:
        """Up to batch_size entries, waiting at most `block_ms` for new ones. Deleted entries come
        back with fields None: they only need acknowledging."""
        try:
            if not self._group_ready:
                ensure_group(self.client, self.stream, self.group)
                self._group_ready = True
            entries = self._read("0", block=None) if self._not_done is None or self._not_done else []
            if not entries and time.monotonic() >= self._next_claim:
                if self._claim_stale():
                    entries = self._read("0", block=None)
            entries = entries or self._read(">", block=block_ms)
            self._not_done = {stream_id for stream_id, _ in entries}
            return entries
        except redis.ResponseError as exc:
            # A Redis that restarted empty has lost the group too; recreate it next time.
            if "NOGROUP" in str(exc):
                self._group_ready = False
            raise

    def done(self, ids: list[str], dead: list[tuple[str, dict[str, str]]] = (), dead_letter: str = "") -> None:
        """Acknowledge and delete `ids`; copy the undecodable `dead` entries to `dead_letter` first."""
        with self.client.pipeline(transaction=True) as pipe:
            for stream_id, fields in dead:
                log.error("%s: undecodable entry %s moved to %s", self.consumer, stream_id, dead_letter)
                pipe.xadd(dead_letter, {"stream_id": stream_id, **fields})
            pipe.xack(self.stream, self.group, *ids)
            pipe.xdel(self.stream, *ids)
            pipe.execute()
        if self._not_done:
            self._not_done.difference_update(ids)

    def acknowledge(self, ids: list[str], dead: list[tuple[str, dict[str, str]]], dead_letter: str,
                    stop: threading.Event) -> bool:
        """done(), retried every RETRY_DELAY_S while Redis fails, until it succeeds (True) or `stop`
        is set (False: the entries stay pending and come back to this consumer). Tried at least
        once, so a consumer told to stop still acknowledges the batch it has just finished.

        Retrying the acknowledgement alone, not the batch, matters to a consumer whose handling
        is not idempotent (the bot's replies): a re-read batch would be answered twice.
        """
        while True:
            try:
                self.done(ids, dead, dead_letter)
                return True
            except redis.RedisError as exc:
                log.warning("%s: acknowledging %d entr%s of %s failed: %s; retrying in %.0fs", self.consumer,
                            len(ids), "y" if len(ids) == 1 else "ies", self.stream, exc, RETRY_DELAY_S)
            if stop.wait(RETRY_DELAY_S):
                return False

    def pending(self) -> int:
        """How many entries this consumer holds unacknowledged."""
        return len(self.client.xpending_range(self.stream, self.group, min="-", max="+", count=10_000,
                                              consumername=self.consumer))

    def _read(self, start: str, block: int | None) -> list[Entry]:
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=self.batch_size,
                                       block=block)
        return reply[0][1] if reply else []

    def _claim_stale(self) -> bool:
        """Take over entries other consumers left pending too long; True if there were some."""
        self._next_claim = time.monotonic() + self.claim_idle_ms / 1000 / 2
        claimed = self.client.xautoclaim(self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms,
                                         start_id="0-0", count=self.batch_size, justid=True)
        if claimed:  # with justid, redis-py answers just the claimed ids
            log.info("%s claimed %d stale entr%s of %s", self.consumer, len(claimed),
                     "y" if len(claimed) == 1 else "ies", self.stream)
        return bool(claimed)
