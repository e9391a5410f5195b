"""The README's promises, each run for real against docker-compose.yml on a Docker engine.

The tests share one project (see conftest.py) and run in file order, as a user's session would:
up, use, scale up, scale down under load, load test, read the logs, talk to the bot, restart.
"""

from __future__ import annotations

import collections
import re
import time

import requests

from tests.compose.project import ARTIFACTS, TELEGRAM_SECRET
from tests.compose.usage import RedirectsAndCreates, click_count
from tests.integration.fake_telegram import message_update
from tests.integration.support import SteadyLoad, create_link, wait_for

LONG_RUNNING = {"nginx", "app", "worker", "bot-worker", "postgres", "redis", "locust", "locust-worker",
                "fake-telegram"}
FOLLOWS = 60
# Shared with later journeys: the link of journey 2 and its clicks must survive `down` + `up`.
remembered: dict[str, object] = {}


def served_by(project, code: str, times: int) -> collections.Counter:
    """Follow `code` `times` times; count the replicas that answered (each must redirect)."""
    seen = collections.Counter()
    for _ in range(times):
        response = requests.get(f"{project.url}/{code}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        seen[response.headers["X-Served-By"]] += 1
    return seen


def test_1_up_build_wait_starts_every_service_healthy_and_migrates_once(project):
    containers = project.containers()
    by_service = collections.defaultdict(list)
    for container in containers:
        by_service[container["Service"]].append(container)
    assert set(by_service) == LONG_RUNNING | {"migrate", "certs"}
    for name in LONG_RUNNING:
        for container in by_service[name]:
            assert container["State"] == "running", container
            # Services without a healthcheck (the Locust worker, the fake) report no health.
            assert container["Health"] in ("healthy", ""), container
    assert len(by_service["app"]) == 3
    for one_shot in ("migrate", "certs"):
        [job] = by_service[one_shot]
        assert (job["State"], job["ExitCode"]) == ("exited", 0), one_shot
    assert requests.get(f"{project.url}/readyz", timeout=10).status_code == 200


def test_1b_no_service_runs_as_root(project):
    # The fake Bot API is this suite's own; everything else is what a user runs.
    for service in sorted(LONG_RUNNING - {"fake-telegram"}):
        status = project.compose("exec", "-T", service, "cat", "/proc/1/status").stdout
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)[1]
        assert uid != "0", f"{service}'s main process runs as root"


def test_2_a_link_followed_60_times_is_served_by_all_3_replicas_and_counted_60_times(project):
    link = create_link(project, url="https://example.com/compose/journey")
    assert link["short_url"] == f"{project.url}/{link['code']}"  # PUBLIC_BASE_URL
    seen = served_by(project, link["code"], FOLLOWS)
    assert set(seen) == project.container_ids("app"), seen
    assert wait_for(lambda: click_count(project, link["code"]) == FOLLOWS, 15, f"{FOLLOWS} stored clicks")
    remembered.update(code=link["code"], clicks=FOLLOWS)


def test_2b_nginx_refuses_hosts_other_than_public_base_url(project):
    refused = requests.get(f"{project.url}/", headers={"Host": "evil.example"}, timeout=10)
    assert refused.status_code == 421 and "X-Served-By" not in refused.headers
    assert requests.get(f"{project.url}/", timeout=10).status_code == 200


def test_3_scaling_to_5_replicas_reaches_nginx_without_restarting_it(project):
    [nginx_before] = project.containers("nginx")
    started_before = project.inspect(nginx_before["ID"])["State"]["StartedAt"]
    code = create_link(project, url="https://example.com/compose/scale-up")["code"]

    project.compose("up", "-d", "--scale", "app=5")
    replicas = project.container_ids("app")
    assert len(replicas) == 5
    # nginx re-resolves `app` every 5 s; give it 15 s to send requests to all five.
    wait_for(lambda: set(served_by(project, code, 20)) == replicas, 15, "requests on all 5 replicas", interval=0.5)

    [nginx_after] = project.containers("nginx")
    assert nginx_after["ID"] == nginx_before["ID"]
    assert project.inspect(nginx_after["ID"])["State"]["StartedAt"] == started_before


def test_4_scaling_down_5_to_2_under_load_fails_no_request(project):
    code = create_link(project, url="https://example.com/compose/scale-down")["code"]
    with RedirectsAndCreates(project, code) as load:
        time.sleep(2)
        project.compose("up", "-d", "--scale", "app=2")
        time.sleep(8)  # past nginx's next re-resolve: the stopped replicas are out of its list
    print(f"scale-down 5 → 2 under load: {dict(load.ok)} answered, {len(load.failures)} failed")
    assert len(project.container_ids("app")) == 2
    assert load.ok["GET"] > 100 and load.ok["POST"] >= 10, load.ok
    assert load.failures == []


def locust_stats(project) -> dict:
    return requests.get(f"{project.locust_url}/stats/requests", timeout=10).json()


