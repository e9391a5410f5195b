"""The JSON API under /api/v1: create links, read a link, read its click statistics."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import redis
from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from . import cluster, services
from .health import dependency_checks
from .links import AliasTaken, Link
from .problems import problem
from .ratelimit import limiter, link_create_limit
from .validation import ValidationError, looks_like_code

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = (Path(__file__).with_name("openapi.json")).read_bytes()


@bp.post("/links")
@limiter.limit(link_create_limit)
def create_link() -> Response:
    """Shorten a URL: 201 with the new link, or a problem explaining what to fix."""
    if not request.is_json:
        return problem(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except BadRequest:
        return problem(400, "The body is not valid JSON.")
    except RecursionError:
        return problem(400, "The body is nested too deeply to be a link.")
    try:
        new = services.parse_link_request(body, datetime.now(timezone.utc))
    except ValidationError as exc:
        return problem(422, exc.detail, "Invalid link", errors=[{"field": exc.field, "detail": exc.detail}])
    try:
        link = services.links().create(new)
    except AliasTaken:
        return problem(409, f"The alias {new.alias!r} is already taken; choose another.", "Alias taken")
    response = jsonify(_link_json(link))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_link", code=link.code)
    return response


@bp.get("/links/<code>")
def get_link(code: str) -> Response:
    """The link and its total clicks."""
    link = services.links().get(code) if looks_like_code(code) else None
    if link is None:
        return _no_such_link(code)
    body = _link_json(link)
    body["click_count"] = link.click_count
    body["expired"] = link.is_expired(datetime.now(timezone.utc))
    return jsonify(body)


@bp.get("/links/<code>/stats")
def get_stats(code: str) -> Response:
    """Clicks per hour and per day, top referrers and bot clicks (times in UTC)."""
    stats = services.links().stats(code) if looks_like_code(code) else None
    if stats is None:
        return _no_such_link(code)
    return jsonify(stats)


@bp.get("/cluster")
def get_cluster() -> Response:
    """The live deployment: replicas, click workers, the click stream, PostgreSQL and Redis."""
    return jsonify(cluster_view())


def cluster_view() -> dict:
    """What /cluster shows; with Redis down, the dependency checks say so and the lists are empty."""
    view = {"replicas": [], "requests_per_s": 0.0, "workers": [], "stream": None, "checks": dependency_checks(),
            "served_by": services.settings().instance_id}
    try:
        view.update(cluster.snapshot(services.backends().redis))
    except redis.RedisError:
        pass
    return view


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return Response(OPENAPI, mimetype="application/json")


def _no_such_link(code: str) -> Response:
    return problem(404, f"No link has the code {code!r}.")


def _link_json(link: Link) -> dict:
    return {
        "code": link.code,
        "short_url": services.short_url(link.code),
        "url": link.url,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
    }
