"""Pure validation of what clients send: new links, aliases, codes. No I/O here."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from werkzeug.urls import iri_to_uri

MAX_URL_CHARS = 2048
MAX_EXPIRY = timedelta(days=3650)
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,32}")
# Anything a path segment could be a code for: generated codes and aliases both fit.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
# First path segments the service itself uses, now or soon; an alias may not shadow them.
RESERVED_ALIASES = frozenset(
    {
        "api", "static", "healthz", "readyz", "links", "cluster", "telegram", "errors",
        "admin", "login", "logout", "metrics", "robots", "favicon", "nginx-health",
    }
)
FIELDS = frozenset({"url", "alias", "expires_at"})
# Host names that always mean "this machine or its private network".
PRIVATE_HOST_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


class ValidationError(Exception):
    """A client error in one field; `field` names it and the message says what is wrong."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class NewLink:
    """A validated request to create a link."""

    url: str
    alias: str | None
    expires_at: datetime | None


def parse_new_link(body: object, now: datetime, own_host: str | None = None,
                   block_private: bool = False) -> NewLink:
    """Validate a decoded JSON body for POST /api/v1/links.

    `now` must be timezone-aware; `own_host` is this service's public "host[:port]", refused
    as a target because a short link to a short link can loop; `block_private` refuses
    targets on loopback, private, link-local and other non-public addresses.
    """
    if not isinstance(body, dict):
        raise ValidationError("body", "The body must be a JSON object like {\"url\": \"https://example.com\"}.")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ValidationError(unknown[0], f"Unknown field {unknown[0]!r}; allowed fields are url, alias, expires_at.")
    return NewLink(
        url=validate_url(body.get("url"), own_host, block_private),
        alias=validate_alias(body.get("alias")),
        expires_at=validate_expiry(body.get("expires_at"), now),
    )


def validate_url(value: object, own_host: str | None = None, block_private: bool = False) -> str:
    """Return the target as an ASCII URI if it is an absolute http(s) URL with a host.

    International URLs are converted (punycode host, percent-encoded path) because a
    Location header can only carry ASCII.
    """
    if value is None:
        raise ValidationError("url", "A url is required.")
    if not isinstance(value, str):
        raise ValidationError("url", "url must be a string.")
    url = value.strip()
    if not url:
        raise ValidationError("url", "A url is required.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationError("url", "url must not contain spaces or control characters.")
    try:
        url = iri_to_uri(url)
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except (ValueError, UnicodeError):
        raise ValidationError("url", "url is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("url", "Only http:// and https:// URLs can be shortened.")
    if not host:
        raise ValidationError("url", "url must include a host, like https://example.com/page.")
    if len(url) > MAX_URL_CHARS:
        raise ValidationError("url", f"url is longer than {MAX_URL_CHARS} characters (non-ASCII counts once encoded).")
    if own_host and (f"{host}:{port}" if port else host) == own_host.lower():
        raise ValidationError("url", "url points at this shortener itself; that could loop.")
    if block_private and is_private_host(host):
        raise ValidationError("url", "url points at a private or local network address, which this service refuses.")
    return url


def is_private_host(host: str) -> bool:
    """True for IP literals outside the public internet and for names that only exist locally.

    Names are not resolved: a DNS answer can change between this check and a visit, so the
    check is about what the link says, not where a name points today.
    """
    address = _ip_literal(host)
    if address is None:
        name = host.lower().rstrip(".")
        return name == "localhost" or name.endswith(PRIVATE_HOST_SUFFIXES)
    return not address.is_global or address.is_multicast


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    # Browsers also read legacy IPv4 forms such as 127.1, 0x7f000001 or 2130706433.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def validate_alias(value: object) -> str | None:
    """Return the custom alias, or None when none was asked for."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("alias", "alias must be a string.")
    if not ALIAS_PATTERN.fullmatch(value):
        raise ValidationError("alias", "alias must be 3 to 32 characters: letters, digits, '-' or '_'.")
    if value.lower() in RESERVED_ALIASES:
        raise ValidationError("alias", f"alias {value!r} is reserved by the service; choose another.")
    return value


def validate_expiry(value: object, now: datetime) -> datetime | None:
    """Return the expiry time (timezone-aware, in the future, at most ten years away) or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("expires_at", "expires_at must be an ISO 8601 date-time string.")
    try:
        expires_at = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("expires_at",
                              "expires_at must be an ISO 8601 date-time, like 2030-01-31T12:00:00Z.") from None
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at", "expires_at must include a time zone, like 2030-01-31T12:00:00Z.")
    if expires_at <= now:
        raise ValidationError("expires_at", "expires_at must be in the future.")
    if expires_at - now > MAX_EXPIRY:
        raise ValidationError("expires_at", "expires_at must be within ten years.")
    return expires_at


def looks_like_code(value: str) -> bool:
    """True if `value` could be a short code, so other paths skip the cache and database."""
    return CODE_PATTERN.fullmatch(value) is not None
