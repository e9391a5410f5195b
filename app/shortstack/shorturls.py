"""Short links as people see them, built from the deployment's public base URL (PUBLIC_BASE_URL)."""

from __future__ import annotations

from datetime import datetime

from .config import Settings
from .validation import NewLink, canonical_address, parse_link_changes, parse_new_link


def short_url(base_url: str, code: str) -> str:
    """The short link a person follows for `code` on the deployment reached at `base_url`."""
    return f"{base_url.rstrip('/')}/{code}"


def own_address(base_url: str) -> str | None:
    """The "host:port" of `base_url` as a browser reads it: links pointing there would loop."""
    return canonical_address(base_url) if base_url else None


def parse_new_link_at(base_url: str, settings: Settings, body: object, now: datetime) -> NewLink:
    """Validate a new link as the deployment reached at `base_url` does: never pointing at itself,
    and not at private addresses when BLOCK_PRIVATE_TARGETS is on. Raises ValidationError."""
    return parse_new_link(body, now, own_address=own_address(base_url), block_private=settings.block_private_targets)


def parse_link_changes_at(base_url: str, settings: Settings, body: object, now: datetime) -> dict[str, object]:
    """Validate a merge patch of a link by the rules parse_new_link_at applies. Raises ValidationError."""
    return parse_link_changes(body, now, own_address=own_address(base_url),
                              block_private=settings.block_private_targets)
