"""Links created through the Telegram bot: who sent them (the telegram_links table), for /mylinks
and for /stats on a private link."""

from __future__ import annotations

from .backends import Backends
from .links import LINK_COLUMNS, Link, LinkStore, PrivateLink


class TelegramLinks:
    """The Telegram senders' links, on the same link store as the web app. A sender is a Telegram
    user (positive id), or a chat (negative id) for a message sent on a group's or channel's
    behalf; telegram_links.user_id holds both."""

    def __init__(self, backends: Backends, store: LinkStore) -> None:
        self._backends = backends
        self._store = store

    def record_owner(self, user_id: int, code: str) -> None:
        """Remember that the sender `user_id` created `code` (for the bot's /mylinks)."""
        self._backends.transaction(lambda conn: conn.execute(
            "INSERT INTO telegram_links (user_id, code) VALUES (%s, %s) ON CONFLICT DO NOTHING", (user_id, code)),
            idempotent=True)

    def created_by(self, user_id: int, limit: int = 20) -> list[Link]:
        """The links the sender `user_id` created, newest first."""
        rows = self._backends.fetch_all(
            f"SELECT {LINK_COLUMNS} FROM links WHERE code IN (SELECT code FROM telegram_links WHERE user_id = %s"
            " ORDER BY created_at DESC LIMIT %s) ORDER BY created_at DESC",
            (user_id, limit),
        )
        return [Link(*row) for row in rows]

    def readable(self, code: str, user_id: int) -> Link:
        """The link `code` with its click total, if the sender `user_id` may read its target and
        statistics: public ones to anyone, others only to the sender that created them through the
        bot. Raises UnknownLink, DeletedLink, PrivateLink."""
        link = self._store.undeleted(code)
        if not (link.public_stats or self._backends.fetch_one(
                "SELECT 1 FROM telegram_links WHERE user_id = %s AND code = %s", (user_id, code)) is not None):
            raise PrivateLink(code)
        return link
