"""What every long-running process of the stack shares: its log format, its stop signals, and
the liveness file that compose's healthcheck reads."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """INFO and above to stderr, one format for the app, the workers and the jobs."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


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
