"""The JSON API under /api/v1: create links, read a link, read its click statistics (also as CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import redis
from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from . import cluster, services
from .health import dependency_checks
from .links import AliasTaken, Link
from .problems import Problem
from .ratelimit import limit_link_creation
from .validation import ValidationError, looks_like_code

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = (Path(__file__).with_name("openapi.json")).read_bytes()
PRIVATE_DETAIL = ("This link's target and clicks are visible only to its owner: the API key "
                  "(X-Api-Key) or the browser that created it.")


KEY_NEEDED = ("Creating links here needs an API key, sent as the X-Api-Key header; "
              "the operator creates one with: python -m shortstack.admin create-key NAME")


@bp.post("/links")
@limit_link_creation
def create_link() -> Response:
    """Shorten a URL: 201 with the new link, or a problem explaining what to fix."""
    owner = services.current_owner()
    if owner.key_id is None and services.settings().create_requires_key:
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
        new = services.parse_link_request(body, datetime.now(timezone.utc))
    except ValidationError as exc:
        raise Problem(422, exc.detail, "Invalid link", errors=[{"field": exc.field, "detail": exc.detail}]) from None
    try:
        link = services.links().create(new, owner)
    except AliasTaken:
        raise Problem(409, f"The alias {new.alias!r} is already taken; choose another.", "Alias taken") from None
    response = jsonify(_link_json(link))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_link", code=link.code)
    return response


@bp.get("/links/<code>")
def get_link(code: str) -> Response:
    """The link and its total clicks, for its owner (or anyone, if its stats are public)."""
    link = _visible_link(code)
    body = _link_json(link)
    body["click_count"] = link.click_count
    body["expired"] = link.is_expired(datetime.now(timezone.utc))
    return jsonify(body)


@bp.get("/links/<code>/stats")
def get_stats(code: str) -> Response:
    """Clicks per hour and per day, top referrers, visitors, browsers, operating systems and
    device types (times in UTC), for the link's owner (or anyone, if its stats are public)."""
    _visible_link(code)
    return jsonify(services.links().stats(code))


@bp.get("/links/<code>/stats.csv")
def get_stats_csv(code: str) -> Response:
    """Every counter the click worker keeps for the link (LinkStore.rollups) as a CSV download
    with the header rollup,value,clicks, for whoever may read its stats."""
    _visible_link(code)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 lines
    writer.writerow(("rollup", "value", "clicks"))
    writer.writerows(services.links().rollups(code))
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{code}-stats.csv"'
    return response


@bp.get("/cluster")
def get_cluster() -> Response:
    """The live deployment: replicas, click workers, the click stream, PostgreSQL and Redis."""
    return jsonify(cluster_view())


def cluster_view() -> dict:
    """What /cluster shows; with Redis down, the dependency checks say so and the lists are empty."""
    view = {"replicas": [], "requests_per_s": 0.0, "workers": [], "stream": None, "checks": dependency_checks(),
            "served_by": services.settings().instance_id}
    try:
        with services.backends().redis_call() as client:
            view.update(cluster.snapshot(client))
    except redis.RedisError:
        pass
    return view


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return Response(OPENAPI, mimetype="application/json")


def _visible_link(code: str) -> Link:
    """The link, if the asker may see it. Raises Problem: 404 unknown, 403 not the asker's to see."""
    link = services.links().get(code) if looks_like_code(code) else None
    if link is None:
        raise Problem(404, f"No link has the code {code!r}.")
    if not link.visible_to(services.current_owner()):
        raise Problem(403, PRIVATE_DETAIL, "Private link")
    return link


def _link_json(link: Link) -> dict:
    return {
        "code": link.code,
        "short_url": services.short_url(link.code),
        "url": link.url,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "public_stats": link.public_stats,
        "disabled": link.disabled_at is not None,
    }
