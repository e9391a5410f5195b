"""The Telegram update stream contract: what the webhook view appends, what the bot consumer reads.

Telegram redelivers an update on any non-2xx answer, possibly to another replica, so the
webhook marks each update_id as seen and queues the update in one atomic step.
"""

from __future__ import annotations

import json

import redis

from .clickstream import MAX_REQUEST_ID_CHARS

STREAM = "bot:updates"
GROUP = "bot-workers"
# Updates the bot worker cannot read are moved here (and acknowledged) instead of stopping it.
DEAD_LETTER_STREAM = "bot:updates:dead"
SEEN_TTL_S = 24 * 3600
# The largest update the webhook takes: the edge's limit (client_max_body_size in nginx/conf.d), so
# whatever nginx lets through is queued. Telegram sizes an update, not us: a 2 700-character
# Cyrillic message alone is 16 432 bytes of JSON (\u escapes), and a reply carries the message it
# answers. Refused updates are redelivered and slow the whole bot down.
MAX_UPDATE_BYTES = 64 * 1024
# Mark the update seen and queue it in one step: a crash between the two would lose it.
_ENQUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'update', ARGV[2], 'request_id', ARGV[3])
end
return false
"""


def enqueue_once(client: redis.Redis, update: dict, request_id: str = "") -> bool:
    """Queue `update` unless its update_id was queued before; True if this call queued it.
    `request_id` (the webhook call's X-Request-ID) travels with it for the bot worker's log."""
    return bool(client.eval(_ENQUEUE_ONCE, 2, f"bot:seen:{update['update_id']}", STREAM, SEEN_TTL_S,
                            json.dumps(update), request_id[:MAX_REQUEST_ID_CHARS]))


def decode(fields: dict[str, str]) -> dict:
    """The update a stream entry carries."""
    return json.loads(fields["update"])


def request_id(fields: dict[str, str]) -> str:
    """The X-Request-ID of the webhook call that queued the entry ("" for entries queued before
    request ids travelled with them)."""
    return fields.get("request_id", "")
