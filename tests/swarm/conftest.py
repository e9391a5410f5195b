"""The Swarm suite's stack: the compose suite's engine and stand-in images, the images built once
as `docker compose build` tags them, a swarm of three nodes (this engine as the manager, two
engines in network namespaces of their own as workers; see nodes.py), and one deployment of
swarm/docker-stack.yml. All of it is removed at the end."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.compose.project import ARTIFACTS, HERE
from tests.integration.support import wait_for
from tests.swarm.nodes import HOST_ADDRESS, Nodes
from tests.swarm.swarm_stack import DISPATCHER_HEARTBEAT_S, NAMESPACE, NEXT_IMAGE, STACK_PREFIX, SwarmStack, docker

IMAGES = [f"{NAMESPACE}/{name}:latest" for name in ("app", "worker", "nginx", "locust")]


def remove_leftovers() -> None:
    """What a run of this suite killed midway left: the swarm, the worker engines, the volumes.

    The swarm is recognised as the suite's by its address, the suite's own bridge address, which
    `docker swarm init` itself sets (so even a run killed right after it is recognised). Any other
    swarm is someone else's: the run stops with a readable message and leaves it alone."""
    state, _, address = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeAddr}}").stdout.strip() \
        .partition(" ")
    if state != "inactive":
        if address != HOST_ADDRESS:
            pytest.exit(f"this engine is already in a swarm (state {state}, address {address or 'none'}) that this "
                        "suite did not make; the suite makes a swarm of its own on an engine in no swarm: leave that "
                        "one (docker swarm leave --force) or point DOCKER_HOST at another engine", returncode=3)
        print(f"\nleaving the swarm an interrupted run left (address {address})")
        docker("swarm", "leave", "--force")  # also removes its tasks' containers here
    for leftover in Nodes.leftovers():
        print(f"removing the worker engines an interrupted run left (tag {leftover.tag})")
        leftover.remove()
    volumes = docker("volume", "ls", "-q", "--filter", "label=com.docker.stack.namespace").stdout.split()
    for volume in volumes:
        if volume.startswith(STACK_PREFIX):
            docker("volume", "rm", volume, check=False)


@pytest.fixture(scope="session")
def swarm() -> Nodes:
    """A swarm of this engine (manager; labelled for the data services and nginx) and two workers."""
    for script in (HERE / "engine.sh", HERE / "offline-images" / "build.sh"):
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.exit(f"{script.name} failed:\n{result.stdout}{result.stderr}", returncode=3)
    docker("compose", "build", timeout=900)
    remove_leftovers()
    workers = Nodes(count=2)
    try:
        workers.start()
        docker("swarm", "init", "--advertise-addr", HOST_ADDRESS,
               "--dispatcher-heartbeat", f"{DISPATCHER_HEARTBEAT_S}s")
        token = docker("swarm", "join-token", "-q", "worker").stdout.strip()
        for node in workers.nodes:
            node.docker("swarm", "join", "--token", token, f"{HOST_ADDRESS}:2377")
        manager = docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        docker("node", "update", "--label-add", "shortstack.data=true", "--label-add", "shortstack.edge=true", manager)
        workers.load_images(IMAGES)
        yield workers
    finally:
        docker("rmi", NEXT_IMAGE, check=False)  # what the rolling update deployed
        docker("swarm", "leave", "--force", check=False)
        workers.remove()


@pytest.fixture(scope="session")
def swarm_stack(swarm: Nodes) -> SwarmStack:
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

        def converged() -> bool:
            replicas = deployed.replicas()
            done = [t for t in deployed.tasks("migrate") if t["CurrentState"].startswith("Complete")]
            return bool(done) and all(running == wanted for running, wanted in
                                      (r.split("/") for name, r in replicas.items() if name != "migrate"))

        # Swarm has no start order: the migration may finish after the app is up.
        wait_for(converged, 300, "every service running and the migration done", interval=2)
        wait_for(served_by_three, 120, "nginx serving from 3 ready app tasks", interval=2)
        yield deployed
    finally:
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"{deployed.name}.log").write_text(deployed.logs())
        finally:
            deployed.remove()
