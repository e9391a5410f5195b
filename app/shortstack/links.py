"""The link store: links in PostgreSQL (create, read, list, edit, delete, take down), their owners,
and the errors they raise. Each change is published to the redirect cache (redirect_cache)."""

from __future__ import annotations

import itertools
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from .backends import Backends
from .redirect_cache import RedirectCache, cache_entry
from .validation import NewLink, canonical_host, looks_like_code

CODE_ALPHABET = string.ascii_letters + string.digits
# 62**7 ≈ 3.5e12 codes: a guess hits an existing link with negligible odds, and collisions are retried.
CODE_LENGTH = 7
CREATE_ATTEMPTS = 5
LINK_COLUMNS = ("code, url, created_at, expires_at, click_count, owner_key_id, owner_session, public_stats,"
                " disabled_at, deleted_at")


class AliasTaken(Exception):
    """The requested alias already names another link."""


class UnknownLink(LookupError):
    """No link has this code (or it could not be one); the message says so."""

    def __init__(self, code: str) -> None:
        super().__init__(f"No link has the code {code!r}.")


class PrivateLink(PermissionError):
    """The link exists, but its target and statistics are its owner's only."""


class DeletedLink(LookupError):
    """Its owner deleted the link; the code stays taken, and answers 410."""


@dataclass(frozen=True)
class Owner:
    """Who is asking: the API key sent (its id) and the browser session's owner id, either or
    neither (anonymous). Telegram senders are telegram_links'."""

    key_id: int | None = None
    session: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None and self.session is None


@dataclass(frozen=True)
class Link:
    """A stored link (columns as in LINK_COLUMNS)."""

    code: str
    url: str
    created_at: datetime
    expires_at: datetime | None
    click_count: int
    owner_key_id: int | None
    owner_session: str | None
    public_stats: bool
    disabled_at: datetime | None
    deleted_at: datetime | None

    def is_expired(self, now: datetime) -> bool:
        """True once `now` has reached the expiry time."""
        return self.expires_at is not None and now >= self.expires_at

    def visible_to(self, owner: Owner) -> bool:
        """Whether `owner` may read this link's target and statistics: public ones to anyone,
        others only their owner's."""
        return self.public_stats or self.owned_by(owner)

    def owned_by(self, owner: Owner) -> bool:
        """Whether `owner` may manage this link: the key or the browser session that created it.
        A link created by neither has no owner, so nobody manages it."""
        return ((owner.key_id is not None and owner.key_id == self.owner_key_id)
                or (owner.session is not None and owner.session == self.owner_session))


