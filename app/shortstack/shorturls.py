"""Short links as people see them, built from the deployment's public base URL (PUBLIC_BASE_URL)."""

from __future__ import annotations

from urllib.parse import urlsplit


def short_url(base_url: str, code: str) -> str:
    """The short link a person follows for `code` on the deployment reached at `base_url`."""
    return f"{base_url.rstrip('/')}/{code}"


def own_host(base_url: str) -> str | None:
    """The host[:port] of `base_url`, lower-cased: links pointing there would loop."""
    return urlsplit(base_url).netloc.lower() or None
