"""Request-scoped accessors, for views: the current app's settings, backends, link store, redirect
cache and link statistics, and who sent this request."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app, request, session

from .. import shorturls
from ..apikeys import ApiKeys
from ..backends import Backends
from ..clickspool import ClickSpool
from ..config import Settings
from ..link_stats import LinkStats
from ..links import DeletedLink, Link, LinkStore, Owner, PrivateLink, UnknownLink
from ..redirect_cache import RedirectCache
from ..validation import NewLink, looks_like_code
from .problems import Problem

# The session key holding a browser's sign-in token (apikeys.ApiKeys.sign_in).
SIGN_IN = "sign_in"
PRIVATE_DETAIL = ("This link's target and clicks are visible only to its owner: the API key "
                  "(X-Api-Key, or a browser signed in with it) or the browser that created it.")
NOT_OWNER_DETAIL = ("Only this link's owner can change it: the API key that created it (X-Api-Key, or a "
                    "browser signed in with it at /login) or the browser that created it. A link created "
                    "with neither has no owner.")
DELETED_DETAIL = "This short link was deleted by its owner; its code is not given to any other link."


def settings() -> Settings:
    return current_app.extensions["shortstack"]["settings"]


def backends() -> Backends:
    return current_app.extensions["shortstack"]["backends"]


def click_spool() -> ClickSpool:
    return current_app.extensions["shortstack"]["click_spool"]


def links() -> LinkStore:
    return current_app.extensions["shortstack"]["links"]


def redirect_cache() -> RedirectCache:
    return current_app.extensions["shortstack"]["redirect_cache"]


def link_stats() -> LinkStats:
    return current_app.extensions["shortstack"]["link_stats"]


def api_keys() -> ApiKeys:
    return current_app.extensions["shortstack"]["api_keys"]


def current_owner() -> Owner:
    """Who sent this request: the key (its id) of the X-Api-Key header (401 if unknown or revoked)
    or else of the browser's sign-in, and this browser's own owner id, if it has created links
    through the form. A sign-in that has ended is forgotten here."""
    key = request.headers.get("X-Api-Key")
    key_id = None
    if key is not None:
        key_id = api_keys().owner_id(key)
        if key_id is None:
            raise Problem(401, "The X-Api-Key sent is unknown or revoked.")
    elif SIGN_IN in session:
        key_id = api_keys().signed_in_key(session[SIGN_IN])
        if key_id is None:
            session.pop(SIGN_IN)
    return Owner(key_id=key_id, session=session.get("owner"))


def browser_owner() -> Owner:
    """Who owns a link this browser creates through the form: the signed-in key alone, so that
    signing out or revoking the key ends the browser's hold on it (and a browser id planted by
    someone else never shares it); else this browser's own owner id, given to it if it had none."""
    owner = current_owner()
    if owner.key_id is not None:
        return Owner(key_id=owner.key_id)
    if "owner" not in session:
        session["owner"] = secrets.token_urlsafe(16)
    return Owner(session=session["owner"])


def owned_link(code: str, deleted_too: bool = False) -> Link:
    """The link, if the asker may manage it (Link.owned_by). Raises Problem: 404 unknown, 410
    deleted (unless `deleted_too`), 403 not the asker's."""
    link = _link(code, deleted_too)
    if not link.owned_by(current_owner()):
        raise Problem(403, NOT_OWNER_DETAIL, "Not your link")
    return link


def _link(code: str, deleted_too: bool = False) -> Link:
    link = links().get(code) if looks_like_code(code) else None
    if link is None:
        raise Problem(404, f"No link has the code {code!r}.")
    if link.deleted_at is not None and not deleted_too:
        raise Problem(410, DELETED_DETAIL, "Link deleted")
    return link


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


def parse_link_edit(body: object, now: datetime) -> dict[str, object]:
    """Validate a merge patch of a link by the rules parse_link_request applies. Raises ValidationError."""
    return shorturls.parse_link_changes_at(public_base_url(), settings(), body, now)


def readable_link(code: str) -> Link:
    """The link `code`, if this request's sender may read it (LinkStore.readable). Raises Problem:
    404 unknown, 410 deleted, 403 not theirs to see."""
    try:
        return links().readable(code, current_owner())
    except UnknownLink as exc:
        raise Problem(404, str(exc)) from None
    except DeletedLink:
        raise Problem(410, DELETED_DETAIL, "Link deleted") from None
    except PrivateLink:
        raise Problem(403, PRIVATE_DETAIL, "Private link") from None
