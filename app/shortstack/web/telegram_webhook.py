"""POST /telegram/webhook: Telegram's updates enter here, on any replica, and leave for a queue.

The view only checks the secret, de-duplicates update_id (Telegram redelivers on any non-2xx)
and appends the raw update to a Redis stream; a bot worker processes it with
python-telegram-bot (`worker/telegram_bot.py consume`), so the web tier never runs the bot's
asyncio machinery.
"""

from __future__ import annotations

import hmac
import logging

import redis
from flask import Blueprint, Response, jsonify, request

from .. import updatestream
from . import context
from .problems import Problem

log = logging.getLogger(__name__)

bp = Blueprint("telegram", __name__)


@bp.post("/telegram/webhook")
def webhook() -> Response:
    """Accept one update from Telegram; 200 once it is queued (or was already)."""
    settings = context.settings()
    if not settings.telegram_bot_token:
        raise Problem(404, "The Telegram bot is off on this deployment (no TELEGRAM_BOT_TOKEN).")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    # As bytes: compare_digest refuses str with non-ASCII characters, and a header can carry them.
    if not settings.telegram_webhook_secret or not hmac.compare_digest(given.encode(),
                                                                       settings.telegram_webhook_secret.encode()):
        raise Problem(403, "Wrong or missing X-Telegram-Bot-Api-Secret-Token.")
    # Before the body is read: an update may be larger than the app's limit for everything else.
    request.max_content_length = updatestream.MAX_UPDATE_BYTES
    try:
        update = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes: not an Update either
        update = None
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise Problem(400, "The body must be a Telegram Update: a JSON object with an integer update_id.")
    client = context.backends().redis
    try:
        queued = updatestream.enqueue_once(client, update, request.headers.get("X-Request-ID", ""))
    except redis.RedisError as exc:
        log.warning("telegram update %s not queued: %s", update["update_id"], exc)
        raise Problem(503, "The update queue is unavailable; Telegram will deliver the update again.") from None
    return jsonify(queued=queued)
