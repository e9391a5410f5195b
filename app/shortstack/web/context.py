"""Request-scoped accessors, for views: the current app's settings, backends and link store, and
who sent this request."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app, request, session

from .. import shorturls
from ..apikeys import ApiKeys
from ..backends import Backends
from ..clickspool import ClickSpool
from ..config import Settings
from ..links import Link, LinkStore, Owner, PrivateLink, UnknownLink
from ..validation import NewLink
from .problems import Problem


def settings() -> Settings:
    return current_app.extensions["shortstack"]["settings"]


def backends() -> Backends:
    return current_app.extensions["shortstack"]["backends"]


def click_spool() -> ClickSpool:
    return current_app.extensions["shortstack"]["click_spool"]


def links() -> LinkStore:
    return current_app.extensions["shortstack"]["links"]


def api_keys() -> ApiKeys:
    return current_app.extensions["shortstack"]["api_keys"]


def current_owner() -> Owner:
    """Who sent this request: the X-Api-Key's id (401 if the key is unknown or revoked) and
    this browser's owner id, if it has created links through the form."""
    key = request.headers.get("X-Api-Key")
    key_id = None
    if key is not None:
        key_id = api_keys().owner_id(key)
        if key_id is None:
            raise Problem(401, "The X-Api-Key sent is unknown or revoked.")
    return Owner(key_id=key_id, session=session.get("owner"))


def browser_owner() -> Owner:
    """current_owner(), with an owner id given to this browser session if it had none yet."""
    if "owner" not in session:
        session["owner"] = secrets.token_urlsafe(16)
    return current_owner()


NO_HOST_DETAIL = ("The request has no Host header, so the address of the short link is unknown. Send Host "
                  "(HTTP/1.1 requires it), or the operator sets PUBLIC_BASE_URL.")


def public_base_url() -> str:
    """PUBLIC_BASE_URL, or else the base URL this request came in on; 400 if it came without a
    Host header (HTTP/1.0 allows that): the only address left would be the replica's own bind
    address (0.0.0.0:8000), which is no one's way in."""
    if settings().public_base_url:
        return settings().public_base_url
    if not request.headers.get("Host"):
        raise Problem(400, NO_HOST_DETAIL)
    return request.host_url.rstrip("/")


def short_url(code: str) -> str:
    """The short link a person follows for `code`."""
    return shorturls.short_url(public_base_url(), code)


def parse_link_request(body: object, now: datetime) -> NewLink:
    """Validate a new link as this deployment, reached at this request's address, does
    (shorturls.parse_new_link_at). Raises ValidationError."""
    return shorturls.parse_new_link_at(public_base_url(), settings(), body, now)


PRIVATE_DETAIL = ("This link's target and clicks are visible only to its owner: the API key "
                  "(X-Api-Key) or the browser that created it.")


def readable_link(code: str) -> Link:
    """The link `code`, if this request's sender may read it (LinkStore.readable). Raises Problem:
    404 unknown, 403 not theirs to see."""
    try:
        return links().readable(code, current_owner())
    except UnknownLink as exc:
        raise Problem(404, str(exc)) from None
    except PrivateLink:
        raise Problem(403, PRIVATE_DETAIL, "Private link") from None
