"""Operator commands: API keys, taking links down, finding links by target host.

    python -m shortstack.admin create-key NAME      prints a new key, once
    python -m shortstack.admin list-keys
    python -m shortstack.admin revoke-key ID
    python -m shortstack.admin disable CODE...      410 on every replica from the next request on
    python -m shortstack.admin enable CODE...
    python -m shortstack.admin links-by-host HOST   links to HOST and its subdomains
    python -m shortstack.admin wait-for-clicks      until every click queued so far is stored (a backup's start)
    python -m shortstack.admin clear-cache          forget cached links and stats (after a restore)

Under compose: docker compose run --rm migrate python -m shortstack.admin ...
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import psycopg
import redis
from psycopg_pool import PoolTimeout

from . import clickstream
from .apikeys import ApiKeys
from .backends import Backends
from .config import Settings
from .lifecycle import exit_on_config_error
from .link_stats import stats_key
from .links import Link, LinkStore
from .redirect_cache import RedirectCache, cache_key


@exit_on_config_error
def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is 0 when everything asked for was done."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    # The pool would log each failed connection attempt; one line saying what failed is enough.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        return args.run(args, Backends(settings), settings)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        print(f"error: PostgreSQL is unreachable ({exc})", file=sys.stderr)
    except redis.RedisError as exc:
        print(f"error: Redis is unreachable ({exc})", file=sys.stderr)
        if args.run is _set_disabled:
            print("PostgreSQL is already updated: run the command again once Redis is back, so that replicas "
                  "stop using their cached copy", file=sys.stderr)
    return 1


def _create_key(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    key, secret = ApiKeys(backends).create(args.name)
    print(f"Created API key {key.id} ({key.name}). Send it as the X-Api-Key header; it is not shown again:")
    print(secret)
    return 0


def _list_keys(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    for key in ApiKeys(backends).all():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.id}\t{key.name}\tcreated {key.created_at:%Y-%m-%d %H:%M}\t{state}")
    return 0


def _revoke_key(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    if not ApiKeys(backends).revoke(args.id):
        print(f"error: no API key has the id {args.id}", file=sys.stderr)
        return 1
    print(f"Revoked API key {args.id}.")
    return 0


def _set_disabled(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    links = LinkStore(backends, RedirectCache(backends, settings))
    unknown = [code for code in args.codes if not links.set_disabled(code, args.disabled)]
    for code in sorted(set(args.codes) - set(unknown)):
        print(f"{'Disabled' if args.disabled else 'Enabled'} {code}.")
    for code in unknown:
        print(f"error: no link has the code {code!r}", file=sys.stderr)
    return 1 if unknown else 0


def _links_by_host(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    found = LinkStore(backends, RedirectCache(backends, settings)).by_target_host(args.host)
    for link in found:
        print("\t".join([link.code, f"{link.created_at:%Y-%m-%d %H:%M}", f"{link.click_count} clicks",
                         _state(link), link.url]))
    print(f"{len(found)} link(s) to {args.host} or its subdomains.", file=sys.stderr)
    return 0


def _wait_for_clicks(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    """Wait until the click workers have stored every click queued before this command started:
    a backup taken afterwards holds them all. Stored clicks leave the stream, so it is enough
    that no entry up to the last one queued remains."""
    client = backends.redis
    try:
        last = client.xinfo_stream(clickstream.STREAM)["last-generated-id"]
    except redis.ResponseError:  # no click was ever queued
        return 0
    deadline = time.monotonic() + args.timeout
    while waiting := len(client.xrange(clickstream.STREAM, "-", last, count=1000)):
        if time.monotonic() > deadline:
            print(f"error: {waiting}{'+' if waiting == 1000 else ''} click(s) queued before now are still not "
                  f"stored after {args.timeout} s: are the click workers running?", file=sys.stderr)
            return 1
        time.sleep(0.2)
    return 0


def _clear_cache(args: argparse.Namespace, backends: Backends, settings: Settings) -> int:
    """Forget every cached link and statistic, so that replicas read PostgreSQL again (after a
    restore, the database may differ from what they cached)."""
    client = backends.redis
    forgotten = 0
    for pattern in (cache_key("*"), stats_key("*")):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for first in range(0, len(keys), 1000):
            forgotten += client.delete(*keys[first:first + 1000])
    print(f"Forgot {forgotten} cached link(s) and statistics.")
    return 0


def _state(link: Link) -> str:
    if link.deleted_at:
        return f"deleted {link.deleted_at:%Y-%m-%d %H:%M}"
    return f"disabled {link.disabled_at:%Y-%m-%d %H:%M}" if link.disabled_at else "live"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shortstack.admin", description="Shortstack operator commands.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    command = commands.add_parser("create-key", help="create an API key and print it (only this once)")
    command.add_argument("name", help="who or what the key is for")
    command.set_defaults(run=_create_key)
    commands.add_parser("list-keys", help="list API keys (never the keys themselves)").set_defaults(run=_list_keys)
    command = commands.add_parser("revoke-key", help="stop an API key working")
    command.add_argument("id", type=int)
    command.set_defaults(run=_revoke_key)
    for name, disabled, text in (("disable", True, "take links down: 410 everywhere at once"),
                                 ("enable", False, "put disabled links back")):
        command = commands.add_parser(name, help=text)
        command.add_argument("codes", nargs="+", metavar="CODE")
        command.set_defaults(run=_set_disabled, disabled=disabled)
    command = commands.add_parser("links-by-host", help="list links whose target is on HOST or its subdomains")
    command.add_argument("host")
    command.set_defaults(run=_links_by_host)
    command = commands.add_parser("wait-for-clicks", help="wait until every click queued so far is stored")
    command.add_argument("--timeout", type=int, default=60, help="seconds before giving up (default 60)")
    command.set_defaults(run=_wait_for_clicks)
    commands.add_parser("clear-cache", help="forget cached links and stats (after a database restore)").set_defaults(
        run=_clear_cache)
    return parser


if __name__ == "__main__":
    sys.exit(main())
