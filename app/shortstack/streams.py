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

# Removes from the group the consumer named ARGV[2] and every consumer idle for ARGV[3] ms, but
# only those holding nothing pending: XGROUP DELCONSUMER drops a consumer's pending entries, which
# nobody would then redeliver. A script, so no read can hand a consumer entries between the check
# and the removal. A live consumer reads every READ_BLOCK_MS, and from Redis 7.2 on each read
# resets its idle time; before 7.2 only a read that returns entries does, so a sweep never removes
# the consumer that runs it (another live one it removes is made again by its next read).
# KEYS: the stream. ARGV: the group, a consumer name (or ""), the idle threshold in ms, a
# consumer name never removed (or "").
FORGET_CONSUMERS = """
local removed = 0
for _, fields in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local consumer = {}
  for i = 1, #fields, 2 do consumer[fields[i]] = fields[i + 1] end
  if consumer['pending'] == 0 and consumer['name'] ~= ARGV[4]
     and (consumer['name'] == ARGV[2] or consumer['idle'] >= tonumber(ARGV[3])) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], consumer['name'])
    removed = removed + 1
  end
end
return removed
"""


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

    def leave(self) -> None:
        """Remove this consumer from the group if it holds nothing pending (else it stays, for
        another consumer to claim from); called once a worker has stopped reading. With Redis
        down the name stays, and another consumer removes it once it has been idle long enough."""
        try:
            left = self.client.eval(FORGET_CONSUMERS, 1, self.stream, self.group, self.consumer, self.claim_idle_ms,
                                    "")
        except redis.RedisError as exc:
            log.warning("%s could not leave group %s: %s", self.consumer, self.group, exc)
            return
        if left:
            log.info("%s left group %s of %s", self.consumer, self.group, self.stream)

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
        # Consumers idle this long are gone (a restart names a new one); once their entries are
        # claimed they hold nothing, and only their names would pile up in the group.
        forgotten = self.client.eval(FORGET_CONSUMERS, 1, self.stream, self.group, "", self.claim_idle_ms,
                                     self.consumer)
        if forgotten:
            log.info("%s removed %d idle consumer%s from %s", self.consumer, forgotten,
                     "" if forgotten == 1 else "s", self.group)
        return bool(claimed)
