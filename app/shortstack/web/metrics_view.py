"""GET /metrics: what Prometheus scrapes from a replica (the counters themselves are metrics.py's).
nginx does not expose it; the `observability` compose profile's Prometheus scrapes each replica."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import metrics
from . import context

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text exposition for this replica, plus the shared click stream's backlog and
    drops (nginx does not expose it)."""
    stream = metrics.click_stream_registry(context.backends().redis)
    return Response(generate_latest(metrics.registry()) + generate_latest(stream), mimetype=CONTENT_TYPE_LATEST)
