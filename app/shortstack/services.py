"""Access to the current app's settings, backends and link store from inside a request."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request

from . import shorturls
from .backends import Backends
from .config import Settings
from .links import LinkStore
from .validation import NewLink, parse_new_link


def settings() -> Settings:
    return current_app.extensions["shortstack"]["settings"]


def backends() -> Backends:
    return current_app.extensions["shortstack"]["backends"]


def links() -> LinkStore:
    return current_app.extensions["shortstack"]["links"]


def public_base_url() -> str:
    """PUBLIC_BASE_URL, or else the base URL this request came in on."""
    return settings().public_base_url or request.host_url.rstrip("/")


def short_url(code: str) -> str:
    """The short link a person follows for `code`."""
    return shorturls.short_url(public_base_url(), code)


def parse_link_request(body: object, now: datetime) -> NewLink:
    """Validate a new link as this deployment does: never pointing at itself, and not at private
    addresses when BLOCK_PRIVATE_TARGETS is on. Raises ValidationError."""
    return parse_new_link(body, now, own_host=shorturls.own_host(public_base_url()),
                          block_private=settings().block_private_targets)
