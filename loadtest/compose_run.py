"""`docker compose` for the load tools' own projects: a project name, published ports of its own,
and the same environment for every command."""

from __future__ import annotations

import os
import subprocess

from local_stack.paths import REPO
from local_stack.processes import free_port


class ComposeRun:
    """One compose project of docker-compose.yml, on free host ports unless given."""

    def __init__(self, project: str, env: dict[str, str], http_port: int = 0) -> None:
        self.project = project
        self.http_port = http_port or free_port()
        self.env = {**os.environ, **env, "HTTP_PORT": str(self.http_port), "HTTPS_PORT": str(free_port()),
                    "LOCUST_PORT": str(free_port())}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def __call__(self, *args: str, extra_env: dict[str, str] | None = None) -> None:
        """Run `docker compose -p PROJECT ARGS`; raises RuntimeError with compose's message on failure."""
        result = subprocess.run(["docker", "compose", "-p", self.project, *args], cwd=REPO,
                                env={**self.env, **(extra_env or {})}, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"docker compose {' '.join(args)} failed:\n{result.stderr[-3000:]}")

    def scale(self, replicas: int, extra_env: dict[str, str] | None = None) -> None:
        """Bring up what the load needs — nginx pulls in app, migrate, PostgreSQL and Redis — with
        `replicas` app containers, and wait until they are healthy."""
        self("up", "-d", "--build", "--wait", "--scale", f"app={replicas}", "nginx", "worker", extra_env=extra_env)

    def down(self) -> None:
        self("down", "-v", "--remove-orphans")
