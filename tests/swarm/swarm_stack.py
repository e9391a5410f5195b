"""One disposable deployment of swarm/docker-stack.yml on this engine, driven as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field

from local_stack.processes import free_port
from tests.compose.project import REPO

# The suite's own images (IMAGE_NAMESPACE): building them never retags a user's.
NAMESPACE = "shortstack-swarm-test"
# What the rolling-update journey deploys over the stack; the suite removes it at the end.
NEXT_IMAGE = f"{NAMESPACE}/app:swarm-test-next"
# The swarm's heartbeat period (docker swarm init --dispatcher-heartbeat; Docker's default is 5 s).
DISPATCHER_HEARTBEAT_S = 3
STACK_PREFIX = "sstest"  # every stack the suite deploys is named so, and so are its volumes


def docker(*args: str, timeout: float = 300, check: bool = True, input_text: str | None = None,
           **env: str) -> subprocess.CompletedProcess:
    """Run `docker ARGS` from the repository root; fails with docker's own words."""
    result = subprocess.run(["docker", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                            input=input_text, env={**os.environ, "DOCKER_BUILDKIT": "0", "IMAGE_NAMESPACE": NAMESPACE,
                                                     **env})
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@dataclass
class SwarmStack:
    """`docker stack deploy` under a unique stack name and a free host port."""

    env: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"{STACK_PREFIX}{uuid.uuid4().hex[:6]}")
    http_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def deploy(self) -> None:
        docker("stack", "deploy", "-c", "swarm/docker-stack.yml", self.name,
               HTTP_PORT=str(self.http_port), **self.env)

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def tasks(self, service: str) -> list[dict]:
        """The service's tasks (desired and current state, node, error), newest first."""
        out = docker("service", "ps", self.service(service), "--no-trunc", "--format", "{{json .}}").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def task_nodes(self, service: str) -> list[str]:
        """The node id of each of the service's running tasks."""
        ids = [t["ID"] for t in self.tasks(service) if t["DesiredState"] == "Running" and
               t["CurrentState"].startswith("Running")]
        return docker("inspect", "--format", "{{.NodeID}}", *ids).stdout.split() if ids else []

    def replicas(self) -> dict[str, str]:
        """"running/desired" per service, as `docker service ls` shows it."""
        out = docker("service", "ls", "--filter", f"label=com.docker.stack.namespace={self.name}",
                     "--format", "{{.Name}} {{.Replicas}}").stdout
        return {line.split()[0].removeprefix(f"{self.name}_"): line.split()[1] for line in out.splitlines()}

    def inspect(self, service: str) -> dict:
        return json.loads(docker("service", "inspect", self.service(service)).stdout)[0]

    def logs(self) -> str:
        """Every service's logs, for the artifacts; never raises. A service with tasks on a node
        that is gone (test_6) can keep `docker service logs` waiting for them: what came within
        60 s is kept, with a note."""
        parts = []
        for service in self.replicas():
            try:
                parts.append(docker("service", "logs", "--timestamps", self.service(service), check=False,
                                    timeout=60).stdout)
            except subprocess.TimeoutExpired as exc:
                partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
                parts.append(f"{partial}\n[{service}: docker service logs gave no more within 60 s]\n")
        return "".join(parts)

    def remove(self) -> None:
        """The stack, then its volumes once no container holds them."""
        docker("stack", "rm", self.name, check=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and docker("ps", "-aq", "--filter",
                                                     f"label=com.docker.stack.namespace={self.name}").stdout.strip():
            time.sleep(1)
        for volume in ("pgdata", "redisdata"):
            docker("volume", "rm", f"{self.name}_{volume}", check=False)
        while time.monotonic() < deadline and docker("network", "ls", "-q", "--filter",
                                                     f"label=com.docker.stack.namespace={self.name}").stdout.strip():
            time.sleep(1)
