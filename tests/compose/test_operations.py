"""Day 2 on the compose stack, as an operator runs it from the checkout: make deploy under load, a
version that never gets healthy rolled back by itself, make rollback, and backups restored into a
fresh stack and into the same one. They share the project of test_journeys.py and run after it,
in file order."""

from __future__ import annotations

import collections
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from ops.deploy import git_version
from project import REPO
from tests.integration.support import wait_for
from usage import SteadyLoad, click_count, create

# Filled by the journeys for the ones after them.
versions: dict[str, str] = {}


def versions_served(project, requests_sent: int = 40) -> collections.Counter:
    """X-App-Version of `requests_sent` answers through nginx."""
    return collections.Counter(requests.get(f"{project.url}/readyz", timeout=10).headers["X-App-Version"]
                               for _ in range(requests_sent))


def cluster_versions(project) -> set[str]:
    """The versions /api/v1/cluster lists for the live replicas."""
    cluster = requests.get(f"{project.url}/api/v1/cluster", timeout=10).json()
    return {replica["version"] for replica in cluster["replicas"]}


def deploy_under_load(project, *make_args: str) -> tuple[subprocess.CompletedProcess, SteadyLoad, str]:
    """Run `make ARGS` while 6 clients follow one link as fast as they can and one creates links."""
    code = create(project, f"https://example.com/compose/{make_args[0]}")["code"]
    with SteadyLoad(project, code, getters=6) as load:
        result = project.make(*make_args)
    print(f"make {' '.join(make_args)} under load: {dict(load.ok)} answered, {len(load.failures)} failed\n"
          f"{result.stdout}{result.stderr}")
    return result, load, code


def assert_every_click_stored(project, code: str, load: SteadyLoad) -> None:
    assert wait_for(lambda: click_count(project, code) == load.ok["GET"], 30, f"{load.ok['GET']} stored clicks")


def test_1_make_deploy_under_load_fails_no_request_keeps_the_count_and_moves_every_replica(project):
    project.compose("up", "-d", "--scale", "app=4")  # a count of the user's: the deploy keeps it
    versions["before"] = next(iter(versions_served(project, 1)))
    replicas, workers = project.container_ids("app"), project.container_ids("worker")

    result, load, code = deploy_under_load(project, "deploy")

    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == []
    assert load.ok["GET"] > 200 and load.ok["POST"] >= 10, load.ok
    versions["deployed"] = git_version()
    assert versions["deployed"] != versions["before"]
    after = project.container_ids("app")
    assert len(after) == 4 and not after & replicas  # as many as before, every one new
    assert not project.container_ids("worker") & workers
    assert set(versions_served(project)) == {versions["deployed"]}
    # A drained replica's heartbeat lives 5 s.
    assert wait_for(lambda: cluster_versions(project) == {versions["deployed"]}, 15, "/cluster on the new version")
    assert_every_click_stored(project, code, load)


