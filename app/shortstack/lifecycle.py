"""What every long-running process of the stack shares: its log format, its stop signals, and
the liveness file that compose's healthcheck reads."""

from __future__ import annotations

import functools
import logging
import signal
import sys
from pathlib import Path
from typing import Callable, TypeVar

from .config import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a process exits with when its configuration is refused, as for a usage error.
CONFIG_ERROR_STATUS = 2
F = TypeVar("F", bound=Callable[..., object])


def configure_logging() -> None:
    """INFO and above to stderr, one format for the app, the workers and the jobs."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


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
