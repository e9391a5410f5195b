"""The hot path: GET /<code> answers 302 from the Redis cache and queues a click event.

A cached link costs one Redis round trip (LinkStore.follow_cached reads the target and appends
the click together); PostgreSQL is asked only on a cache miss.
"""

from __future__ import annotations

import functools
import logging
import time

import redis
from flask import Blueprint, Flask, Response, abort, current_app, redirect, request

from . import clickstream, metrics, services
from .links import Followed
from .problems import NOT_FOUND_DETAIL, error_response
from .validation import looks_like_code

log = logging.getLogger(__name__)
DISABLED_DETAIL = "This short link was disabled by the service's operator and no longer redirects."

bp = Blueprint("redirects", __name__)


@bp.get("/<code>")
def follow(code: str) -> Response:
    """Redirect to the link's target; 404 for unknown codes, 410 once expired or disabled."""
    if not looks_like_code(code):
        return _not_found()
    now_ms = time.time_ns() // 1_000_000
    # Link previewers' HEAD requests are not clicks.
    click = clickstream.ClickEvent(code=code, at_ms=now_ms, referrer=request.headers.get("Referer", ""),
                                   user_agent=request.headers.get("User-Agent", "")) \
        if request.method == "GET" else None
    links = services.links()
    followed, target = links.follow_cached(code, now_ms, click)
    if followed is Followed.LIVE and click is not None:
        metrics.CLICKS_QUEUED.inc()  # follow_cached queued it
    elif followed is Followed.UNCACHED:
        followed, target = links.resolve_uncached(code, now_ms)
        if followed is Followed.LIVE and click is not None:
            _record_click(click)
    if followed is Followed.UNKNOWN:
        return _not_found()
    if followed is Followed.EXPIRED:
        abort(410)
    if followed is Followed.DISABLED:
        return error_response(410, DISABLED_DETAIL, "Link disabled")
    response = redirect(target.url, 302)
    # Every follow must reach us to be counted, so browsers may not cache the redirect.
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found() -> Response:
    # Unknown codes are what a scanner sends by the thousand: the page is rendered once per process.
    return Response(_not_found_page(current_app._get_current_object()), status=404, mimetype="text/html")


@functools.lru_cache(maxsize=4)
def _not_found_page(app: Flask) -> str:
    return error_response(404, NOT_FOUND_DETAIL).get_data(as_text=True)


def _record_click(event: clickstream.ClickEvent) -> None:
    # The visitor still gets the redirect when Redis is down; the lost click is counted and logged.
    try:
        clickstream.append(services.backends().redis, event, services.settings().click_stream_max_len)
    except redis.RedisError as exc:
        metrics.CLICKS_LOST.inc()
        log.warning("click for %s not queued: %s", event.code, exc)
    else:
        metrics.CLICKS_QUEUED.inc()
