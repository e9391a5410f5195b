"""Day 2 on the compose stack, as an operator runs it from the checkout: make deploy under load, a
version that never gets healthy rolled back by itself, make rollback, and backups restored into a
fresh stack and into the same one. They share the project of test_journeys.py and run after it,
in file order."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from ops.deploy import git_version
from tests.compose.usage import RedirectsAndCreates, click_count
from tests.integration.support import create_link, wait_for

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


def deploy_under_load(project, *make_args: str) -> tuple[subprocess.CompletedProcess, RedirectsAndCreates, str]:
    """Run `make ARGS` while 6 clients follow one link as fast as they can and one creates links."""
    code = create_link(project, url=f"https://example.com/compose/{make_args[0]}")["code"]
    with RedirectsAndCreates(project, code, getters=6) as load:
        result = project.make(*make_args)
    print(f"make {' '.join(make_args)} under load: {dict(load.ok)} answered, {len(load.failures)} failed\n"
          f"{result.stdout}{result.stderr}")
    return result, load, code


def assert_a_plain_up_recreates_nothing(project) -> None:
    """The user's next `docker compose up -d --scale app=N` leaves every container as it is."""
    services = ("app", "worker", "nginx", "migrate", "certs")
    before = {service: {c["ID"] for c in project.containers(service)} for service in services}
    project.compose("up", "-d", "--scale", f"app={len(before['app'])}")
    assert {service: {c["ID"] for c in project.containers(service)} for service in services} == before


def assert_every_click_stored(project, code: str, load: RedirectsAndCreates) -> None:
    assert wait_for(lambda: click_count(project, code) == load.ok["GET"], 30, f"{load.ok['GET']} stored clicks")


def test_1_make_deploy_under_load_fails_no_request_keeps_the_count_and_moves_every_replica(project):
    # A count of the user's, which the deploy keeps; and a replica someone stopped, which must not
    # take a new replica's place when compose counts the containers.
    project.compose("up", "-d", "--scale", "app=5")
    subprocess.run(["docker", "stop", "--time", "5", min(project.container_ids("app"))], check=True, timeout=60)
    time.sleep(6)  # nginx's next DNS answer: the stopped replica is out of its list (see test_4 of the journeys)
    versions["before"] = next(iter(versions_served(project, 1)))
    replicas, workers = project.container_ids("app"), project.container_ids("worker")

    result, load, code = deploy_under_load(project, "deploy")

    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == []
    assert load.ok["GET"] > 200 and load.ok["POST"] >= 10, load.ok
    versions["deployed"] = git_version()
    assert versions["deployed"] != versions["before"]
    after = project.container_ids("app")
    assert len(after) == 4 and not after & replicas  # as many as were serving, every one new
    assert {c["State"] for c in project.containers("app")} == {"running"}  # the stopped one is gone
    assert not project.container_ids("worker") & workers
    assert set(versions_served(project)) == {versions["deployed"]}
    # A drained replica's heartbeat lives 5 s.
    assert wait_for(lambda: cluster_versions(project) == {versions["deployed"]}, 15, "/cluster on the new version")
    assert_every_click_stored(project, code, load)
    assert_a_plain_up_recreates_nothing(project)


@pytest.fixture
def built_version():
    """Tag a version whose app image is the current one plus some Dockerfile lines (worker and
    nginx unchanged); its images are removed afterwards."""
    namespace = os.environ["IMAGE_NAMESPACE"]
    tags = []

    def build(tag: str, app_lines: str) -> str:
        images = [f"{namespace}/{name}:{tag}" for name in ("app", "worker", "nginx")]
        subprocess.run(["docker", "build", "-q", "-t", images[0], "-"], check=True, capture_output=True, timeout=300,
                       input=f"FROM {namespace}/app:latest\n{app_lines}\n".encode(),
                       env={**os.environ, "DOCKER_BUILDKIT": "0"})
        for image in images[1:]:
            subprocess.run(["docker", "tag", image.replace(f":{tag}", ":latest"), image], check=True, timeout=60)
        tags.extend(images)
        return tag

    yield build
    subprocess.run(["docker", "rmi", *tags], capture_output=True, timeout=120)


def test_2_a_version_that_never_gets_healthy_is_rolled_back_by_itself_with_no_failed_request(project, built_version):
    # Its app answers every request, /healthz too, with 404: had nginx sent it one request of
    # the load, that request would have failed.
    broken = built_version("broken", 'CMD ["python", "-m", "http.server", "8000"]')
    replicas = project.container_ids("app")

    result, load, code = deploy_under_load(project, "deploy", f"VERSION={broken}")

    assert result.returncode != 0 and "rolled back" in result.stderr, result.stdout + result.stderr
    assert load.failures == []
    assert load.ok["GET"] > 200, load.ok
    assert project.container_ids("app") == replicas  # the old replicas kept serving; the new ones are gone
    assert set(versions_served(project)) == {versions["deployed"]}
    assert_every_click_stored(project, code, load)


