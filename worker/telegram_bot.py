"""The Telegram bot: python-telegram-bot handlers, fed from the webhook queue or by polling.

    python telegram_bot.py consume           production: process what /telegram/webhook queued
                                             (a consumer group: run as many as you like)
    python telegram_bot.py poll              development: getUpdates; only ONE poller may run
    python telegram_bot.py set-webhook       register PUBLIC_BASE_URL/telegram/webhook and its secret
    python telegram_bot.py delete-webhook    back to polling

Without TELEGRAM_BOT_TOKEN every command says the bot is off; `consume` then idles until stopped,
so the rest of the stack runs as usual.

What it answers: messages (ALLOWED_UPDATES) in private chats, and in groups the commands and the
messages with a link it gets to see. Everything else that still arrives (channel posts, edits,
automatic forwards of a channel's posts into its discussion group, other update types) is skipped
on purpose, with a debug line. Links come from the message's `url` and `text_link` entities, i.e.
exactly the spans Telegram marked. Links belong to whoever really sent the message
(Update.effective_sender): the user, or the chat in `sender_chat` when the message was sent on a
chat's behalf (an anonymous group admin: the group; a channel: the channel). Telegram sends such
messages from shared placeholder users (GroupAnonymousBot, Channel_Bot, the 777000 service user),
so keying on `from` would hand one group's links to every other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
from datetime import datetime, timezone

import limits
import limits.storage
import limits.strategies
import redis
from telegram import Message, MessageEntity, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, TypeHandler, filters

from shortstack import shorturls, updatestream
from shortstack.backends import Backends, connect_redis
from shortstack.config import ConfigError, Settings
from shortstack.lifecycle import (
    LivenessFile,
    configure_logging,
    exit_on_config_error,
    handling_request,
    on_stop_signals,
)
from shortstack.link_stats import LinkStats
from shortstack.links import DeletedLink, LinkStore, PrivateLink, UnknownLink
from shortstack.redirect_cache import RedirectCache
from shortstack.streams import READ_BLOCK_MS, RETRY_DELAY_S, StreamReader
from shortstack.telegram_links import TelegramLinks
from shortstack.validation import ValidationError

log = logging.getLogger("shortstack.bot")

# What the bot asks Telegram for, by webhook (set-webhook) and by polling alike.
ALLOWED_UPDATES = [Update.MESSAGE]
LINK_ENTITIES = [MessageEntity.URL, MessageEntity.TEXT_LINK]
# New messages only: an edit of a link message must not create a second link.
NEW_MESSAGE = filters.UpdateType.MESSAGE & ~filters.IS_AUTOMATIC_FORWARD
HELP = (
    "I shorten links.\n\n"
    "Send me a message with a URL (http:// or https://) and I answer with its short link.\n"
    "/stats <code> — clicks on one of your links: in total, in the last 24 hours, and how many "
    "were people, bots and link previews\n"
    "/mylinks — the links you created here\n"
    "/help — this message"
)
CLAIM_IDLE_MS = 30_000


def links_in(message: Message) -> list[str]:
    """The links of a message's text or caption, in order: the spans Telegram marked as `url`
    entities, and the targets of `text_link` entities (a link behind words). Telegram marks
    "example.com" as a link too and clients open it as http://example.com, so the bot does."""
    found = {**message.parse_entities(LINK_ENTITIES), **message.parse_caption_entities(LINK_ENTITIES)}
    links = [(entity.url or "") if entity.type == MessageEntity.TEXT_LINK else text for entity, text in found.items()]
    return [link if "://" in link else f"http://{link}" for link in links if link]


def sender_id(update: Update) -> int:
    """Who owns what this update creates: the id of Update.effective_sender, the sender_chat when
    a message was sent on a chat's behalf (negative: chat ids), else the user (positive)."""
    return update.effective_sender.id


def may_show_private_links(update: Update) -> bool:
    """True in a private chat, or when the sender is a chat (a group's anonymous admins, a channel
    in its discussion group), whose links are that chat's. A person's links are never listed in
    a group: every member would read the reply."""
    return update.effective_chat.type == "private" or update.effective_message.sender_chat is not None


def unreadable(update: Update) -> str | None:
    """Why the handlers cannot take `update`, or None. The Bot API promises every message a sender
    (`from`, or `sender_chat` for a chat's own) and integer entity offsets and lengths; an update
    without them was not sent by Telegram, so it is set aside rather than tripping a handler."""
    message = update.effective_message
    if message is None:
        return None
    if update.effective_sender is None:
        return "a message without a sender"
    for entity in (*message.entities, *message.caption_entities):
        if not (isinstance(entity.offset, int) and isinstance(entity.length, int)):
            return "an entity whose offset or length is not an integer"
    return None


PRIVATE_HERE = "Your links and their clicks are yours: ask me in a private chat with me."


