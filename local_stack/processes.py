"""Child processes of the local stack: finding binaries and free ports, starting, signalling and
stopping a process that dies with the harness."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .paths import REPO

INSTALL_HINTS = {
    "nginx": "apt-get update && apt-get install -y nginx-light",
    "initdb": "apt-get update && apt-get install -y postgresql",
    "postgres": "apt-get update && apt-get install -y postgresql",
    "redis-server": "apt-get update && apt-get install -y redis-server",
}
STOP_TIMEOUT_S = 20.0
PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A process of the stack failed to start or answer; the message says which and why."""


class MissingBinary(StackError):
    """A binary the stack needs is not installed; the message holds the install command."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not installed. Install it with:\n    {INSTALL_HINTS[name]}")


def find_binary(name: str) -> str:
    """The path of `name`, looking also where Debian keeps PostgreSQL's server binaries."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if versions:
        return str(versions[-1])
    raise MissingBinary(name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_free_port(port: int) -> None:
    with socket.socket() as sock:
        # As nginx binds: connections of a previous run in TIME_WAIT do not make the port taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(f"port {port} is already in use; choose another with HTTP_PORT=...") from None


def _die_with_parent() -> None:
    # If the harness itself is killed, the kernel stops its children instead of orphaning them.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Process:
    """One child process of the stack, restartable with the same command and environment."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, user=self.user, preexec_fn=_die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def signal(self, sig: int) -> None:
        """Signal the whole process group, as killing a container would (gunicorn's workers too)."""
        if self.running:
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Ask it to stop, then kill it if it has not within `timeout` seconds."""
        if not self.running:
            return
        self.popen.send_signal(self.stop_signal)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
