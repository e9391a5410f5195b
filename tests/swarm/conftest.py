"""The Swarm suite's stack: the compose suite's engine and stand-in images, the images built once
as `docker compose build` tags them, swarm mode (started here, and left again, if it was off),
and one deployment of swarm/docker-stack.yml, always removed."""

from __future__ import annotations

import subprocess

import pytest
import requests
from stack import SwarmStack, docker
from test_swarm import NEXT_IMAGE

from tests.compose.project import ARTIFACTS, HERE
from tests.integration.support import wait_for


@pytest.fixture(scope="session")
def swarm() -> str:
    """This engine in swarm mode, its node labelled for the data services; returns the node id."""
    for script in (HERE / "engine.sh", HERE / "offline-images" / "build.sh"):
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.exit(f"{script.name} failed:\n{result.stdout}{result.stderr}", returncode=3)
    docker("compose", "build", timeout=900)
    started = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active"
    if started:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    node = docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    docker("node", "update", "--label-add", "shortstack.data=true", node)
    try:
        yield node
    finally:
        docker("rmi", NEXT_IMAGE, check=False)  # what the rolling update deployed
        docker("node", "update", "--label-rm", "shortstack.data", node, check=False)
        if started:
            docker("swarm", "leave", "--force", check=False)


@pytest.fixture(scope="session")
def stack(swarm: str) -> SwarmStack:
    """The stack deployed and serving through nginx from all three app tasks."""
    deployed = SwarmStack(env={"LINK_CREATE_RATE_LIMIT": "100000/minute"})
    try:
        deployed.deploy()

        def served_by_three() -> bool:
            seen = set()
            for _ in range(12):
                try:
                    response = requests.get(f"{deployed.url}/readyz", timeout=5)
                except requests.RequestException:
                    return False
                if response.status_code != 200:
                    return False
                seen.add(response.headers["X-Served-By"])
            return len(seen) == 3

        wait_for(served_by_three, 240, "nginx serving from 3 ready app tasks", interval=2)
        yield deployed
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{deployed.name}.log").write_text(deployed.logs())
        deployed.remove()
