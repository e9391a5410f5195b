"""The JSON API under /api/v1: create links, read a link and its click statistics; an owner lists,
edits and deletes theirs.

No CSRF token here: a browser sends its session cookie with PATCH and DELETE only from this site's
own pages (SameSite=Lax), and another site's script cannot send them at all, since both need a
CORS preflight this API never answers.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import redis
from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from .. import cluster
from ..links import AliasTaken, Link, Owner
from ..validation import ListRequest, ValidationError, parse_list_request
from . import context
from .health import dependency_checks
from .problems import Problem
from .ratelimit import limit_link_creation

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = (Path(__file__).with_name("openapi.json")).read_bytes()
NO_OWNER_DETAIL = ("Listing links needs their owner: send an API key as X-Api-Key, or use the browser that "
                   "created them (or one signed in with the key at /login).")


@bp.after_request
def private_to_the_asker(response: Response) -> Response:
    """What the API answers depends on who asks (X-Api-Key, the session cookie): never kept by a
    shared cache, nor by the browser for the next person at it (RFC 9111 section 5.2.2)."""
    response.headers.setdefault("Cache-Control", "private, no-store")
    response.vary.update(("X-Api-Key", "Cookie"))
    return response


KEY_NEEDED = ("Creating links here needs an API key, sent as the X-Api-Key header; "
              "the operator creates one with: python -m shortstack.admin create-key NAME")


@bp.post("/links")
@limit_link_creation
def create_link() -> Response:
    """Shorten a URL: 201 with the new link, or a problem explaining what to fix."""
    owner = context.current_owner()
    if owner.key_id is None and context.settings().create_requires_key:
        raise Problem(401, KEY_NEEDED)
    try:
        new = context.parse_link_request(_json_body(), datetime.now(timezone.utc))
    except ValidationError as exc:
        raise _invalid(exc, 422) from None
    try:
        link = context.links().create(new, owner)
    except AliasTaken:
        raise Problem(409, f"The alias {new.alias!r} is already taken; choose another.", "Alias taken") from None
    response = jsonify(_link_json(link))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_link", code=link.code)
    return response


@bp.get("/links")
def list_links() -> Response:
    """The asker's links, newest first, one page at a time; `q` searches targets and codes.
    401 for an asker who owns nothing (neither key nor browser session); 400 for bad parameters."""
    owner = context.current_owner()
    if owner.anonymous:
        raise Problem(401, NO_OWNER_DETAIL)
    try:
        wanted = parse_list_request(request.args)
    except ValidationError as exc:
        raise _invalid(exc, 400) from None
    found, total = owned_links(owner, wanted)
    return jsonify({"links": [_link_with_clicks_json(link) for link in found],
                    "page": wanted.page, "per_page": wanted.per_page, "total": total,
                    "pages": -(-total // wanted.per_page)})


def owned_links(owner: Owner, wanted: ListRequest) -> tuple[list[Link], int]:
    """One page of `owner`'s links and how many there are in all (the API and "My links")."""
    return context.links().list_owned(owner, wanted.search, limit=wanted.per_page,
                                       offset=(wanted.page - 1) * wanted.per_page)


@bp.get("/links/<code>")
def get_link(code: str) -> Response:
    """The link and its total clicks, for its owner (or anyone, if its stats are public)."""
    return jsonify(_link_with_clicks_json(context.readable_link(code)))


@bp.patch("/links/<code>")
def edit_link(code: str) -> Response:
    """Change a link's url, expires_at (null: never) or public_stats, as a JSON merge patch
    (RFC 7396), for its owner; redirects follow from the next request on, on every replica."""
    link = context.owned_link(code)
    try:
        changes = context.parse_link_edit(_json_body(), datetime.now(timezone.utc))
    except ValidationError as exc:
        raise _invalid(exc, 422) from None
    return jsonify(_link_with_clicks_json(edit(link, changes)))


def edit(link: Link, changes: dict[str, object]) -> Link:
    """Apply validated `changes` to the owner's `link` (the API and the edit page). Raises Problem:
    409 if an operator disabled it, 410 if it was deleted meanwhile."""
    if link.disabled_at is not None:
        raise Problem(409, "The service's operator disabled this link; it cannot be changed.", "Link disabled")
    edited = context.links().update(link.code, changes)
    if edited is None:
        raise Problem(410, context.DELETED_DETAIL, "Link deleted")
    return edited


@bp.delete("/links/<code>")
def delete_link(code: str) -> Response:
    """Delete a link, for its owner: 204, then 410 on follow (every replica, from the next request
    on) and on the API; its code is never given to another link. Deleting it again is a 204 too
    (and finishes a delete whose cache update failed)."""
    context.links().delete(context.owned_link(code, deleted_too=True).code)
    return Response(status=204)


@bp.get("/links/<code>/stats")
def get_stats(code: str) -> Response:
    """Clicks per hour and per day, top referrers, visitors, browsers, operating systems and
    device types (times in UTC), for the link's owner (or anyone, if its stats are public)."""
    context.readable_link(code)
    return jsonify(context.link_stats().stats(code))


@bp.get("/links/<code>/stats.csv")
def get_stats_csv(code: str) -> Response:
    """Every counter the click worker keeps for the link (LinkStats.rollups) as a CSV download
    with the header rollup,value,clicks, for whoever may read its stats."""
    context.readable_link(code)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 lines
    writer.writerow(("rollup", "value", "clicks"))
    writer.writerows([_csv_cell(cell) for cell in row] for row in context.link_stats().rollups(code))
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


def _json_body() -> object:
    """The request's JSON body. Raises Problem: 415 not JSON, 400 unreadable."""
    if not request.is_json:
        raise Problem(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        return request.get_json()
    except BadRequest:
        raise Problem(400, "The body is not valid JSON.") from None
    except RecursionError:
        raise Problem(400, "The body is nested too deeply to be a link.") from None


def _invalid(exc: ValidationError, status: int) -> Problem:
    return Problem(status, exc.detail, "Invalid link" if status == 422 else "Invalid parameter",
                   errors=[{"field": exc.field, "detail": exc.detail}])


def _link_with_clicks_json(link: Link) -> dict:
    body = _link_json(link)
    body["click_count"] = link.click_count
    body["expired"] = link.is_expired(datetime.now(timezone.utc))
    return body


# Cells a spreadsheet would run as a formula (OWASP, "CSV Injection"): kept as text by a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


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