class LinkBot:
    """The bot's behaviour, on the same link store as the web app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        backends = Backends(settings)
        self.links = LinkStore(backends, RedirectCache(backends, settings))
        self.telegram_links = TelegramLinks(backends, self.links)
        self.link_stats = LinkStats(backends, settings)
        # The web's per-client creation limit, per Telegram user, in the same Redis: a bot user
        # cannot create more than a browser or API client.
        self._create_limit = limits.parse(settings.link_create_rate_limit)
        self._limiter = limits.strategies.MovingWindowRateLimiter(
            limits.storage.storage_from_string(settings.redis_url, socket_timeout=1, socket_connect_timeout=1))

    def application(self, polling: bool) -> Application:
        """A python-telegram-bot Application with our handlers, talking to TELEGRAM_API_URL."""
        builder = (Application.builder().token(self.settings.telegram_bot_token)
                   .base_url(f"{self.settings.telegram_api_url}/bot")
                   .base_file_url(f"{self.settings.telegram_api_url}/file/bot"))
        if not polling:
            builder = builder.updater(None)  # updates arrive from our queue, not from getUpdates
        application = builder.build()
        application.add_handler(CommandHandler(["start", "help"], self.help, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("stats", self.stats, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("mylinks", self.my_links, filters=NEW_MESSAGE))
        linked = filters.Entity(MessageEntity.URL) | filters.Entity(MessageEntity.TEXT_LINK) | \
            filters.CaptionEntity(MessageEntity.URL) | filters.CaptionEntity(MessageEntity.TEXT_LINK)
        application.add_handler(MessageHandler(NEW_MESSAGE & linked & ~filters.COMMAND, self.shorten))
        # In a group the bot keeps quiet about messages it has nothing to say to.
        application.add_handler(MessageHandler(NEW_MESSAGE & filters.ChatType.PRIVATE, self.fallback))
        application.add_handler(TypeHandler(Update, self.skip))
        application.add_error_handler(self.on_error)
        return application

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(HELP)

    async def shorten(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        links = links_in(message)
        if not links:  # a text_link entity without its url
            await message.reply_text("Send me a full link starting with http:// or https://, or /help.")
            return
        owner = sender_id(update)
        if not await asyncio.to_thread(self._limiter.hit, self._create_limit, "telegram-create", str(owner)):
            await message.reply_text(f"You are creating links too fast (the limit is {self._create_limit}). "
                                     "Try again in a minute.")
            return
        try:
            new = shorturls.parse_new_link_at(self.settings.public_base_url, self.settings, {"url": links[0]},
                                              datetime.now(timezone.utc))
            # Its stats are for its creator, through /stats here.
            link = await asyncio.to_thread(self.links.create, dataclasses.replace(new, public_stats=False))
        except ValidationError as exc:
            await message.reply_text(f"I cannot shorten that: {exc.detail}")
            return
        await asyncio.to_thread(self.telegram_links.record_owner, owner, link.code)
        await message.reply_text(f"{self._short_url(link.code)}\n→ {link.url}")

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if len(context.args) != 1:
            await message.reply_text("Usage: /stats <code>, e.g. /stats Xk3p9Qa")
            return
        code = context.args[0].rsplit("/", 1)[-1]  # a whole short link works too
        try:
            link = await asyncio.to_thread(self.telegram_links.readable, code, sender_id(update))
        except UnknownLink as exc:
            await message.reply_text(str(exc))
            return
        except DeletedLink:
            await message.reply_text(f"{code} was deleted by its owner.")
            return
        except PrivateLink:
            await message.reply_text(f"The clicks on {code} are private: only whoever created it can see them.")
            return
        if not link.public_stats and not may_show_private_links(update):
            await message.reply_text(PRIVATE_HERE)
            return
        stats = await asyncio.to_thread(self.link_stats.stats, code)
        recent = await asyncio.to_thread(self.link_stats.clicks_since, code, 24)
        who = stats["visitors"]
        await message.reply_text(f"{self._short_url(code)} → {link.url}\n"
                                 f"Clicks: {stats['total_clicks']} in total, {recent} in the last 24 hours.\n"
                                 f"By people: {who['human']}, by bots: {who['bot']}, link previews: {who['preview']}.")

    async def my_links(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not may_show_private_links(update):
            await update.effective_message.reply_text(PRIVATE_HERE)
            return
        links = await asyncio.to_thread(self.telegram_links.created_by, sender_id(update))
        if not links:
            await update.effective_message.reply_text("You have not shortened anything here yet. Send me a link!")
            return
        lines = [f"{self._short_url(link.code)} — {link.click_count} clicks — {link.url}" for link in links]
        await update.effective_message.reply_text("Your links:\n" + "\n".join(lines))

    async def fallback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message.text and not message.text.startswith("/"):
            await message.reply_text("Send me a full link starting with http:// or https://, or /help.")
            return
        await message.reply_text("I only understand links and a few commands. Try /help.")

    async def skip(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        kinds = [key for key in update.to_dict() if key != "update_id"]
        log.debug("update %s skipped: nothing to answer in %s", update.update_id, ", ".join(kinds) or "it")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling update failed: %s", context.error, exc_info=context.error)

    def _short_url(self, code: str) -> str:
        return shorturls.short_url(self.settings.public_base_url, code)


async def consume(bot: LinkBot, stop: threading.Event, liveness: LivenessFile) -> None:
    """Process queued webhook updates until `stop` is set (each acknowledged once handled).

    Redis errors follow the stream consumers' one policy (shortstack.streams): the read and the
    acknowledgement are retried every RETRY_DELAY_S, and an update is never handled twice
    because its acknowledgement failed."""
    client = connect_redis(bot.settings.redis_url, blocking_ms=READ_BLOCK_MS)
    reader = StreamReader(client, updatestream.STREAM, updatestream.GROUP, bot.settings.worker_name, batch_size=50,
                          claim_idle_ms=CLAIM_IDLE_MS)
    async with bot.application(polling=False) as application:  # initialize() calls getMe
        log.info("bot worker %s consuming %r", reader.consumer, updatestream.STREAM)
        while not stop.is_set():
            liveness.touch()
            try:
                entries = await asyncio.to_thread(reader.next_batch, READ_BLOCK_MS)
            except redis.RedisError as exc:  # the updates stay queued
                log.warning("bot worker: %s; retrying in %.0fs", exc, RETRY_DELAY_S)
                await asyncio.to_thread(stop.wait, RETRY_DELAY_S)
                continue
            for stream_id, fields in entries:
                dead = []
                if fields is not None:
                    # Its log lines carry the webhook call's request id, as the replica's did.
                    with handling_request(updatestream.request_id(fields)):
                        try:
                            update = Update.de_json(updatestream.decode(fields), application.bot)
                            reason = unreadable(update)
                        except Exception as exc:  # any malformed update: set it aside, never stop on input
                            reason = f"{type(exc).__name__}: {exc}"
                        if reason:
                            log.error("bot worker: update %s cannot be read (%s)", stream_id, reason)
                            dead = [(stream_id, fields)]
                        else:
                            # Handler errors are python-telegram-bot's to report (LinkBot.on_error).
                            await application.process_update(update)
                            log.info("update %s handled", update.update_id)
                if not await asyncio.to_thread(reader.acknowledge, [stream_id], dead, updatestream.DEAD_LETTER_STREAM,
                                               stop):
                    return  # stopped while Redis was away: the update stays pending (and the name in the group)
    await asyncio.to_thread(reader.leave)


def _run_consumer(settings: Settings) -> None:
    liveness = LivenessFile(settings.worker_heartbeat_file)

    stop = threading.Event()
    on_stop_signals(stop.set)
    if settings.telegram_bot_token:
        asyncio.run(consume(LinkBot(settings), stop, liveness))
        return
    log.info("TELEGRAM_BOT_TOKEN is not set: the bot is off; idling until stopped")
    while not stop.is_set():
        liveness.touch()
        stop.wait(10)


@exit_on_config_error
def main(argv: list[str]) -> int:
    configure_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Bot API call is noise
    commands = ("consume", "poll", "set-webhook", "delete-webhook")
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python telegram_bot.py {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if settings.telegram_bot_token and not settings.public_base_url:
        raise ConfigError("TELEGRAM_BOT_TOKEN is set but PUBLIC_BASE_URL is empty: the bot's replies carry short "
                          "links, so it needs the address people reach this stack at, e.g. "
                          "PUBLIC_BASE_URL=http://localhost:8080")
    if argv[0] == "consume":
        _run_consumer(settings)
        return 0
    if not settings.telegram_bot_token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: the bot is off.")
    bot = LinkBot(settings)
    if argv[0] == "poll":
        # getUpdates answers 409 Conflict to a second poller, and while a webhook is set.
        bot.application(polling=True).run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
        return 0
    return asyncio.run(_webhook(bot, argv[0] == "set-webhook"))


async def _webhook(bot: LinkBot, register: bool) -> int:
    settings = bot.settings
    async with bot.application(polling=False) as application:
        if not register:
            await application.bot.delete_webhook()
            print("webhook deleted; polling works again")
            return 0
        if not settings.public_base_url.startswith("https://") or not settings.telegram_webhook_secret:
            raise ConfigError("set-webhook needs PUBLIC_BASE_URL (https://…, reachable by Telegram) and "
                              "TELEGRAM_WEBHOOK_SECRET")
        url = f"{settings.public_base_url}/telegram/webhook"
        await application.bot.set_webhook(url, secret_token=settings.telegram_webhook_secret,
                                          allowed_updates=ALLOWED_UPDATES)
        print(f"webhook set: {url}")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
