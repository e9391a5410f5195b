"""The JSON API under /api/v1: create links, read a link, read its click statistics."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import redis
from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from .. import cluster
from ..links import AliasTaken, Link
from ..validation import ValidationError
from . import context
from .health import dependency_checks
from .problems import Problem
from .ratelimit import limit_link_creation

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = (Path(__file__).with_name("openapi.json")).read_bytes()


KEY_NEEDED = ("Creating links here needs an API key, sent as the X-Api-Key header; "
              "the operator creates one with: python -m shortstack.admin create-key NAME")


@bp.post("/links")
@limit_link_creation
def create_link() -> Response:
    """Shorten a URL: 201 with the new link, or a problem explaining what to fix."""
    owner = context.current_owner()
    if owner.key_id is None and context.settings().create_requires_key:
        raise Problem(401, KEY_NEEDED)
    if not request.is_json:
        raise Problem(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except BadRequest:
        raise Problem(400, "The body is not valid JSON.") from None
    except RecursionError:
        raise Problem(400, "The body is nested too deeply to be a link.") from None
    try:
        new = context.parse_link_request(body, datetime.now(timezone.utc))
    except ValidationError as exc:
        raise Problem(422, exc.detail, "Invalid link", errors=[{"field": exc.field, "detail": exc.detail}]) from None
    try:
        link = context.links().create(new, owner)
    except AliasTaken:
        raise Problem(409, f"The alias {new.alias!r} is already taken; choose another.", "Alias taken") from None
    response = jsonify(_link_json(link))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_link", code=link.code)
    return response


@bp.get("/links/<code>")
def get_link(code: str) -> Response:
    """The link and its total clicks, for its owner (or anyone, if its stats are public)."""
    link = context.readable_link(code)
    body = _link_json(link)
    body["click_count"] = link.click_count
    body["expired"] = link.is_expired(datetime.now(timezone.utc))
    return jsonify(body)


@bp.get("/links/<code>/stats")
def get_stats(code: str) -> Response:
    """Clicks per hour and per day, top referrers and bot clicks (times in UTC), for the link's
    owner (or anyone, if its stats are public)."""
    context.readable_link(code)
    return jsonify(context.links().stats(code))


@bp.get("/cluster")
def get_cluster() -> Response:
    """The live deployment: replicas, click workers, the click stream, PostgreSQL and Redis."""
    return jsonify(cluster_view())


def cluster_view() -> dict:
    """What /cluster shows; with Redis down, the dependency checks say so and the lists are empty."""
    view = {"replicas": [], "requests_per_s": 0.0, "workers": [], "stream": None, "checks": dependency_checks(),
            "served_by": context.settings().instance_id}
    try:
        with context.backends().redis_call() as client:
            view.update(cluster.snapshot(client))
    except redis.RedisError:
        pass
    return view


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return Response(OPENAPI, mimetype="application/json")


def _link_json(link: Link) -> dict:
    return {
        "code": link.code,
        "short_url": context.short_url(link.code),
        "url": link.url,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "public_stats": link.public_stats,
        "disabled": link.disabled_at is not None,
    }
