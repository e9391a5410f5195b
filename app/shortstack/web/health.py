"""Liveness and readiness probes for nginx, Docker and people."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from .. import metrics
from . import context
from .problems import Problem

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and serving requests."""
    return jsonify(status="ok", instance=context.settings().instance_id)


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when both PostgreSQL and Redis answer; 503 names whichever did not."""
    checks = dependency_checks()
    failed = sorted(name for name, result in checks.items() if result != "ok")
    # Clicks this replica could not queue since it started (Redis was down): lost, but not silently.
    details = {"checks": checks, "clicks_lost": int(metrics.total("shortstack_clicks_lost_total")),
               "instance": context.settings().instance_id, "version": context.settings().version}
    if failed:
        raise Problem(503, f"Not ready: {', '.join(failed)} unavailable.", **details)
    return jsonify(status="ready", **details)


def dependency_checks() -> dict[str, str]:
    """"ok" or "unavailable", for PostgreSQL and for Redis. The reason goes to the log only:
    these answers are public, and an error string can name hosts, users and versions."""
    return {"postgres": _check_postgres(), "redis": _check_redis()}


def _check_postgres() -> str:
    try:
        with context.backends().db.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"
        log.warning("readiness: PostgreSQL unavailable: %s: %s", type(exc).__name__, exc)
        return "unavailable"
    return "ok"


def _check_redis() -> str:
    try:
        context.backends().redis.ping()
    except Exception as exc:
        log.warning("readiness: Redis unavailable: %s: %s", type(exc).__name__, exc)
        return "unavailable"
    return "ok"
