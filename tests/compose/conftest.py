"""The compose suite's stack: engine and offline stand-ins made ready, then one project brought up
exactly as the README says (`docker compose up --build --wait`) and always removed with `down -v`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.compose.project import HERE, NAMESPACE, TELEGRAM_SECRET, TELEGRAM_TOKEN, ComposeProject, compose_projects


@pytest.fixture(scope="session", autouse=True)
def engine() -> Iterator[None]:
    """A Docker engine with Compose v2, and every registry image the project names (stand-ins
    where no registry is reachable). Every build of the session is named under NAMESPACE; what
    the session's deploys leave dangling is removed at the end."""
    os.environ["IMAGE_NAMESPACE"] = NAMESPACE
    for script in (HERE / "engine.sh", HERE / "offline-images" / "build.sh"):
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.exit(f"{script.name} failed:\n{result.stdout}{result.stderr}", returncode=3)
        print(result.stdout, end="")
    # A run that was killed (CI's time limit, a closed laptop) leaves its project behind, and
    # `restart: unless-stopped` would bring it back with the engine: remove it first.
    for stale in compose_projects("shortstack-test-") + compose_projects("shortstack-bench-"):
        subprocess.run(["docker", "compose", "-p", stale, "down", "-v", "--remove-orphans", "--timeout", "5"],
                       capture_output=True, timeout=300)
    yield
    subprocess.run(["docker", "image", "prune", "--force", "--filter", f"label=shortstack.namespace={NAMESPACE}"],
                   capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def project() -> ComposeProject:
    """The running stack (3 replicas, with the bot on against the fake Bot API)."""
    running = ComposeProject(env={
        # Every request of the suite comes from one address (Docker's proxy), and the journeys
        # together create more links a minute than the default per-client limit allows.
        "LINK_CREATE_RATE_LIMIT": "100000/minute",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": "http://fake-telegram:8081",
    })
    running.env["PUBLIC_BASE_URL"] = running.url  # the bot's replies carry links to this stack
    with running.running():
        yield running