def test_5_a_locust_run_started_from_the_dashboard_makes_traffic_at_once_and_fails_nothing(project):
    assert "Locust" in requests.get(project.locust_url, timeout=10).text
    # The dashboard's form, as a person fills it in: three scenarios, 20 users, the rest as offered.
    form = {"user_count": 20, "spawn_rate": 1, "host": "http://nginx:8080",
            "user_classes": ["Visitor", "Creator", "Analyst"]}
    started = requests.post(f"{project.locust_url}/swarm", data=form, timeout=10).json()
    assert started["success"], started
    try:
        wait_for(lambda: locust_stats(project)["total_rps"] > 0, 15, "Locust traffic", interval=0.5)
        time.sleep(15)
        stats = locust_stats(project)
    finally:
        requests.get(f"{project.locust_url}/stop", timeout=10)
    by_name = {row["name"]: row for row in stats["stats"]}
    assert by_name["/[code]"]["num_requests"] > 100, by_name
    assert by_name["/api/v1/links"]["num_requests"] >= 1, by_name  # the Creator is not held back
    assert by_name["/api/v1/links/[code]"]["num_requests"] >= 1, by_name
    assert stats["errors"] == [] and by_name["Aggregated"]["num_failures"] == 0, stats["errors"]
    assert stats["workers"] and all(worker["state"] != "missing" for worker in stats["workers"])


def test_6_the_telegram_webhook_through_nginx_gets_exactly_one_reply(project):
    user = 7001
    update = message_update(90001, "shorten https://example.com/from-compose-telegram", user,
                            links=("https://example.com/from-compose-telegram",))
    response = requests.post(f"{project.url}/telegram/webhook", json=update, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert response.status_code == 200, response.text

    def replies() -> list[str]:
        sent = requests.get(f"{project.fake_telegram_url}/sent", timeout=10).json()["result"]
        return [m["text"] for m in sent if int(m["chat_id"]) == user]

    [reply] = wait_for(replies, 20, "the bot's reply")
    short_url = reply.split()[0]
    assert short_url.startswith(f"{project.url}/")
    code = short_url.rsplit("/", 1)[1]
    target = requests.get(f"{project.url}/{code}", allow_redirects=False, timeout=10).headers["Location"]
    assert target == "https://example.com/from-compose-telegram"
    time.sleep(2)
    assert len(replies()) == 1


def test_6b_one_request_is_followed_by_its_id_through_nginx_app_and_worker_logs(project):
    followed = requests.get(f"{project.url}/{remembered['code']}", allow_redirects=False, timeout=10)
    assert followed.status_code == 302
    remembered["clicks"] += 1  # test_8 counts it after a restart
    request_id = followed.headers["X-Request-ID"]  # minted by nginx

    def services_logging_it() -> set[str]:
        return {service for service in ("nginx", "app", "worker")
                if request_id in project.compose("logs", "--no-color", "--no-log-prefix", service).stdout}

    assert wait_for(lambda: services_logging_it() == {"nginx", "app", "worker"}, 20,
                    "the request id on nginx, app and worker lines", interval=1)


def test_7_the_logs_hold_no_traceback_and_nothing_repeats_while_idle(project):
    assert "Traceback" not in project.logs()
    time.sleep(12)  # the stack idles: heartbeats, blocking reads, healthchecks
    idle = project.compose("logs", "--no-color", "--since", "10s").stdout.splitlines()
    # nginx's JSON access log of the healthchecks is expected; anything that warns is not.
    noisy = [line for line in idle if re.search(r"warn|error|exception|retrying", line, re.IGNORECASE)]
    assert noisy == []
    errors = [line for line in project.compose("logs", "--no-color", "postgres").stdout.splitlines()
              if "ERROR:" in line and "yoyo_tmp_" not in line and "yoyo_lock" not in line]
    assert errors == []


def test_7b_redis_stopped_under_load_redirects_keep_their_pace_and_no_click_is_lost(project):
    # Where Docker's DNS is in the path: a stopped container's name goes on to the host's resolver,
    # which may take seconds to say no. A replica must not pay that per request (its breaker).
    code = create_link(project, url="https://example.com/compose/no-redis")["code"]

    def redirect(session: requests.Session, seq: int) -> requests.Response:
        return session.get(f"{project.url}/{code}", allow_redirects=False, timeout=15)

    with SteadyLoad(redirect, threads=4) as before:
        time.sleep(5)
    project.compose("stop", "redis")
    try:
        with SteadyLoad(redirect, threads=4) as during:
            time.sleep(15)
    finally:
        project.compose("start", "redis")
    wait_for(lambda: requests.get(f"{project.url}/readyz", timeout=10).status_code == 200, 60, "ready again")
    made = sum(o.status == 302 for o in before.outcomes + during.outcomes)
    ratio = (len(during.outcomes) / 15) / (len(before.outcomes) / 5)
    slowest = max(o.seconds for o in during.outcomes)
    print(f"Redis stopped: {len(before.outcomes)} redirects in 5 s before, {len(during.outcomes)} in 15 s during "
          f"(rate ratio {ratio:.2f}, slowest {slowest * 1000:.0f} ms)")
    assert before.failed({302}) == [] and during.failed({302}) == [], during.failed({302})[:3]
    # Loose bounds, as timings are noisy here (the figures go to docs/operations.md): without the
    # breaker each redirect waited on DNS, 5 to 15 s, and 43 completed in 15 s instead of ~3 200.
    assert ratio >= 0.25 and slowest < 5, (ratio, slowest)
    assert wait_for(lambda: click_count(project, code) == made, 60, f"{made} stored clicks")


def test_8_down_and_up_again_keeps_links_and_clicks(project):
    project.save_logs(ARTIFACTS)
    project.compose("down", timeout=300)
    assert project.containers() == []
    project.compose("up", "-d", "--wait", timeout=600)
    response = requests.get(f"{project.url}/api/v1/links/{remembered['code']}", timeout=10)
    assert response.status_code == 200
    assert response.json()["click_count"] == remembered["clicks"]
    assert requests.get(f"{project.url}/{remembered['code']}", allow_redirects=False, timeout=10).status_code == 302
