"""What every long-running process of the stack shares: its log format, its stop signals, and
the liveness file that compose's healthcheck reads."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import signal
import sys
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from pythonjsonlogger.json import JsonFormatter

from .config import ConfigError

# What a process exits with when its configuration is refused, as for a usage error.
CONFIG_ERROR_STATUS = 2
F = TypeVar("F", bound=Callable[..., object])

# The X-Request-ID nginx set on the request being handled (the app), or that travelled with the
# queued entry being handled (the bot worker); "" outside one. Every log line made meanwhile
# carries it, so `grep <id>` follows one request from nginx through a replica to the workers.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to a record made while REQUEST_ID is set (unless the call gave one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, then every field
    passed in `extra=` (request_id among them), as nginx's access log is JSON too."""
    return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"})


def configure_logging() -> None:
    """INFO and above to stderr as JSON lines, one format for the app, the workers and the jobs."""
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])


@contextlib.contextmanager
def handling_request(request_id: str) -> Iterator[None]:
    """Log lines made inside the block carry `request_id` (none when it is "")."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def exit_on_config_error(main: F, status: int = CONFIG_ERROR_STATUS) -> F:
    """Wrap an entry point's main(): a ConfigError ends the process with its message on stderr
    and `status`, not a traceback."""

    @functools.wraps(main)
    def run(*args: object, **kwargs: object) -> object:
        try:
            return main(*args, **kwargs)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            raise SystemExit(status) from None

    return run  # type: ignore[return-value]


def on_stop_signals(callback: Callable[[], None]) -> None:
    """Call `callback` on SIGTERM (docker stop, scale-down) and SIGINT (Ctrl-C)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: callback())


class LivenessFile:
    """A file touched while the process makes progress; an empty path means none is kept."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None

    def touch(self) -> None:
        if self.path is not None:
            self.path.touch()
