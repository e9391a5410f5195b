"""One compose project of this checkout's docker-compose.yml, as the operations drive it.

Everything compose itself reads applies unchanged: COMPOSE_PROJECT_NAME, COMPOSE_FILE, .env,
HTTP_PORT and the rest. The resolved configuration (`docker compose config`) is read once, so the
project name and nginx's published port are the ones compose uses, wherever they were set.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[1]


def setting(name: str, default: str) -> str:
    """A setting (listed in .env.example): from the environment, else from .env as compose reads
    it, else `default`."""
    return os.environ.get(name) or dotenv_values(REPO / ".env").get(name) or default


def int_setting(name: str, default: int, minimum: int = 0) -> int:
    """A whole-number setting; raises OperationError for anything but one of at least `minimum`."""
    raw = setting(name, str(default))
    if not raw.isdigit() or int(raw) < minimum:
        raise OperationError(f"{name} must be a whole number of at least {minimum}, got {raw!r}")
    return int(raw)


class OperationError(Exception):
    """A step failed; the message says which and what to do. Entry points print it and exit 1."""


@dataclass(frozen=True)
class Container:
    """One container, as `docker inspect` describes it."""

    id: str
    name: str
    service: str
    image: str  # the image id (sha256:…), not its name: a tag can move, the id cannot
    state: str  # created, running, exited, …
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    hostname: str  # what the replica answers in X-Served-By
    networks: dict[str, list[str]]  # network name -> this container's DNS aliases on it
    exit_code: int
    restarts: int  # times Docker restarted it (restart: unless-stopped): a crash loop shows here
    created: str  # RFC 3339, so that sorting the text sorts by time

    @classmethod
    def from_inspect(cls, data: dict) -> "Container":
        state = data["State"]
        return cls(id=data["Id"], name=data["Name"].lstrip("/"),
                   service=data["Config"]["Labels"].get("com.docker.compose.service", ""),
                   image=data["Image"], state=state["Status"],
                   health=(state.get("Health") or {}).get("Status", ""), hostname=data["Config"]["Hostname"],
                   networks={name: net.get("Aliases") or [] for name, net in
                             data["NetworkSettings"]["Networks"].items()},
                   exit_code=state["ExitCode"], restarts=data["RestartCount"], created=data["Created"])


def run(command: list[str], *, env: dict[str, str] | None = None, stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None, timeout: float = 600, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run a command, capturing its output (or streaming it to `stdout`, a dump say); raises
    OperationError with what it printed if it fails."""
    try:
        result = subprocess.run(command, cwd=cwd, env=env, stdin=stdin or subprocess.DEVNULL,
                                stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OperationError(f"`{' '.join(command)}` did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        output = ((result.stdout or b"") + result.stderr).decode(errors="replace").strip()
        raise OperationError(f"`{' '.join(command)}` exited {result.returncode}:\n{output}")
    return result


def docker(*args: str, timeout: float = 600) -> str:
    """`docker ARGS`; its standard output as text."""
    return run(["docker", *args], timeout=timeout).stdout.decode()


def tail_of_log(container_id: str, lines: int = 20) -> str:
    """The last lines a container wrote, to standard output and error alike."""
    result = run(["docker", "logs", "--tail", str(lines), container_id])
    return (result.stdout + result.stderr).decode(errors="replace")


@dataclass
class Project:
    """`docker compose` from the repository root, with `env` over this process's environment."""

    env: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
                timeout: float = 600) -> subprocess.CompletedProcess:
        return run(["docker", "compose", *args], env={**os.environ, **self.env}, stdin=stdin, stdout=stdout,
                   timeout=timeout)

    @cached_property
    def config(self) -> dict:
        """The configuration compose resolved (variables substituted, .env read)."""
        return json.loads(self.compose("config", "--format", "json").stdout)

    @property
    def name(self) -> str:
        return self.config["name"]

    def network(self, key: str) -> str:
        """The engine's name of the project network `key` (e.g. edge)."""
        return self.config["networks"][key]["name"]

    @property
    def url(self) -> str:
        """nginx as this machine reaches it: its published port on loopback."""
        [port] = [p for p in self.config["services"]["nginx"]["ports"] if p["target"] == 8080]  # http, not https
        return f"http://127.0.0.1:{port['published']}"

    def image(self, service: str) -> str:
        """The image name a service runs, e.g. shortstack/app:latest."""
        return self.config["services"][service]["image"]

    def containers(self, service: str) -> list[Container]:
        """Every container of `service` (running or not), oldest first."""
        ids = self.compose("ps", "--all", "--quiet", service).stdout.decode().split()
        if not ids:
            return []
        found = [Container.from_inspect(data) for data in json.loads(docker("inspect", *ids))]
        return sorted(found, key=lambda c: c.created)

    def running(self, service: str) -> list[Container]:
        return [c for c in self.containers(service) if c.state == "running"]

    def run_once(self, service: str, timeout_s: float = 300) -> None:
        """(Re)start compose's one-shot `service` (the migrate job) and wait until it exits 0.
        Its dependencies are started if needed, never recreated; with --no-deps compose would
        record another configuration for it, and the next plain `up` would recreate it and,
        after it, every service that depends on it."""
        self.compose("up", "--detach", "--force-recreate", service)
        deadline = time.monotonic() + timeout_s
        while (job := self.containers(service)[0]).state != "exited":
            if time.monotonic() > deadline:
                raise OperationError(f"{service} still running after {timeout_s:.0f} s: docker logs {job.id[:12]}")
            time.sleep(0.5)
        if job.exit_code != 0:
            raise OperationError(f"{service} exited {job.exit_code}:\n{tail_of_log(job.id)}")
