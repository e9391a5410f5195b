"""The hot path: GET /<code> answers 302 from the Redis cache and queues a click event.

A cached link costs one Redis round trip (RedirectCache.follow_cached reads the target and appends
the click together); PostgreSQL is asked only on a cache miss.
"""

from __future__ import annotations

import logging
import string
import time
from urllib.parse import quote

import redis
from flask import Blueprint, Response, request
from werkzeug.datastructures import Headers

from .. import clickstream, metrics
from ..redirect_cache import Followed
from ..validation import code_meant, looks_like_code, with_query
from . import context
from .problems import NOT_FOUND_DETAIL, Problem

log = logging.getLogger(__name__)
EXPIRED_DETAIL = "This short link has expired."
DISABLED_DETAIL = "This short link was disabled by the service's operator and no longer redirects."

bp = Blueprint("redirects", __name__)


class ExactRedirect(Response):
    """A response whose Location header is sent exactly as set.

    werkzeug passes every Location through iri_to_uri, which percent-encodes characters the WHATWG
    URL standard leaves as they are ([ ] | { } ^), so the header differed from the target stored and
    shown. Every URL given here is already an ASCII URI (validate_url's serialisation, or a path
    of ours), which is all a header value needs (RFC 9110 §5.5).
    """

    def get_wsgi_headers(self, environ: dict) -> Headers:
        # Set aside while werkzeug builds the headers: its iri_to_uri also raises on hosts it cannot
        # IDNA-encode (a link stored before such hosts were refused), which would be a 500.
        location = self.headers.pop("Location")
        try:
            headers = super().get_wsgi_headers(environ)
        finally:
            self.headers["Location"] = location
        headers["Location"] = location
        return headers


@bp.get("/<code>/")
def with_trailing_slash(code: str) -> Response:
    """`/<code>/`, as mail clients and CMSs write a link: sent on to `/<code>` (see _respelled)."""
    return _respelled(code + "/")


@bp.get("/<code>")
def follow(code: str) -> Response:
    """Redirect to the link's target; 404 for unknown codes, 410 once expired, disabled or deleted.
    A visitor's query string is added to the target's unless FORWARD_QUERY is false."""
    if not looks_like_code(code):
        return _respelled(code)
    now_ms = time.time_ns() // 1_000_000
    # Link previewers' HEAD requests are not clicks.
    click = clickstream.ClickEvent(code=code, at_ms=now_ms, referrer=request.headers.get("Referer", ""),
                                   user_agent=request.headers.get("User-Agent", ""),
                                   request_id=request.headers.get("X-Request-ID", "")) \
        if request.method == "GET" else None
    cache = context.redirect_cache()
    followed, target = cache.follow_cached(code, now_ms, click)
    if followed is Followed.LIVE and click is not None:
        metrics.CLICKS_QUEUED.inc()  # follow_cached queued it
    elif followed is Followed.UNCACHED:
        followed, target = cache.resolve_uncached(code, now_ms)
        if followed is Followed.LIVE and click is not None:
            _record_click(click)
    if followed is Followed.UNKNOWN:
        raise Problem(404, NOT_FOUND_DETAIL)
    if followed is Followed.EXPIRED:
        raise Problem(410, EXPIRED_DETAIL)
    if followed is Followed.DISABLED:
        raise Problem(410, DISABLED_DETAIL, "Link disabled")
    if followed is Followed.DELETED:
        raise Problem(410, context.DELETED_DETAIL, "Link deleted")
    query = request.query_string.decode("latin-1")
    url = with_query(target.url, query) if query and context.settings().forward_query else target.url
    # Every follow must reach us to be counted, so browsers may not cache the redirect.
    return ExactRedirect(status=302, headers={"Location": url, "Cache-Control": "no-store"})


def _respelled(path: str) -> Response:
    """A 301 to `/<code>` for a code with trailing punctuation or a slash (validation.code_meant),
    its query kept; the 404 page for anything else. A redirect rather than the link itself: clicks
    stay counted in one place, the hot path keeps one route, and browsers cache a 301, so a
    mangled link costs its extra hop once per browser."""
    code = code_meant(path)
    if code is None:
        raise Problem(404, NOT_FOUND_DETAIL)  # in the form the path asks for: /api/ is problem+json
    # A query arrives as the client sent it; bytes a header cannot carry as they are get encoded.
    query = quote(request.query_string, safe=string.punctuation)
    return ExactRedirect(status=301, headers={"Location": f"/{code}?{query}" if query else f"/{code}"})


def _record_click(event: clickstream.ClickEvent) -> None:
    # The visitor still gets the redirect when Redis is down; the click waits in this process's
    # spool until Redis answers (clickspool), and only a full spool loses it, counted and logged.
    try:
        with context.backends().redis_call() as client:
            clickstream.append(client, event, context.settings().click_stream_max_len)
    except redis.RedisError:
        if context.click_spool().add(event):
            metrics.CLICKS_SPOOLED.inc()
        else:
            metrics.CLICKS_LOST.inc()
            log.warning("click for %s lost: Redis is down and the click spool is full", event.code)
    else:
        metrics.CLICKS_QUEUED.inc()
