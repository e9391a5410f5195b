"""Errors as RFC 9457 problem+json under /api/ and from the machine endpoints, as HTML pages
elsewhere. Views raise Problem; the response builders here are the handler's own."""

from __future__ import annotations

import functools
import logging
from typing import Iterable

import psycopg
import redis
from flask import Flask, Response, current_app, jsonify, render_template, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from .ratelimit import retry_after_seconds

log = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"
RETRY_AFTER_S = 5
NOT_FOUND_DETAIL = "There is no short link here. Check the address for typos."


class Problem(HTTPException):
    """The one way a view answers an error: `raise Problem(status, detail)`. The handler below
    turns it into problem+json under /api/ and from the machine endpoints (see register), the
    error page elsewhere; `extensions` become extra members of the problem body (RFC 9457
    section 3.2). A 503 also says Retry-After."""

    def __init__(self, status: int, detail: str, title: str | None = None, **extensions: object) -> None:
        super().__init__(description=detail)
        self.code = status
        self.title = title
        self.extensions = extensions


def _problem_json(status: int, detail: str, title: str | None = None, **extensions: object) -> Response:
    """A problem+json response; `extensions` become extra members of the body."""
    body = {"type": "about:blank", "title": title or HTTP_STATUS_CODES.get(status, "Error"), "status": status,
            "detail": detail, **extensions}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MIME
    return response


def _error_response(status: int, detail: str, title: str | None = None, **extensions: object) -> Response:
    """The error in the form the client expects: problem+json for the API and the machine
    endpoints (see register), a page otherwise."""
    if request.path.startswith("/api/") or request.blueprint in current_app.config["PROBLEM_JSON_BLUEPRINTS"]:
        return _problem_json(status, detail, title, **extensions)
    title = title or HTTP_STATUS_CODES.get(status, "Error")
    return Response(_error_page(current_app._get_current_object(), status, title, detail), status=status)


@functools.lru_cache(maxsize=64)
def _error_page(app: Flask, status: int, title: str, detail: str) -> str:
    # Unknown codes are what a scanner sends by the thousand: each page is rendered once per
    # process. It depends on these arguments and the app alone (no request data in error.html).
    return render_template("error.html", status=status, title=title, detail=detail)


def register(app: Flask, json_blueprints: Iterable[str]) -> None:
    """Install the error handlers on `app`; the views of `json_blueprints` (names) answer errors as
    problem+json wherever they are mounted, as everything under /api/ does."""
    app.config["PROBLEM_JSON_BLUEPRINTS"] = frozenset(json_blueprints)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if isinstance(exc, Problem):
            response = _error_response(exc.code, exc.description, exc.title, **exc.extensions)
            if exc.code == 503:  # unavailable for a moment: say when to come back
                response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        if isinstance(exc, RequestEntityTooLarge):
            detail = f"The request body is larger than {app.config['MAX_CONTENT_LENGTH'] // 1024} KiB."
        elif exc.code == 404 and not request.path.startswith("/api/"):
            detail = NOT_FOUND_DETAIL
        elif exc.code == 429:
            detail = (f"Too many requests from your address: the limit is {exc.description}. "
                      "Retry after the number of seconds in Retry-After.")
        else:
            detail = exc.description or ""
        # Flask has already logged the traceback of an unhandled error before it reaches here.
        response = _error_response(exc.code or 500, detail)
        for name, value in exc.get_headers():  # e.g. the Allow header of a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        if exc.code == 429:
            response.headers["Retry-After"] = str(retry_after_seconds())
        return response

    @app.errorhandler(redis.RedisError)
    def cache_unavailable(exc: Exception) -> Response:
        # What reaches here is mostly a change that must reach every replica's redirects (an edit,
        # a delete), made only together with its cache entry (LinkStore._change): the hot path and
        # the reads serve without Redis.
        log.warning("Redis unavailable on %s %s: %s", request.method, request.path, exc)
        response = _error_response(503, "Redis is unavailable right now, and a change to a link is made only together "
                                        "with what every replica's redirects read there: nothing was changed. "
                                        "Repeat the request in a few seconds.",
                                   "Service Unavailable")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc: Exception) -> Response:
        log.warning("PostgreSQL unavailable on %s %s: %s", request.method, request.path, exc)
        response = _error_response(503, "The database is unavailable right now; try again in a few seconds.",
                                   "Service Unavailable")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
