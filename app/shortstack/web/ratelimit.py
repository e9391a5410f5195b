"""Rate limits shared by every replica, kept in Redis (Flask-Limiter).

The key is the client address as nginx saw it: ProxyFix takes the last X-Forwarded-For hop,
which nginx appends itself, so a client cannot pick its own key by sending that header.
"""

from __future__ import annotations

import time

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from . import context

limiter = Limiter(
    key_func=get_remote_address,
    # Its own headers would put a Retry-After on every answer of a limited endpoint (201s and 503s
    # too); the 429 handler sets the one that matters.
    headers_enabled=False,
    swallow_errors=True,  # Redis down: serve without limits rather than fail every create
    strategy="moving-window",
)


def init_app(app: Flask, redis_url: str) -> None:
    """Attach the limiter to `app`, with its counters in the Redis at `redis_url`."""
    app.config["RATELIMIT_STORAGE_URI"] = redis_url
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 1, "socket_connect_timeout": 1}
    limiter.init_app(app)
    # Every limit here is a decorator on its view, which checks it itself. The before_request hook
    # that init_app adds serves default and blueprint limits, which this app has none of, yet it
    # resolves limits on every request: on the redirect hot path that was a tenth of the cost.
    app.before_request_funcs[None].remove(limiter._check_request_limit)


def link_create_limit() -> str:
    """The per-client limit on creating links, from LINK_CREATE_RATE_LIMIT."""
    return context.settings().link_create_rate_limit


def redis_is_down() -> bool:
    """While the Redis circuit breaker is open the limit is not checked: it would fail open anyway
    (swallow_errors) after paying for a connection attempt on every create; nginx's edge limit holds."""
    return context.backends().redis_down


# One allowance per client for every way of creating a link: the API and the form draw on it alike.
limit_link_creation = limiter.shared_limit(link_create_limit, scope="link-create", methods=["POST"],
                                           exempt_when=redis_is_down)


def retry_after_seconds() -> int:
    """Seconds until the limit that was just exceeded lets this client in again."""
    limit = limiter.current_limit
    return max(1, int(limit.reset_at - time.time())) if limit else 1