def test_2b_a_migration_dropping_what_the_running_version_uses_stops_the_deploy_before_any_change(
        project, built_version):
    contract = built_version("contract", "USER 0\nRUN echo 'ALTER TABLE links DROP COLUMN url;' > "
                                         "/srv/app/shortstack/migrations/0099_drop_url.sql\nUSER 10001")
    replicas = project.container_ids("app")

    result = project.make("deploy", f"VERSION={contract}")

    assert result.returncode != 0
    assert "0099_drop_url drops column links.url, which the running version still uses" in result.stderr, result.stderr
    assert project.container_ids("app") == replicas
    assert set(versions_served(project)) == {versions["deployed"]}
    columns = project.compose("exec", "-T", "postgres", "sh", "-c", 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
                              "-Atc \"SELECT column_name FROM information_schema.columns WHERE table_name = 'links'\"")
    assert "url" in columns.stdout.split()


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


@pytest.fixture(scope="module")
def backup_dir(project, tmp_path_factory) -> Path:
    """BACKUP_DIR of the journeys below: their dumps stay out of the checkout's backups/."""
    folder = tmp_path_factory.mktemp("backups")
    project.env["BACKUP_DIR"] = str(folder)
    return folder


def make_backup(project) -> Path:
    result = project.make("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    path = Path(re.search(r"backup: (\S+\.dump)", result.stdout)[1])
    assert path.parent == Path(project.env["BACKUP_DIR"]) and path.read_bytes().startswith(b"PGDMP")
    return path


def make_restore(project, path: Path) -> None:
    result = project.make("restore", f"FILE={path}")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr


def test_4_backup_down_v_up_restore_brings_every_link_click_key_and_owner_back_byte_for_byte(project, backup_dir):
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
    project.compose("down", "-v", timeout=300)
    project.compose("up", "-d", "--wait", timeout=600)
    assert requests.get(f"{project.url}/{owned}", allow_redirects=False, timeout=10).status_code == 404

    make_restore(project, path)

    assert table_rows(project) == before
    assert requests.get(f"{project.url}/{owned}", allow_redirects=False, timeout=10).status_code == 302
    assert requests.get(link, headers={"X-Api-Key": key}, timeout=10).json()["click_count"] == 5
    assert requests.get(link, timeout=10).status_code == 403  # still the key's own link
    assert_a_plain_up_recreates_nothing(project)


def test_5_a_backup_holds_the_clicks_queued_when_it_began_so_a_restore_loses_none(project, backup_dir):
    code = create_link(project, url="https://example.com/compose/queued-at-backup")["code"]
    project.compose("pause", "worker")
    try:
        for _ in range(20):  # answered, queued in Redis, not yet stored
            assert requests.get(f"{project.url}/{code}", allow_redirects=False, timeout=10).status_code == 302
        with ThreadPoolExecutor(1) as background:
            backup = background.submit(make_backup, project)
            time.sleep(3)  # the backup waits for the workers
            assert not backup.done()
            project.compose("unpause", "worker")
            path = backup.result(timeout=120)
    finally:
        project.compose("unpause", "worker", check=False)
    assert wait_for(lambda: click_count(project, code) == 20, 30, "20 stored clicks")
    for _ in range(5):  # after the backup: gone with the restore, as everything written since
        requests.get(f"{project.url}/{code}", allow_redirects=False, timeout=10)
    assert wait_for(lambda: click_count(project, code) == 25, 30, "25 stored clicks")

    make_restore(project, path)

    assert click_count(project, code) == 20
    stored = project.compose("exec", "-T", "postgres", "sh", "-c", 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
                             f"-Atc \"SELECT count(*) FROM clicks WHERE code = '{code}'\"").stdout
    assert int(stored) == 20


def test_6_the_backup_profile_dumps_on_schedule_and_keeps_the_newest(project, backup_dir):
    project.env.update(BACKUP_INTERVAL_S="2", BACKUP_KEEP="2")
    project.compose("--profile", "backup", "up", "-d", "backup")
    try:
        def scheduled() -> list[Path]:
            return sorted(backup_dir.glob("scheduled-*.dump"))
        wait_for(lambda: len(scheduled()) == 2, 30, "two scheduled dumps")
        time.sleep(5)  # two or three more rounds: older dumps are removed
        dumps = scheduled()
        assert len(dumps) == 2 and all(dump.read_bytes().startswith(b"PGDMP") for dump in dumps)
        assert not list(backup_dir.glob("*.partial"))
    finally:
        project.compose("--profile", "backup", "rm", "--stop", "--force", "backup")