def new_code() -> str:
    """A random, URL-safe, unguessable short code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class LinkStore:
    """Link persistence for one app process."""

    def __init__(self, backends: Backends, cache: RedirectCache) -> None:
        self._backends = backends
        self._cache = cache

    def create(self, new: NewLink, owner: Owner = Owner()) -> Link:
        """Store a new link under its alias or a fresh random code; raises AliasTaken.

        Its statistics are public if the request says so, and otherwise only when it has no
        owner (nobody else could ever see them).
        """
        codes = [new.alias] if new.alias else [new_code() for _ in range(CREATE_ATTEMPTS)]
        public = owner.anonymous if new.public_stats is None else new.public_stats

        runs = itertools.count()

        def insert(conn: psycopg.Connection) -> tuple | None:
            # A second run follows a connection that died, possibly while committing the first: a
            # code of ours now holding our target for our owner is that commit, not another link.
            again = next(runs) > 0
            for code in codes:
                row = conn.execute(
                    "INSERT INTO links (code, url, expires_at, owner_key_id, owner_session, public_stats, target_host)"
                    f" VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING RETURNING {LINK_COLUMNS}",
                    (code, new.url, new.expires_at, owner.key_id, owner.session, public, canonical_host(new.url)),
                ).fetchone()
                if row is None and again:
                    row = conn.execute(
                        f"SELECT {LINK_COLUMNS} FROM links WHERE code = %s AND url = %s"
                        " AND owner_key_id IS NOT DISTINCT FROM %s AND owner_session IS NOT DISTINCT FROM %s",
                        (code, new.url, owner.key_id, owner.session),
                    ).fetchone()
                if row is not None:
                    return row
            return None

        row = self._backends.transaction(insert, idempotent=True)
        if row is not None:
            link = Link(*row)
            # Cached once committed: a replica must not redirect to a link that was rolled back.
            self._cache.put_new(link.code, link.url, link.expires_at)
            return link
        if new.alias:
            raise AliasTaken(new.alias)
        raise RuntimeError(f"no free code after {CREATE_ATTEMPTS} random attempts")

    def get(self, code: str) -> Link | None:
        """The link with its click total, straight from PostgreSQL (totals are not cached)."""
        row = self._backends.fetch_one(f"SELECT {LINK_COLUMNS} FROM links WHERE code = %s", (code,))
        return None if row is None else Link(*row)

    def undeleted(self, code: str) -> Link:
        """The link `code` with its click total, whoever may read it. Raises UnknownLink, DeletedLink."""
        link = self.get(code) if looks_like_code(code) else None
        if link is None:
            raise UnknownLink(code)
        if link.deleted_at is not None:
            raise DeletedLink(code)
        return link

    def readable(self, code: str, owner: Owner) -> Link:
        """The link `code` with its click total, if `owner` may read its target and statistics:
        public ones to anyone, others with the key or from the browser session that created them
        (Telegram senders: TelegramLinks.readable). Raises UnknownLink, DeletedLink, PrivateLink."""
        link = self.undeleted(code)
        if not link.visible_to(owner):
            raise PrivateLink(code)
        return link

    def get_many(self, codes: list[str]) -> list[Link]:
        """Several links with their click totals, in the order of `codes` (unknown and deleted codes
        skipped)."""
        rows = self._backends.fetch_all(
            f"SELECT {LINK_COLUMNS} FROM links WHERE code = ANY(%s) AND deleted_at IS NULL", (codes,))
        by_code = {row[0]: Link(*row) for row in rows}
        return [by_code[code] for code in codes if code in by_code]

    def list_owned(self, owner: Owner, search: str, limit: int, offset: int) -> tuple[list[Link], int]:
        """One page of the links `owner` manages (Link.owned_by), newest first, deleted ones left out,
        and how many there are in all. `search` ("" for all) is found case-insensitively anywhere
        in the target or the code."""
        where = ("deleted_at IS NULL AND (owner_key_id = %(key)s OR owner_session = %(session)s)"
                 " AND (%(q)s = '' OR strpos(lower(url), lower(%(q)s)) > 0 OR strpos(lower(code), lower(%(q)s)) > 0)")
        params = {"key": owner.key_id, "session": owner.session, "q": search, "limit": limit, "offset": offset}

        def read(conn: psycopg.Connection) -> tuple[list[Link], int]:
            total = conn.execute(f"SELECT count(*) FROM links WHERE {where}", params).fetchone()[0]
            rows = conn.execute(f"SELECT {LINK_COLUMNS} FROM links WHERE {where}"
                                " ORDER BY created_at DESC, code LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
            return [Link(*row) for row in rows], total

        return self._backends.transaction(read, idempotent=True)

    def update(self, code: str, changes: dict[str, object]) -> Link | None:
        """Apply `changes` (validation.parse_link_changes: column -> value) to the link `code` and
        point every replica's redirect at the result from the next request on; None if no live
        (undeleted) link has `code`. Raises redis.RedisError if the cache could not be updated, and
        then nothing changed (see _change)."""
        if "url" in changes:
            changes = {**changes, "target_host": canonical_host(changes["url"])}
        assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                                         for column in changes) if changes else sql.SQL("code = code")
        return self._change(
            sql.SQL("UPDATE links SET {} WHERE code = {} AND deleted_at IS NULL RETURNING {}").format(
                assignments, sql.Placeholder("code"), sql.SQL(LINK_COLUMNS)), {**changes, "code": code})

    def delete(self, code: str) -> bool:
        """Delete the link `code`: every replica answers 410 from the next request on, and the code
        stays taken, so no later link gets it. Repeating it is harmless. False if no link has `code`.
        Raises redis.RedisError as update does."""
        # disabled_at too: replicas of the previous version, mid-deploy, know no deleted_at and
        # would otherwise redirect a deleted link on a cache miss.
        return self._change(f"UPDATE links SET deleted_at = coalesce(deleted_at, now()),"
                            f" disabled_at = coalesce(disabled_at, now()) WHERE code = %s"
                            f" RETURNING {LINK_COLUMNS}", (code,)) is not None

    def set_disabled(self, code: str, disabled: bool) -> bool:
        """Take a link down (every replica answers 410 from the next request on) or put it back
        (unless its owner deleted it); False if no link has `code`. Raises redis.RedisError if the
        cache could not be updated, and then nothing changed (see _change)."""
        # A deleted link stays disabled too: see delete.
        return self._change("UPDATE links SET disabled_at = CASE WHEN %s OR deleted_at IS NOT NULL"
                            " THEN coalesce(disabled_at, now()) END"
                            f" WHERE code = %s RETURNING {LINK_COLUMNS}", (disabled, code)) is not None

    def by_target_host(self, host: str, limit: int = 1000) -> list[Link]:
        """Links whose target is on `host` or one of its subdomains, newest first."""
        host = canonical_host(f"http://{host}/") or host.lower()
        rows = self._backends.fetch_all(
            f"SELECT {LINK_COLUMNS} FROM links WHERE target_host = %(host)s"
            " OR right(target_host, length(%(host)s) + 1) = '.' || %(host)s"
            " ORDER BY created_at DESC LIMIT %(limit)s",
            {"host": host, "limit": limit},
        )
        return [Link(*row) for row in rows]

    def _change(self, update: str | sql.Composed, params: tuple | dict) -> Link | None:
        """Run `update` (an UPDATE of one link RETURNING LINK_COLUMNS) and cache what the link now
        is for every replica's redirects, in one transaction: the cache is written while the
        UPDATE's row lock is held, before the commit. Concurrent changes of one link (an edit and a
        delete, two edits, an operator's disable) so wait for each other, and the cache ends on the
        state of the last commit, never on whichever cache write landed last. None if no row
        matched. Raises redis.RedisError if the cache could not be written, and then nothing
        changed: repeating the call does the whole job."""
        def change(conn: psycopg.Connection) -> Link | None:
            row = conn.execute(update, params).fetchone()
            if row is None:
                return None
            link = Link(*row)
            self._cache.publish(link.code, cache_entry(link.url, link.expires_at, link.disabled_at, link.deleted_at))
            return link

        return self._backends.transaction(change)
