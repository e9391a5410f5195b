"""POST /telegram/webhook: Telegram's updates enter here, on any replica, and leave for a queue.

The view only checks the secret, de-duplicates update_id (Telegram redelivers on any non-2xx)
and appends the raw update to a Redis stream; a bot worker processes it with
python-telegram-bot (`python -m shortstack.bot consume`). A sync gunicorn worker could not run
the bot's asyncio machinery inside the view anyway.
"""

from __future__ import annotations

import hmac
import json
import logging

import redis
from flask import Blueprint, Response, jsonify, request

from . import services
from .problems import problem

log = logging.getLogger(__name__)

bp = Blueprint("telegram", __name__)

UPDATES_STREAM = "bot:updates"
UPDATES_GROUP = "bot-workers"
SEEN_TTL_S = 24 * 3600
# Mark the update seen and queue it in one step: a crash between the two would lose it.
_ENQUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'update', ARGV[2])
end
return false
"""


@bp.post("/telegram/webhook")
def webhook() -> Response:
    """Accept one update from Telegram; 200 once it is queued (or was already)."""
    settings = services.settings()
    if not settings.telegram_bot_token:
        return problem(404, "The Telegram bot is off on this deployment (no TELEGRAM_BOT_TOKEN).")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not settings.telegram_webhook_secret or not hmac.compare_digest(given, settings.telegram_webhook_secret):
        return problem(403, "Wrong or missing X-Telegram-Bot-Api-Secret-Token.")
    update = request.get_json(silent=True)
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return problem(400, "The body must be a Telegram Update: a JSON object with an integer update_id.")
    client = services.backends().redis
    try:
        queued = client.eval(_ENQUEUE_ONCE, 2, f"bot:seen:{update['update_id']}", UPDATES_STREAM, SEEN_TTL_S,
                             json.dumps(update))
    except redis.RedisError as exc:
        log.warning("telegram update %s not queued: %s", update["update_id"], exc)
        response = problem(503, "The update queue is unavailable; Telegram will deliver the update again.")
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(queued=bool(queued))
