"""Pure validation of what clients send: new links, aliases, codes. No I/O here."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

import ada_url

MAX_URL_CHARS = 2048
MAX_EXPIRY = timedelta(days=3650)
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,32}")
# Anything a path segment could be a code for: generated codes and aliases both fit.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
# RFC 3339's date-time (what OpenAPI's "date-time" means), seconds optional: datetime.fromisoformat
# alone also takes week dates, ordinal dates and trailing bytes after the offset.
DATE_TIME_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                               r"([Zz]|[+-][0-9]{2}:[0-9]{2})?")
# A code with what mail clients, CMSs and prose glue to a link ("see sho.rt/abc.", "(sho.rt/abc)",
# "sho.rt/abc/"): trailing punctuation, symbols, spaces and slashes, none of which a code can hold.
CODE_WITH_TRAILING_PUNCTUATION = re.compile(r"([A-Za-z0-9_-]{1,32})[^\w-]+")
# First path segments the service itself uses, now or soon; an alias may not shadow them.
RESERVED_ALIASES = frozenset(
    {
        "api", "static", "healthz", "readyz", "links", "cluster", "telegram", "errors",
        "admin", "login", "logout", "metrics", "robots", "favicon", "nginx-health",
    }
)
FIELDS = ("url", "alias", "expires_at", "public_stats")
EDITABLE_FIELDS = ("url", "expires_at", "public_stats")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Far beyond any owner's links; keeps OFFSET within PostgreSQL's bigint.
MAX_PAGE = 1_000_000
MAX_SEARCH_CHARS = 200
# Host names that always mean "this machine or its private network", with their subdomains.
PRIVATE_NAMES = ("localhost", "localhost.localdomain", "local", "internal", "lan", "home.arpa", "localdomain",
                 # public names whose DNS answers 127.0.0.1 for every subdomain
                 "localtest.me", "lvh.me")
# Wildcard DNS services (nip.io, sslip.io, ...) answer the address written in the name itself:
# 127.0.0.1.nip.io, 10-0-0-1.sslip.io.
ADDRESS_IN_NAME = re.compile(r"(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?=[.-]|$)")
# http:// on 80 commonly redirects to https:// on 443: on one host, they are one service.
WEB_PORTS = frozenset({80, 443})
DEFAULT_PORTS = {"http:": 80, "https:": 443}
# NAT64 (RFC 6052): the last 32 bits are the IPv4 address the gateway connects to.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


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
    public_stats: bool | None = None  # None: public only when the link has no owner


@dataclass(frozen=True)
class ListRequest:
    """A validated request for one page of an owner's links."""

    search: str  # "" for all
    page: int  # from 1
    per_page: int


def parse_new_link(body: object, now: datetime, own_address: str | None = None,
                   block_private: bool = False) -> NewLink:
    """Validate a decoded JSON body for POST /api/v1/links.

    `now` must be timezone-aware; `own_address` is this service's public "host:port" (see
    canonical_address), refused as a target because a short link to a short link can loop; `block_private` refuses
    targets on loopback, private, link-local and other non-public addresses.
    """
    _check_fields(body, FIELDS)
    return NewLink(
        url=validate_url(body.get("url"), own_address, block_private),
        alias=validate_alias(body.get("alias")),
        expires_at=validate_expiry(body.get("expires_at"), now),
        public_stats=validate_public_stats(body.get("public_stats")),
    )


def parse_link_changes(body: object, now: datetime, own_address: str | None = None,
                       block_private: bool = False) -> dict[str, object]:
    """Validate a JSON merge patch (RFC 7396) for PATCH /api/v1/links/<code>: {field: new value}
    for the fields present, each checked as parse_new_link checks it (arguments alike). A null
    expires_at means "never"; url and public_stats cannot be null; the code cannot change."""
    _check_fields(body, EDITABLE_FIELDS)
    changes: dict[str, object] = {}
    if "url" in body:
        changes["url"] = validate_url(body["url"], own_address, block_private)
    if "expires_at" in body:
        changes["expires_at"] = validate_expiry(body["expires_at"], now)
    if "public_stats" in body:
        changes["public_stats"] = validate_public_stats(body["public_stats"], required=True)
    return changes


