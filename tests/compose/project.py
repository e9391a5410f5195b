"""One disposable compose project of the real docker-compose.yml, driven like a user drives it."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.processes import free_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ARTIFACTS = REPO / "tests" / "artifacts"
TELEGRAM_TOKEN = "123456:COMPOSE-TEST-TOKEN"
TELEGRAM_SECRET = "compose-webhook-secret"
# Adds only the fake Telegram Bot API the bot talks to; every service of the stack is the real one.
TEST_OVERRIDE = HERE / "fake-telegram.yml"
# The suite's own images (IMAGE_NAMESPACE, set for the whole session by conftest.py): its builds
# never retag a user's shortstack/* images, and `latest` stays as the next run's build cache.
NAMESPACE = "shortstack-compose-test"
# The projects beside the session's (observability, https) build under one of their own: a build
# from another checkout on this engine never retags the images a running project uses.
SIDE_NAMESPACE = f"{NAMESPACE}-side"


def compose_projects(prefix: str) -> list[str]:
    """Names of the compose projects on this engine (running or not) that start with `prefix`."""
    return subprocess.run(["docker", "compose", "ls", "--all", "--quiet", "--filter", f"name={prefix}"],
                          capture_output=True, text=True, timeout=60).stdout.split()


@dataclass
class ComposeProject:
    """`docker compose` under a unique project name and free host ports; `down -v` removes it all."""

    env: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"shortstack-test-{uuid.uuid4().hex[:8]}")
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)  # env's HTTPS_PORT, when given, wins
    locust_port: int = field(default_factory=free_port)
    fake_telegram_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def locust_url(self) -> str:
        return f"http://127.0.0.1:{self.locust_port}"

    @property
    def fake_telegram_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_telegram_port}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "HTTPS_PORT": str(self.https_port), **self.env,
                "HTTP_PORT": str(self.http_port), "LOCUST_PORT": str(self.locust_port),
                "FAKE_TELEGRAM_PORT": str(self.fake_telegram_port)}

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """Run `docker compose ARGS` for this project from the repository root, as a user would."""
        command = ["docker", "compose", "-p", self.name, "-f", "docker-compose.yml", "-f", str(TEST_OVERRIDE), *args]
        result = subprocess.run(command, cwd=REPO, env=self._env(), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command[5:])} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def make(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """Run `make ARGS` (deploy, backup, …) on this project, as an operator would from the checkout:
        compose finds the project through COMPOSE_PROJECT_NAME and COMPOSE_FILE. Not checked."""
        env = {**self._env(), "COMPOSE_PROJECT_NAME": self.name,
               "COMPOSE_FILE": os.pathsep.join(["docker-compose.yml", str(TEST_OVERRIDE)])}
        return subprocess.run(["make", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    def containers(self, service: str | None = None) -> list[dict]:
        """`docker compose ps -a` as dicts (Service, State, Health, ExitCode, ID, …)."""
        out = self.compose("ps", "-a", "--format", "json", *([service] if service else [])).stdout
        # Compose prints one JSON object per line (older versions: one JSON array).
        text = out.strip()
        if text.startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def container_ids(self, service: str) -> set[str]:
        """Short ids (what a container's hostname, hence X-Served-By, is) of the running `service`."""
        return {c["ID"][:12] for c in self.containers(service) if c["State"] == "running"}

    def inspect(self, container_id: str) -> dict:
        out = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, check=True,
                             timeout=30).stdout
        return json.loads(out)[0]

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", timeout=120).stdout

    def save_logs(self, folder: Path) -> None:
        """Append every container's log to FOLDER/<project>.log (`down` deletes them)."""
        folder.mkdir(exist_ok=True)
        with open(folder / f"{self.name}.log", "a") as out:
            out.write(self.compose("logs", "--no-color", "--timestamps", check=False).stdout)

    @contextmanager
    def running(self) -> Iterator[ComposeProject]:
        """`up --build --wait`, as the README says; whatever happens then, the logs are kept for a
        person (ARTIFACTS) and `down -v` leaves nothing behind."""
        try:
            self.compose("up", "--build", "--wait", timeout=900)
            yield self
        finally:
            self.save_logs(ARTIFACTS)
            self.compose("down", "-v", "--remove-orphans", "--timeout", "30", timeout=300, check=False)
