"""`make bench-compose`: both scaling experiments against docker-compose.yml, scaled with
`docker compose up -d --scale app=N` and CPU per service read from `docker stats`."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from .compose_run import ComposeRun
from .meters import DockerStatsMeter
from .plan import ONE_PROCESS_ENV, Plan, io_env
from .report import Point
from .runners import Scenario, Target, io_scaling_scenario, measure


def run_compose_scaling(plan: Plan, out: Path) -> list[Point]:
    """Both scaling experiments against docker-compose.yml, in a project of its own that is removed after."""
    compose = ComposeRun(f"shortstack-bench-{uuid.uuid4().hex[:8]}", ONE_PROCESS_ENV)
    # The replicas are not reachable from the host to drain them one by one (as the local stack
    # does), so the warm-up's abandoned requests get a pause to finish instead.
    target = Target(compose.url, lambda: DockerStatsMeter(compose.project), lambda: time.sleep(3))
    experiments = [(n, Scenario("scaling-mixed", f"{n} replicas", "locustfile.py", plan.users, n), {})
                   for n in plan.replicas]
    experiments += [(n, io_scaling_scenario(n), io_env(plan.io_delay_ms)) for n in plan.io_replicas]
    points: list[Point] = []
    try:
        for n, scenario, extra_env in experiments:
            compose.scale(n, extra_env)
            if not points:
                print(f"compose project {compose.project} up at {target.url}; results in {out}", flush=True)
            points.append(measure(target, plan, out, scenario))
    finally:
        compose.down()
    return points