def parse_list_request(args: Mapping[str, str]) -> ListRequest:
    """Validate the query of GET /api/v1/links (and the "My links" page): `q` (optional text
    searched in targets and codes), `page` (from 1, default 1), `per_page` (1 to MAX_PER_PAGE,
    default DEFAULT_PER_PAGE). Other parameters are ignored."""
    search = args.get("q", "").strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise ValidationError("q", f"q must be at most {MAX_SEARCH_CHARS} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in search):
        raise ValidationError("q", "q must not contain control characters.")
    return ListRequest(search=search, page=_whole_number(args, "page", 1, MAX_PAGE),
                       per_page=_whole_number(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE))


def _whole_number(args: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ValidationError(name, f"{name} must be a whole number from 1 to {most}.")
    return int(raw)


def _check_fields(body: object, allowed: tuple[str, ...]) -> None:
    """Raise ValidationError unless `body` is a JSON object with no field outside `allowed`."""
    if not isinstance(body, dict):
        raise ValidationError("body", "The body must be a JSON object like {\"url\": \"https://example.com\"}.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"Unknown field {unknown[0]!r}; allowed fields are {', '.join(allowed)}.")


def validate_public_stats(value: object, required: bool = False) -> bool | None:
    """Return the public_stats flag; None (not given) only when not `required`."""
    if value is None and not required:
        return None
    if not isinstance(value, bool):
        raise ValidationError("public_stats", "public_stats must be true or false.")
    return value


def validate_url(value: object, own_address: str | None = None, block_private: bool = False) -> str:
    """Return the target as a browser would send it: an absolute http(s) URL, in the WHATWG URL
    standard's serialisation (punycode host, percent-encoded path, IPv4 shorthand expanded).

    The checks below look at the host a browser would connect to, so a percent-encoded or
    shorthand address cannot slip past them; `own_address` is this shortener's "host:port".
    Userinfo (user:password@) is refused: RFC 9110 §4.2.4, RFC 3986 §7.6.
    """
    if value is None:
        raise ValidationError("url", "A url is required.")
    if not isinstance(value, str):
        raise ValidationError("url", "url must be a string.")
    raw = value.strip()
    if not raw:
        raise ValidationError("url", "A url is required.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ValidationError("url", "url must not contain spaces or control characters.")
    try:
        parsed = ada_url.URL(raw)
    except ValueError:
        raise ValidationError("url", "url is not a valid URL; it must start with http:// or https://.") from None
    if parsed.protocol not in ("http:", "https:"):
        raise ValidationError("url", "Only http:// and https:// URLs can be shortened.")
    host, port = _host_and_port(parsed)
    if not host:
        raise ValidationError("url", "url must include a host, like https://example.com/page.")
    if not is_domain_name(host):
        raise ValidationError("url", "url's host is not a valid domain name: each part between dots must "
                                     "be 1 to 63 characters, not begin or end with '-', 253 in all.")
    url = parsed.href
    if len(url) > MAX_URL_CHARS:
        raise ValidationError("url", f"url is longer than {MAX_URL_CHARS} characters (non-ASCII counts once encoded).")
    if own_address and same_service(f"{host}:{port}", own_address):
        raise ValidationError("url", "url points at this shortener itself; that could loop.")
    if block_private and is_private_host(host):
        raise ValidationError("url", "url points at a private or local network address, which this service refuses.")
    if parsed.username or parsed.password:
        # RFC 9110 §4.2.4: a sender must not generate userinfo in an http(s) URI; RFC 3986 §7.6
        # names https://trusted@attacker/ as a phishing form. And a stored password would be shown.
        raise ValidationError("url", "url must not contain a user name or password (the part before '@' in "
                                     "https://user:password@host/); remove it and send the address only.")
    return url


def canonical_host(url: str) -> str | None:
    """The host name a browser connects to for `url`, as validate_url compares hosts; None if
    `url` does not parse."""
    try:
        return _host_and_port(ada_url.URL(url))[0] or None
    except ValueError:
        return None


def canonical_address(url: str) -> str | None:
    """"host:port" a browser connects to for `url` (the scheme's port when none is written), as
    validate_url compares them; None if `url` does not parse."""
    try:
        host, port = _host_and_port(ada_url.URL(url))
    except ValueError:
        return None
    return f"{host}:{port}" if host and port else None


def is_domain_name(host: str) -> bool:
    """True for an IP address, or a name every label of which has 1 to 63 characters and neither
    begins nor ends with '-', 253 in all (RFC 1035 §2.3.4, RFC 1123 §2.1). The WHATWG parser
    accepts `a..b` or a 64-character label; no resolver does, and they cannot be redirected to."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return len(host) <= 253 and all(0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
                                    for label in labels)


def _host_and_port(parsed: ada_url.URL) -> tuple[str, int | None]:
    """The host (lower case, no trailing dot) and port a browser connects to; the port is the
    scheme's default when none is written, None for schemes other than http(s)."""
    port = int(parsed.port) if parsed.port else DEFAULT_PORTS.get(parsed.protocol)
    return parsed.hostname.lower().rstrip("."), port


def same_service(address: str, other: str) -> bool:
    """True if two canonical "host:port" addresses reach the same service: the same host (or
    both this machine: localhost, 127.0.0.0/8, ::1) and the same port, 80 and 443 counting as one."""
    host, port = address.rsplit(":", 1)
    other_host, other_port = other.rsplit(":", 1)
    same_host = host == other_host or (_is_loopback(host) and _is_loopback(other_host))
    return same_host and (port == other_port or {int(port), int(other_port)} <= WEB_PORTS)


def is_private_host(host: str) -> bool:
    """True for a canonical host (see canonical_host) outside the public internet: non-global
    IP literals, also inside IPv6 transition addresses, names that are local by definition, and
    names of wildcard DNS services that carry a private address.

    Names are not resolved: a DNS answer can change between this check and a visit, so the
    check is about what the link says, not where a name points today.
    """
    address = _ip_literal(host)
    if address is not None:
        return any(not a.is_global or a.is_multicast for a in _with_embedded(address))
    if _is_local_name(host):
        return True
    return any(not ipaddress.IPv4Address(".".join(m.groups())).is_global
               for m in ADDRESS_IN_NAME.finditer(host) if all(int(g) < 256 for g in m.groups()))


def _is_loopback(host: str) -> bool:
    address = _ip_literal(host)
    if address is None:
        return host == "localhost" or host.endswith(".localhost")
    return any(a.is_loopback or a.is_unspecified for a in _with_embedded(address))


def _is_local_name(host: str) -> bool:
    return any(host == name or host.endswith("." + name) for name in PRIVATE_NAMES)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # The WHATWG parser has already turned every IPv4 form (127.1, 0x7f000001, %2e) into dotted quad.
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _with_embedded(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """The address and any IPv4 address an IPv6 transition form carries (mapped, 6to4, Teredo, NAT64)."""
    found = [address]
    if isinstance(address, ipaddress.IPv6Address):
        found += [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo:
            found += list(address.teredo)
        if address in NAT64_PREFIX:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


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
        if not DATE_TIME_PATTERN.fullmatch(value):
            raise ValueError(value)
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


def code_meant(path: str) -> str | None:
    """The code a client meant by a decoded path (without its leading "/") that is a code plus
    trailing punctuation, symbols, spaces or slashes (`abc/`, `abc.`, `abc),`); None otherwise,
    also for a plain code and for the service's own paths (`api/`). Letters of any script are never
    stripped: `abcé` is a typo, not `abc`."""
    found = CODE_WITH_TRAILING_PUNCTUATION.fullmatch(path)
    return found[1] if found and found[1].lower() not in RESERVED_ALIASES else None


def with_query(url: str, query: str) -> str:
    """`url` (a stored target) with a visitor's `query` (without "?") added to its own query,
    after a "&", before its fragment; in the WHATWG serialisation, as validate_url stores URLs.
    Keys present in both are kept twice, in that order: the target's first."""
    parsed = ada_url.URL(url)
    own = parsed.search[1:]
    parsed.search = f"{own}&{query}" if own else query
    return parsed.href
