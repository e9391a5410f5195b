"""The hot path: GET /<code> answers 302 from the Redis cache and queues a click event."""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, Response, abort, redirect, request

from . import clickstream, metrics, services
from .validation import looks_like_code

log = logging.getLogger(__name__)

bp = Blueprint("redirects", __name__)


@bp.get("/<code>")
def follow(code: str) -> Response:
    """Redirect to the link's target; 404 for unknown codes, 410 once expired."""
    if not looks_like_code(code):
        abort(404)
    target = services.links().resolve(code)
    if target is None:
        abort(404)
    now_ms = time.time_ns() // 1_000_000
    if target.is_expired(now_ms):
        abort(410)
    if request.method == "GET":  # link previewers' HEAD requests are not clicks
        _record_click(clickstream.ClickEvent(
            code=code,
            at_ms=now_ms,
            referrer=request.headers.get("Referer", ""),
            user_agent=request.headers.get("User-Agent", ""),
        ))
    response = redirect(target.url, 302)
    # Every follow must reach us to be counted, so browsers may not cache the redirect.
    response.headers["Cache-Control"] = "no-store"
    return response


def _record_click(event: clickstream.ClickEvent) -> None:
    # The visitor still gets the redirect when Redis is down; the lost click is counted and logged.
    try:
        clickstream.append(services.backends().redis, event)
    except redis.RedisError as exc:
        metrics.CLICKS_LOST.inc()
        log.warning("click for %s not queued: %s", event.code, exc)
    else:
        metrics.CLICKS_QUEUED.inc()
