"""The web app factory: one Flask app per gunicorn worker process, with every blueprint."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import metrics
from ..apikeys import ApiKeys
from ..backends import Backends
from ..clickspool import ClickSpool
from ..cluster import AppHeartbeat
from ..config import Settings, check_production
from ..lifecycle import REQUEST_ID
from ..link_stats import LinkStats
from ..links import LinkStore
from ..redirect_cache import RedirectCache
from . import api, demo, health, metrics_view, pages, problems, ratelimit, redirects, telegram_webhook

log = logging.getLogger(__name__)
# One JSON line per request a replica answers, with nginx's request id: the replica's part of
# following a request (nginx writes its own line; gunicorn's access log stays off).
access_log = logging.getLogger("shortstack.access")
MAX_BODY_BYTES = 16 * 1024
csrf = CSRFProtect()


def create_app(settings: Settings | None = None) -> Flask:
    """The app factory: one app per gunicorn worker process. It starts nothing: the entry point
    (wsgi.py) starts the process's heartbeat, `app.extensions["shortstack"]["heartbeat"]`."""
    settings = settings or Settings.from_env()
    check_production(settings)
    app = Flask(__name__)
    # werkzeug would answer `/<code>//` with a 308 to an absolute address built from the Host
    # header; the spellings clients add to a code are sent on by redirects.py, relatively.
    app.url_map.merge_slashes = False
    production = settings.app_env == "production"
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=production)
    # nginx is the only client of a replica; trust exactly one hop of X-Forwarded-For/-Proto from
    # it. The host comes from Host, which nginx passes on: a forwarded host would be the client's.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    backends = Backends(settings)
    cache = RedirectCache(backends, settings)
    spool = ClickSpool(settings.click_spool_max_len)
    heartbeat = AppHeartbeat(backends.redis_call, settings.instance_id, settings.version,
                             after_beat=lambda client: replay_spooled_clicks(spool, client, settings))
    app.extensions["shortstack"] = {
        "settings": settings,
        "backends": backends,
        "click_spool": spool,
        "links": LinkStore(backends, cache),
        "redirect_cache": cache,
        "link_stats": LinkStats(backends, settings),
        "api_keys": ApiKeys(backends),
        "heartbeat": heartbeat,
    }

    # The first hook registered, before CSRF's and the rate limit's: a request they refuse is
    # timed too, and served_by below always finds the clock.
    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        g.request_id_token = REQUEST_ID.set(request.headers.get("X-Request-ID", ""))

    @app.teardown_request
    def forget_request_id(exc: BaseException | None) -> None:
        if "request_id_token" in g:
            REQUEST_ID.reset(g.request_id_token)

    csrf.init_app(app)
    # JSON and machine endpoints: no forms, no cookies (the webhook has its own secret), and
    # errors as problem+json.
    machine_blueprints = (api.bp, demo.bp, health.bp, metrics_view.bp, telegram_webhook.bp)
    for blueprint in machine_blueprints:
        csrf.exempt(blueprint)

    @app.after_request
    def served_by(response):
        response.headers["X-Served-By"] = settings.instance_id
        response.headers["X-App-Version"] = settings.version  # a rollout is visible request by request
        if production:  # check_production made sure PUBLIC_BASE_URL is https
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        endpoint = request.endpoint or "unmatched"
        seconds = time.perf_counter() - g.started
        metrics.REQUESTS.labels(endpoint, response.status_code).inc()
        metrics.REQUEST_SECONDS.labels(endpoint).observe(seconds)
        # Probes are not traffic: compose and Kubernetes ask every few seconds (nginx's own
        # /nginx-health is not logged either).
        if request.blueprint != "health":
            access_log.info("%s %s %d", request.method, request.path, response.status_code,
                            extra={"method": request.method, "path": request.path, "status": response.status_code,
                                   "endpoint": endpoint, "duration_ms": round(seconds * 1000, 2)})
        heartbeat.count_request(endpoint)
        return response

    @app.context_processor
    def page_globals() -> dict:
        return {"instance_id": settings.instance_id}

    problems.register(app, json_blueprints=[blueprint.name for blueprint in machine_blueprints])
    ratelimit.init_app(app, settings.redis_url)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics_view.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(telegram_webhook.bp)
    app.register_blueprint(pages.bp)
    # Last: its catch-all /<code> must not shadow the other blueprints' routes.
    app.register_blueprint(redirects.bp)
    return app


def replay_spooled_clicks(spool: ClickSpool, client: redis.Redis, settings: Settings) -> None:
    """Queue the clicks this process kept while Redis was down (runs after each heartbeat)."""
    if spool:
        log.info("Redis is back: %d spooled clicks queued", spool.replay(client, settings.click_stream_max_len))
