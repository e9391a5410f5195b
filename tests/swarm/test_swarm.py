"""swarm/docker-stack.yml on a real swarm of three engines: the deploy converges, a rolling update
of the app under steady load fails nothing and loses no click, a failing update rolls back, the
app spreads over the nodes, and draining a node or losing one outright fails no request."""

from __future__ import annotations

import collections
import json
import time

from tests.compose.usage import click_count
from tests.integration.support import SteadyLoad, create_link, wait_for
from tests.swarm.swarm_stack import NAMESPACE, NEXT_IMAGE, docker


def under_load(swarm_stack, code: str) -> tuple[SteadyLoad, SteadyLoad]:
    """Redirects back to back from 4 threads, and new links from one, until the block ends."""
    gets = SteadyLoad(lambda s, i: s.get(f"{swarm_stack.url}/{code}", allow_redirects=False, timeout=30), limit_s=300)
    posts = SteadyLoad(lambda s, i: s.post(f"{swarm_stack.url}/api/v1/links", json={"url": f"https://example.com/{i}"},
                                           timeout=30), threads=1, limit_s=300, pause_s=0.05)
    return gets, posts


def assert_nothing_failed_and_every_click_stored(swarm_stack, code: str, gets: SteadyLoad, posts: SteadyLoad) -> None:
    made = sum(o.status == 302 for o in gets.outcomes)
    served_by = dict(collections.Counter(o.served_by for o in gets.outcomes))
    print(f"\n{len(gets.outcomes)} GETs ({len(gets.failed({302}))} failed), {len(posts.outcomes)} POSTs "
          f"({len(posts.failed({201}))} failed), served by {served_by}")
    assert gets.failed({302}) == [], gets.failed({302})[:3]
    assert posts.failed({201}) == [], posts.failed({201})[:3]
    wait_for(lambda: click_count(swarm_stack, code) == made, 60, f"{made} clicks stored")


def test_1_the_deploy_converges_and_migrates_once(swarm_stack):
    replicas = swarm_stack.replicas()
    assert replicas.pop("migrate") == "0/1"  # ran, exited 0, not restarted
    assert replicas == {"nginx": "1/1", "app": "3/3", "worker": "1/1", "bot-worker": "1/1", "postgres": "1/1",
                        "redis": "1/1", "locust": "1/1", "locust-worker": "2/2"}
    [migrate] = swarm_stack.tasks("migrate")
    assert migrate["CurrentState"].startswith("Complete"), migrate


def test_2_a_rolling_update_under_load_fails_no_request_and_loses_no_click(swarm_stack, swarm):
    docker("build", "-q", "-t", NEXT_IMAGE, "-", input_text=f"FROM {NAMESPACE}/app:latest\nLABEL next={time.time()}\n")
    swarm.load_images([NEXT_IMAGE])  # every node can run it, as if pulled from a registry
    code = create_link(swarm_stack, url="https://example.com/swarm/rolling")["code"]
    before = {t["Name"]: t["ID"] for t in swarm_stack.tasks("app") if t["DesiredState"] == "Running"}
    gets, posts = under_load(swarm_stack, code)
    with gets, posts:
        time.sleep(3)
        started = time.monotonic()
        docker("service", "update", "--image", NEXT_IMAGE, "--detach=false", swarm_stack.service("app"), timeout=400)
        took = time.monotonic() - started
        time.sleep(3)
    print(f"update of 3 tasks, one at a time, start-first: {took:.0f} s")
    after = {t["Name"]: t["ID"] for t in swarm_stack.tasks("app") if t["DesiredState"] == "Running"}
    assert len(after) == 3 and not set(after.values()) & set(before.values())  # every task replaced
    assert swarm_stack.inspect("app")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].startswith(NEXT_IMAGE)
    assert_nothing_failed_and_every_click_stored(swarm_stack, code, gets, posts)


def test_3_an_update_whose_tasks_never_get_healthy_rolls_back_by_itself(swarm_stack):
    code = create_link(swarm_stack, url="https://example.com/swarm/rollback")["code"]
    image_before = swarm_stack.inspect("app")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    gets, posts = under_load(swarm_stack, code)
    with gets, posts:
        # A database nobody answers: the new task's /readyz never passes, so it never gets healthy.
        docker("service", "update", "--env-add", "DATABASE_URL=postgresql://nobody@127.0.0.1:1/none",
               "--detach=false", swarm_stack.service("app"), timeout=400, check=False)
        wait_for(lambda: swarm_stack.inspect("app").get("UpdateStatus", {}).get("State") == "rollback_completed", 180,
                 "the automatic rollback")
        time.sleep(3)
    spec = swarm_stack.inspect("app")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Image"] == image_before
    assert not any(var.startswith("DATABASE_URL=postgresql://nobody") for var in spec["Env"])
    assert_nothing_failed_and_every_click_stored(swarm_stack, code, gets, posts)


