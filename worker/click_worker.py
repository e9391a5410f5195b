"""The click worker: drains the click stream into PostgreSQL, exactly once per click.

Run as `python click_worker.py` (from worker/, with the shortstack package installed). Workers
share one consumer group, so several split the stream. Each batch is stored in one transaction
keyed by stream entry id (a redelivered entry is ignored) and acknowledged only after the
commit; entries left pending by a dead worker are claimed after CLICK_CLAIM_IDLE_MS. SIGTERM
finishes the current batch, then exits.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

import crawleruseragents
import psycopg
import redis
import ua_parser
from prometheus_client import start_http_server

from shortstack import clickstream, cluster, metrics
from shortstack.backends import connect_db, connect_redis
from shortstack.config import Settings
from shortstack.lifecycle import LivenessFile, configure_logging, exit_on_config_error, on_stop_signals
from shortstack.streams import READ_BLOCK_MS, RETRY_DELAY_S, StreamReader

log = logging.getLogger("shortstack.worker")

REPORT_EVERY_S = 10.0
# The request ids of a stored batch are logged this many to a line: a batch holds up to 2 000, and
# Docker (like most log shippers) splits lines longer than 16 KiB; 200 ids of at most 64
# characters (clickstream.MAX_REQUEST_ID_CHARS) stay under it.
REQUEST_IDS_PER_LINE = 200


# Who followed a link: a person, a bot (crawler, monitor, script), or a link preview (a chat app
# or social network fetching the page to show a card).
Visitor = Literal["human", "bot", "preview"]
# What it clicked with; "bot" for every visitor that is not a person.
DeviceType = Literal["desktop", "mobile", "tablet", "bot"]


@dataclass(frozen=True)
class UserAgent:
    """What the User-Agent header says about a click."""

    browser: str  # ua-parser's family: "Chrome", "Mobile Safari", "Googlebot", "Other", ...
    os: str  # ua-parser's OS family: "Windows", "iOS", "Android", "Other", ...
    device_type: DeviceType
    visitor: Visitor


@dataclass(frozen=True)
class StoredClick:
    """A click as it is stored: enriched, keyed by its stream entry id."""

    stream_id: str
    code: str
    clicked_at: datetime
    referrer_host: str | None
    ua_family: str
    visitor: Visitor
    os_family: str
    device_type: DeviceType
    request_id: str = ""  # of the redirect that queued it, for the log only

    @property
    def is_bot(self) -> bool:
        """Not a person (a bot or a preview): what clicks.is_bot and bot_click_count have always held."""
        return self.visitor != "human"


# What a host can be (RFC 3986's reg-name as browsers send it: ASCII, IDNs in punycode; or an IP
# literal); a forged Referer's "host" ("=1+2", "<script>") is not stored.
_HOST_NAME = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")


@functools.lru_cache(maxsize=4096)
def referrer_host(referrer: str) -> str | None:
    """The host of a Referer header, or None for direct visits, unparseable values and hosts that
    cannot be one."""
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host if host and _HOST_NAME.fullmatch(host) else None


# The patterns crawler-user-agents tags social-preview: chat apps and social networks fetching a
# page to show a card. Fediverse servers fetch one for every link posted, Bluesky's Cardyb one for
# every post; version 1.67.0 knows Mastodon's fetcher but not these (to be sent upstream).
_UNLISTED_PREVIEW_FETCHERS = [r"^Misskey/", r"^(Akkoma|Pleroma) \d", r"^GoToSocial/", r"Bluesky Cardyb/"]
_PREVIEW_FETCHERS = re.compile("|".join(
    [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA if "social-preview" in entry["tags"]]
    + _UNLISTED_PREVIEW_FETCHERS))
# A person follows a link in a browser, and every browser's User-Agent starts with Mozilla/ (Opera
# 12 and older: Opera/); anything else is a program (PostmanRuntime/, reqwest/, undici, Dalvik/).
# A contact address (+https://…, +mailto:) is how a crawler signs itself; no browser has one.
_BROWSER = re.compile(r"^(Mozilla|Opera)/")
_SIGNED = re.compile(r"\+(https?://|mailto:)")


@functools.lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str) -> UserAgent:
    """Browser and OS family, device type and who it is, from the User-Agent header alone.

    A preview if one of crawler-user-agents' social-preview patterns matches; a bot if another of
    its patterns matches, if ua-parser calls the device a Spider, if there is no User-Agent
    (every browser sends one; curl, scripts and scanners may not), if it is not a browser's or if
    it carries a contact address. Else a person. Parsing is slow
    (about 1 ms for a new string, most of it ua-parser's), and real traffic repeats User-Agents, hence the cache.
    """
    if not user_agent:
        return UserAgent("Unknown", "Other", "bot", "bot")
    parsed = ua_parser.parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    os = parsed.os.family if parsed.os else "Other"
    if _PREVIEW_FETCHERS.search(user_agent):
        visitor: Visitor = "preview"
    elif crawleruseragents.is_crawler(user_agent) or (parsed.device is not None and parsed.device.family == "Spider"):
        visitor = "bot"
    elif not _BROWSER.match(user_agent) or _SIGNED.search(user_agent):
        visitor = "bot"
    else:
        visitor = "human"
    return UserAgent(browser, os, device_type(user_agent, parsed, visitor), visitor)


def device_type(user_agent: str, parsed: ua_parser.Result, visitor: Visitor) -> DeviceType:
    """Desktop, mobile or tablet for a person; "bot" for anyone else.

    A tablet is what ua-parser names one (iPad; its Generic_Android_Tablet brand for Android
    without the "Mobile" token; Firefox's "Tablet" token). A mobile is an iOS or Android device, or
    any User-Agent with "Mobi" in it (MDN's advice for telling mobiles apart). Everything else,
    iPadOS Safari included (it sends a Mac's User-Agent), counts as a desktop.
    """
    if visitor != "human":
        return "bot"
    device = parsed.device
    if device is not None and (device.family == "iPad" or "Tablet" in f"{device.family} {device.brand} {device.model}"):
        return "tablet"
    if (parsed.os is not None and parsed.os.family in ("iOS", "Android")) or "Mobi" in user_agent:
        return "mobile"
    return "desktop"


def enrich(stream_id: str, event: clickstream.ClickEvent) -> StoredClick:
    """Turn a raw click event into the row the worker stores, keyed by its stream entry id or, for
    a click a replica spooled while Redis was down, the id the replica gave it."""
    agent = classify_user_agent(event.user_agent)
    return StoredClick(
        stream_id=event.click_id or stream_id,
        code=event.code,
        clicked_at=datetime.fromtimestamp(event.at_ms / 1000, tz=timezone.utc),
        referrer_host=referrer_host(event.referrer),
        ua_family=agent.browser,
        visitor=agent.visitor,
        os_family=agent.os,
        device_type=agent.device_type,
        request_id=event.request_id,
    )


# Each batch is copied into a per-connection scratch table, then moved into clicks in one
# statement that skips stream ids already stored: COPY is several times faster than binding arrays.
# The clicks that were new land in click_new, and only they are added to the counters.
CREATE_SCRATCH_TABLES = """
CREATE TEMPORARY TABLE IF NOT EXISTS click_batch (LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS click_new (LIKE clicks) ON COMMIT DELETE ROWS
"""
COPY_BATCH = ("COPY click_batch (stream_id, code, clicked_at, referrer_host, ua_family, is_bot, visitor, os_family,"
              " device_type) FROM STDIN")
MOVE_NEW_CLICKS = """
WITH inserted AS (INSERT INTO clicks SELECT * FROM click_batch ON CONFLICT (stream_id) DO NOTHING RETURNING *)
INSERT INTO click_new SELECT * FROM inserted
"""
# Every counter row is locked in key order (ORDER BY), so concurrent workers never wait on each
# other in a cycle.
ADD_TO_HOURS = """
INSERT INTO clicks_hourly (code, hour, clicks)
SELECT code, date_trunc('hour', clicked_at, 'UTC'), count(*) FROM click_new GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (code, hour) DO UPDATE SET clicks = clicks_hourly.clicks + excluded.clicks
"""
ADD_TO_REFERRERS = """
INSERT INTO referrer_counts (code, referrer_host, clicks)
SELECT code, coalesce(referrer_host, ''), count(*) FROM click_new GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (code, referrer_host) DO UPDATE SET clicks = referrer_counts.clicks + excluded.clicks
"""
ADD_TO_USER_AGENTS = """
INSERT INTO user_agent_counts (code, browser, os, device_type, clicks)
SELECT code, ua_family, os_family, device_type, count(*) FROM click_new GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (code, browser, os, device_type) DO UPDATE SET clicks = user_agent_counts.clicks + excluded.clicks
"""
ADD_TO_TOTALS = """
UPDATE links SET click_count = links.click_count + counted.n, bot_click_count = links.bot_click_count + counted.bots,
                 preview_click_count = links.preview_click_count + counted.previews
FROM (SELECT links.code, new.n, new.bots, new.previews FROM links
      JOIN (SELECT code, count(*) AS n, count(*) FILTER (WHERE is_bot) AS bots,
                   count(*) FILTER (WHERE visitor = 'preview') AS previews
            FROM click_new GROUP BY code) AS new
      USING (code)
      ORDER BY links.code FOR UPDATE OF links) AS counted
WHERE links.code = counted.code
"""


def store_batch(conn: psycopg.Connection, clicks: list[StoredClick]) -> int:
    """Insert the clicks and add the newly inserted ones to their links' totals and to the stats
    counters, in one transaction.

    Returns how many clicks were new; already-stored stream ids are skipped and not counted.
    """
    with conn.transaction():
        conn.execute(CREATE_SCRATCH_TABLES)
        with conn.cursor().copy(COPY_BATCH) as copy:
            for c in clicks:
                copy.write_row((c.stream_id, c.code, c.clicked_at, c.referrer_host, c.ua_family, c.is_bot, c.visitor,
                                c.os_family, c.device_type))
        new = conn.execute(MOVE_NEW_CLICKS).rowcount
        for statement in (ADD_TO_HOURS, ADD_TO_REFERRERS, ADD_TO_USER_AGENTS, ADD_TO_TOTALS):
            conn.execute(statement)
    return new


def log_stored(clicks: list[StoredClick]) -> None:
    """Log the request ids of stored clicks (those that carry one), REQUEST_IDS_PER_LINE to a line:
    `grep <id>` then finds the click's storing. Not a line per click: one costs 20-30 µs of CPU,
    as much as the worker and PostgreSQL spend storing a click or more."""
    ids = [c.request_id for c in clicks if c.request_id]
    for start in range(0, len(ids), REQUEST_IDS_PER_LINE):
        chunk = ids[start:start + REQUEST_IDS_PER_LINE]
        log.info("clicks stored", extra={"request_ids": chunk})


class ClickWorker:
    """One consumer in the click-workers group."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.worker_name
        self.liveness = LivenessFile(settings.worker_heartbeat_file)
        self.redis = connect_redis(settings.redis_url, blocking_ms=READ_BLOCK_MS)
        self.reader = StreamReader(self.redis, clickstream.STREAM, clickstream.GROUP, self.name,
                                   settings.click_batch_size, settings.click_claim_idle_ms)
        self._db: psycopg.Connection | None = None
        self.stored = 0
        self._started_at = time.time()
        self._beat_at, self._beat_stored = time.monotonic(), 0
        self._report_at, self._reported = time.monotonic() + REPORT_EVERY_S, 0

    def run(self, stop: threading.Event) -> None:
        """Process batches until `stop` is set; the batch in hand is always finished first."""
        log.info("worker %s consuming %r as group %r", self.name, clickstream.STREAM, clickstream.GROUP)
        while not stop.is_set():
            try:
                held = self.step(stop)
                # A part-full batch: let clicks gather before the next one. A transaction (and its
                # fsync) per handful of clicks cost more CPU per click than the redirect itself.
                if 0 < held < self.settings.click_batch_size:
                    stop.wait(self.settings.click_batch_wait_ms / 1000)
            except (redis.RedisError, psycopg.Error) as exc:
                log.warning("worker %s: %s; retrying in %.0fs", self.name, exc, RETRY_DELAY_S)
                self._drop_db()
                stop.wait(RETRY_DELAY_S)
            self._announce()
        self._drop_db()
        self.reader.leave()
        log.info("worker %s stopped after storing %d clicks", self.name, self.stored)

    def step(self, stop: threading.Event) -> int:
        """Handle one batch; returns how many entries it held."""
        entries = self.reader.next_batch(block_ms=READ_BLOCK_MS)
        clicks, dead, done = [], [], []
        for stream_id, fields in entries:
            done.append(stream_id)
            if fields is None:  # deleted from the stream after it was delivered: nothing to store
                continue
            try:
                clicks.append(enrich(stream_id, clickstream.ClickEvent.from_fields(fields)))
            except ValueError:
                dead.append((stream_id, fields))
        if clicks:
            new = store_batch(self._connection(), clicks)
            self.stored += new
            metrics.CLICKS_STORED.inc(new)
            log_stored(clicks)
        if done:
            # Acknowledged only now that PostgreSQL has committed.
            self.reader.acknowledge(done, dead, clickstream.DEAD_LETTER_STREAM, stop)
        return len(entries)

    def _announce(self) -> None:
        """Show that this worker lives: the heartbeat file (compose's healthcheck), the Redis
        heartbeat (/cluster) every second, and a log line every REPORT_EVERY_S with progress."""
        self.liveness.touch()
        now = time.monotonic()
        if now - self._beat_at >= cluster.INTERVAL_S:
            try:
                cluster.worker_heartbeat(self.redis, self.name, self._started_at, self.stored,
                                         (self.stored - self._beat_stored) / (now - self._beat_at),
                                         self.reader.pending())
            except redis.RedisError:
                pass  # the next step reports Redis being down
            self._beat_at, self._beat_stored = now, self.stored
        if now >= self._report_at:
            if self.stored != self._reported:
                log.info("worker %s stored %d clicks in the last %.0fs", self.name, self.stored - self._reported,
                         REPORT_EVERY_S)
            self._report_at, self._reported = now + REPORT_EVERY_S, self.stored

    def _connection(self) -> psycopg.Connection:
        if self._db is None or self._db.closed:
            self._db = connect_db(self.settings.database_url)
        return self._db

    def _drop_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@exit_on_config_error
def main() -> None:
    configure_logging()
    stop = threading.Event()
    on_stop_signals(stop.set)
    settings = Settings.from_env()
    if settings.worker_metrics_port:  # Prometheus scrapes each worker (the `observability` profile)
        start_http_server(settings.worker_metrics_port)
    ClickWorker(settings).run(stop)


if __name__ == "__main__":
    main()
