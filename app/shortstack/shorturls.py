"""Short links as people see them, built from the deployment's public base URL (PUBLIC_BASE_URL)."""

from __future__ import annotations

from .validation import canonical_address


def short_url(base_url: str, code: str) -> str:
    """The short link a person follows for `code` on the deployment reached at `base_url`."""
    return f"{base_url.rstrip('/')}/{code}"


def own_address(base_url: str) -> str | None:
    """The "host:port" of `base_url` as a browser reads it: links pointing there would loop."""
    return canonical_address(base_url) if base_url else None