def test_4_scaled_to_6_the_app_runs_on_all_three_nodes(swarm_stack, swarm):
    docker("service", "scale", f"{swarm_stack.service('app')}=6", "--detach=false", timeout=300)
    nodes = collections.Counter(swarm_stack.task_nodes("app"))
    print(f"\napp tasks per node: {sorted(nodes.values())}")
    assert len(nodes) == 3 and sum(nodes.values()) == 6, nodes


def test_4b_locust_workers_on_several_nodes_report_to_the_master(swarm_stack, swarm):
    docker("service", "scale", f"{swarm_stack.service('locust-worker')}=3", "--detach=false", timeout=300)
    assert len(set(swarm_stack.task_nodes("locust-worker"))) >= 2
    [master] = [t for t in swarm_stack.tasks("locust") if t["DesiredState"] == "Running"]
    task = json.loads(docker("inspect", master["ID"]).stdout)[0]
    engine = next((n.docker for n in swarm.nodes if n.node_id() == task["NodeID"]), docker)
    ask = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8089/worker-count').read().decode())"

    def workers() -> int:
        answer = engine("exec", task["Status"]["ContainerStatus"]["ContainerID"], "python", "-c", ask, check=False)
        return json.loads(answer.stdout)["worker_count"] if answer.returncode == 0 else -1

    wait_for(lambda: workers() == 3, 60, "the dashboard's master to count 3 workers", interval=2)


def test_5_draining_a_node_under_load_fails_nothing_and_loses_no_click(swarm_stack, swarm):
    node = swarm.nodes[0].node_id()
    code = create_link(swarm_stack, url="https://example.com/swarm/drain")["code"]
    gets, posts = under_load(swarm_stack, code)
    with gets, posts:
        time.sleep(3)
        docker("node", "update", "--availability", "drain", node)
        wait_for(lambda: node not in swarm_stack.task_nodes("app") and swarm_stack.replicas()["app"] == "6/6", 120,
                 "the app's tasks to leave the drained node")
        time.sleep(3)
    docker("node", "update", "--availability", "active", node)
    assert_nothing_failed_and_every_click_stored(swarm_stack, code, gets, posts)


def test_6_a_node_lost_outright_under_load_fails_no_get_and_loses_no_click(swarm_stack, swarm):
    lost = swarm.nodes[1]
    node = lost.node_id()
    assert node in swarm_stack.task_nodes("app"), "the node to lose runs no app task"
    code = create_link(swarm_stack, url="https://example.com/swarm/lost")["code"]
    gets, posts = under_load(swarm_stack, code)
    with gets, posts:
        time.sleep(3)
        lost.kill()
        started = time.monotonic()
        # Reported, not asserted: how soon Swarm replaces the tasks depends on when it declares
        # the node down (13 to 74 s in runs here, once not within 240 s); what users see is below.
        while time.monotonic() - started < 240:
            if node not in swarm_stack.task_nodes("app") and swarm_stack.replicas()["app"] == "6/6":
                print(f"\nnode lost: the app was 6/6 on the other nodes {time.monotonic() - started:.0f} s later")
                break
            time.sleep(1)
        else:
            print("\nnode lost: the app was not 6/6 on the other nodes within 240 s")
        time.sleep(3)
    # A POST in flight on the lost node may fail (an error, never a 5xx from a replica); GETs never.
    created = [o for o in posts.outcomes if o.status == 201]
    print(f"{len(gets.outcomes)} GETs ({len(gets.failed({302}))} failed); POSTs: {len(created)} created, "
          f"{len(posts.failed({201}))} failed with the node")
    assert gets.failed({302}) == [], gets.failed({302})[:3]
    assert all(o.status is None for o in posts.failed({201})), posts.failed({201})[:3]
    made = sum(o.status == 302 for o in gets.outcomes)
    wait_for(lambda: click_count(swarm_stack, code) == made, 60, f"{made} clicks stored")
