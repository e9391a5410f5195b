"""Rolling replacement of one compose service's containers, a few at a time, with none failing.

For each batch, new containers are created from the image the service names now and started; a
service on the `edge` network (the app) is started off it, so nginx cannot send it a request
before it is healthy and ready (PostgreSQL and Redis answer). Then it joins `edge` under the same
DNS names compose gave it, and the rollout waits until nginx has answered from it. Only then are
as many old containers drained and removed: `docker stop` sends SIGTERM, on which gunicorn
finishes the requests in flight and refuses new connections (nginx retries those on another
replica), and a click worker finishes its batch (entries it still held are claimed by the others).
The service keeps its count throughout; at most `batch_size` extra containers run at once.

Docker's DNS answers for every running container of a service, healthy or not, and nginx
re-resolves `app` every 5 s: joining `edge` only once healthy is what keeps a broken version from
ever receiving traffic (compare Wowu/docker-rollout, which relies on the proxy's health checks).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

from .compose import Container, OperationError, Project, docker

EDGE = "edge"
# A readiness probe from inside the container: its exit status says whether /readyz answered 200.
READY_PROBE = ["python", "-c",
               "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]


@dataclass
class Rollout:
    """Replaces containers of a project's services; `log` receives one line per step."""

    project: Project
    batch_size: int
    health_timeout_s: float
    stop_timeout_s: int = 30  # compose's stop_grace_period for the app and workers
    log: Callable[[str], None] = print

    def replace(self, service: str, image_id: str) -> int:
        """Replace every running container of `service` that does not run `image_id` by one that
        does, `batch_size` at a time; returns how many were replaced. Raises OperationError when a
        new container does not become healthy in time (it is removed first; the old ones that
        remain keep serving)."""
        self._tidy(service)
        outdated = [c for c in self.project.running(service) if c.image != image_id]
        for first in range(0, len(outdated), self.batch_size):
            batch = outdated[first:first + self.batch_size]
            fresh = self._create(service, len(batch))
            try:
                self._start(service, fresh)
                self._wait_until_serving(service, fresh)
            except OperationError:
                self.log(f"{service}: removing the new {_names(fresh)}")
                docker("rm", "--force", *[c.id for c in fresh])
                raise
            self.log(f"{service}: draining {_names(batch)}")
            docker("stop", "--time", str(self.stop_timeout_s), *[c.id for c in batch], timeout=self.stop_timeout_s + 60)
            docker("rm", *[c.id for c in batch])
        return len(outdated)

    def _tidy(self, service: str) -> None:
        """Remove the containers of `service` that serve nothing: stopped ones (compose counts them
        when it scales, so they would take a new replica's place) and running ones off `edge` where
        the service belongs on it (left by a deploy that was killed)."""
        edge = self.project.network(EDGE)
        on_edge = EDGE in self.project.config["services"][service].get("networks", {})
        idle = [c for c in self.project.containers(service)
                if c.state != "running" or (on_edge and edge not in c.networks)]
        if idle:
            self.log(f"{service}: removing {_names(idle)}, which serve nothing")
            docker("rm", "--force", *[c.id for c in idle])

    def _create(self, service: str, count: int) -> list[Container]:
        """Create `count` more containers of `service` from the image it names now (not started)."""
        before = {c.id for c in self.project.containers(service)}
        self.project.compose("create", "--no-recreate", "--scale", f"{service}={len(before) + count}", service)
        fresh = [c for c in self.project.containers(service) if c.id not in before]
        if len(fresh) != count:
            if fresh:
                docker("rm", "--force", *[c.id for c in fresh])
            raise OperationError(f"{service}: compose created {len(fresh)} containers instead of {count}")
        return fresh

    def _start(self, service: str, fresh: list[Container]) -> None:
        edge = self.project.network(EDGE)
        for container in fresh:
            if edge in container.networks:
                docker("network", "disconnect", edge, container.id)
            docker("start", container.id)
        self.log(f"{service}: started {_names(fresh)}")

    def _wait_until_serving(self, service: str, fresh: list[Container]) -> None:
        deadline = time.monotonic() + self.health_timeout_s
        self._wait(f"{service}: {_names(fresh)} healthy", deadline, lambda: self._healthy(fresh))
        edge = self.project.network(EDGE)
        hidden = [c for c in fresh if edge in c.networks]
        if not hidden:
            return
        self._wait(f"{service}: {_names(hidden)} ready", deadline, lambda: all(_ready(c) for c in hidden))
        for container in hidden:
            aliases = [arg for alias in container.networks[edge] for arg in ("--alias", alias)]
            docker("network", "connect", *aliases, edge, container.id)
        # nginx re-resolves every 5 s; waiting for its answer also proves the path works.
        self._wait(f"nginx answering from {_names(hidden)}", time.monotonic() + 30,
                   lambda: self._routed({c.hostname for c in hidden}))

    def _healthy(self, fresh: list[Container]) -> bool:
        current = [Container.from_inspect(data) for data in json.loads(docker("inspect", *[c.id for c in fresh]))]
        for container in current:
            if container.health == "unhealthy" or container.restarts or container.state not in ("running", "created"):
                raise OperationError(f"{container.name} is {container.health or container.state} (restarted "
                                     f"{container.restarts} times); its log: docker logs {container.id[:12]}")
        return all(c.health == "healthy" or (c.health == "" and c.state == "running") for c in current)

    def _routed(self, hostnames: set[str]) -> bool:
        """Ask nginx up to 4 times per replica; True once every one of `hostnames` has answered."""
        for _ in range(4 * len(self.project.running("app"))):
            try:
                with urllib.request.urlopen(f"{self.project.url}/healthz", timeout=5) as response:
                    hostnames.discard(response.headers["X-Served-By"])
            except (urllib.error.URLError, OSError):
                pass
            if not hostnames:
                return True
        return False

    def _wait(self, what: str, deadline: float, done: Callable[[], bool]) -> None:
        started = time.monotonic()
        while not done():
            if time.monotonic() > deadline:
                raise OperationError(f"{what}: not after {time.monotonic() - started:.0f} s")
            time.sleep(1)
        self.log(f"{what} ({time.monotonic() - started:.1f} s)")


def _ready(container: Container) -> bool:
    try:
        docker("exec", container.id, *READY_PROBE, timeout=10)
    except OperationError:
        return False
    return True


def _names(containers: list[Container]) -> str:
    return ", ".join(c.name for c in containers)
