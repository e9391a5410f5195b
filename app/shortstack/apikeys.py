"""API keys: created by an operator (python -m shortstack.admin), sent by clients as X-Api-Key,
or pasted once into a browser's sign-in form, which then acts for the key until it signs out.

Only a key's SHA-256 is stored, and a sign-in's. Both are 256 random bits, so a fast hash gives a
thief of the database nothing to guess from, and checking one costs a single indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from .backends import Backends

KEY_PREFIX = "sk_"  # says what the string is when it turns up in a log or a paste
# A browser signed in with a key stays so for this long at most, unless it signs out first.
SIGN_IN_DAYS = 30


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without the key itself."""

    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str) -> str:
    """What is stored of `key`."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class ApiKeys:
    """The api_keys table."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends

    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key named `name`: the stored record and the key, which is shown only this once."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._backends.db.connection() as conn:
            row = conn.execute("INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)"
                               " RETURNING id, name, created_at, revoked_at", (name, key_hash(key))).fetchone()
        return ApiKey(*row), key

    def owner_id(self, key: str) -> int | None:
        """The id of the live key `key`; None if it is unknown or revoked."""
        row = self._backends.transaction(lambda conn: conn.execute(
            "SELECT id FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (key_hash(key),)).fetchone(),
            idempotent=True)
        return None if row is None else row[0]

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self._backends.db.connection() as conn:
            rows = conn.execute("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY id").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: int) -> bool:
        """Stop key `key_id` working from the next request on; False if there is no such key."""
        with self._backends.db.connection() as conn:
            return conn.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
                                " RETURNING id", (key_id,)).fetchone() is not None

    def sign_in(self, key: str) -> str | None:
        """A new sign-in for a browser that pasted `key`: the token its session keeps, or None if
        the key is unknown or revoked."""
        key_id = self.owner_id(key)
        if key_id is None:
            return None
        token = secrets.token_urlsafe(32)
        self._backends.transaction(lambda conn: conn.execute(
            "INSERT INTO browser_sign_ins (token_hash, key_id) VALUES (%s, %s)", (key_hash(token), key_id)))
        return token

    def signed_in_key(self, token: str) -> int | None:
        """The id of the key a browser signed in with `token`; None once it signed out, its key was
        revoked, or SIGN_IN_DAYS have passed."""
        row = self._backends.transaction(lambda conn: conn.execute(
            "SELECT s.key_id FROM browser_sign_ins s JOIN api_keys k ON k.id = s.key_id"
            " WHERE s.token_hash = %s AND s.ended_at IS NULL AND k.revoked_at IS NULL"
            " AND s.created_at > now() - %s * interval '1 day'", (key_hash(token), SIGN_IN_DAYS)).fetchone(),
            idempotent=True)
        return None if row is None else row[0]

    def sign_out(self, token: str) -> None:
        """End the sign-in `token` on every replica: a copy of the cookie no longer works either."""
        self._backends.transaction(lambda conn: conn.execute(
            "UPDATE browser_sign_ins SET ended_at = coalesce(ended_at, now()) WHERE token_hash = %s",
            (key_hash(token),)), idempotent=True)