@pytest.fixture
def never_healthy(project):
    """A version tagged `broken` whose app answers every request, /healthz too, with 404: had nginx
    sent it one request of the load, that request would have failed."""
    namespace = os.environ["IMAGE_NAMESPACE"]
    images = [f"{namespace}/{name}:broken" for name in ("app", "worker", "nginx")]
    subprocess.run(["docker", "build", "-q", "-t", images[0], "-"], check=True, capture_output=True, timeout=300,
                   input=f'FROM {namespace}/app:latest\nCMD ["python", "-m", "http.server", "8000"]\n'.encode(),
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    for image in images[1:]:
        subprocess.run(["docker", "tag", image.replace(":broken", ":latest"), image], check=True, timeout=60)
    yield "broken"
    subprocess.run(["docker", "rmi", *images], capture_output=True, timeout=120)


def test_2_a_version_that_never_gets_healthy_is_rolled_back_by_itself_with_no_failed_request(project, never_healthy):
    replicas = project.container_ids("app")

    result, load, code = deploy_under_load(project, "deploy", f"VERSION={never_healthy}")

    assert result.returncode != 0 and "rolled back" in result.stderr, result.stdout + result.stderr
    assert load.failures == []
    assert load.ok["GET"] > 200, load.ok
    assert project.container_ids("app") == replicas  # the old replicas kept serving; the new ones are gone
    assert set(versions_served(project)) == {versions["deployed"]}
    assert_every_click_stored(project, code, load)


def test_3_make_rollback_under_load_puts_the_previous_version_back_the_same_way(project):
    replicas = project.container_ids("app")

    result, load, code = deploy_under_load(project, "rollback")

    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == []
    assert load.ok["GET"] > 200 and load.ok["POST"] >= 10, load.ok
    after = project.container_ids("app")
    assert len(after) == 4 and not after & replicas
    assert set(versions_served(project)) == {versions["before"]}
    assert_every_click_stored(project, code, load)


def table_rows(project) -> dict[str, str]:
    """Every row of every table, as PostgreSQL prints it, in a fixed order."""
    def psql(sql: str) -> str:
        return project.compose("exec", "-T", "postgres", "sh", "-c",
                               f'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Atc "{sql}"').stdout
    tables = psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").split()
    assert {"links", "clicks", "api_keys"} <= set(tables), tables
    return {table: psql(f"COPY (SELECT * FROM {table} ORDER BY {table}::text) TO STDOUT") for table in tables}


def make_backup(project) -> Path:
    result = project.make("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    path = REPO / re.search(r"backup: (backups/\S+\.dump)", result.stdout)[1]
    assert path.stat().st_size > 0
    return path


def make_restore(project, path: Path) -> None:
    result = project.make("restore", f"FILE={path}")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr


def test_4_backup_down_v_up_restore_brings_every_link_click_key_and_owner_back_byte_for_byte(project):
    created = project.compose("run", "--rm", "-T", "migrate", "python", "-m", "shortstack.admin", "create-key",
                              "backup journey").stdout
    key = created.split()[-1]
    owned = requests.post(f"{project.url}/api/v1/links", json={"url": "https://example.com/compose/owned"},
                          headers={"X-Api-Key": key}, timeout=10).json()["code"]
    for _ in range(5):
        assert requests.get(f"{project.url}/{owned}", allow_redirects=False, timeout=10).status_code == 302
    link = f"{project.url}/api/v1/links/{owned}"
    assert wait_for(lambda: requests.get(link, headers={"X-Api-Key": key}, timeout=10).json()["click_count"] == 5,
                    30, "5 stored clicks")
    before = table_rows(project)
    path = make_backup(project)
    try:
        project.compose("down", "-v", timeout=300)
        project.compose("up", "-d", "--wait", timeout=600)
        assert requests.get(f"{project.url}/{owned}", allow_redirects=False, timeout=10).status_code == 404

        make_restore(project, path)

        assert table_rows(project) == before
        assert requests.get(f"{project.url}/{owned}", allow_redirects=False, timeout=10).status_code == 302
        assert requests.get(link, headers={"X-Api-Key": key}, timeout=10).json()["click_count"] == 5
        assert requests.get(link, timeout=10).status_code == 403  # still the key's own link
    finally:
        path.unlink()


def test_5_a_restore_into_the_same_stack_stores_the_clicks_the_dump_lacks_exactly_once(project):
    code = create(project, "https://example.com/compose/queued-at-backup")["code"]
    project.compose("stop", "worker")
    try:
        for _ in range(20):  # queued in Redis: not in the dump
            assert requests.get(f"{project.url}/{code}", allow_redirects=False, timeout=10).status_code == 302
        path = make_backup(project)
    finally:
        project.compose("start", "worker")
    try:
        assert wait_for(lambda: click_count(project, code) == 20, 30, "20 stored clicks")

        make_restore(project, path)  # back to a database without those 20 clicks

        assert wait_for(lambda: click_count(project, code) == 20, 30, "the 20 clicks stored again")
        clicks = project.compose("exec", "-T", "postgres", "sh", "-c",
                                 f'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Atc '
                                 f'"SELECT count(*) FROM clicks WHERE code = \'{code}\'"').stdout
        assert int(clicks) == 20
    finally:
        path.unlink()
