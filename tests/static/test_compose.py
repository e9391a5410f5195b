"""docker-compose.yml's invariants, checked in a second without an engine (tests/compose runs it for real)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"migrate", "certs"}
# Serves nothing to check (the Locust master's dashboard shows whether it is connected), or a
# development-only tool behind a profile.
NO_ENDPOINT = {"locust-worker"} | {name for name, s in SERVICES.items() if s.get("profiles")}


def test_compose_file_matches_the_compose_specification():
    result = subprocess.run([Path(sys.executable).parent / "check-jsonschema", "--builtin-schema",
                             "vendor.compose-spec", str(REPO / "docker-compose.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_topology_is_all_there():
    assert {"nginx", "app", "worker", "migrate", "postgres", "redis", "locust", "locust-worker"} <= set(SERVICES)


def test_locust_targets_nginx_and_its_workers_can_scale():
    assert SERVICES["locust"]["command"][-2:] == ["--host", "http://nginx:8080"]
    assert "--master" in SERVICES["locust"]["command"]
    worker = SERVICES["locust-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][-2:] == ["--master-host", "locust"]
    scenarios = SERVICES["locust"]["environment"]["LOCUST_LOCUSTFILE"]
    assert worker["environment"]["LOCUST_LOCUSTFILE"] == scenarios  # workers run what the master offers
    files = (REPO / "loadtest" / "scenarios" / "Dockerfile").read_text()
    for name in {"io_bound.py", *scenarios.removeprefix("${LOCUST_LOCUSTFILE:-").removesuffix("}").split(",")}:
        assert name in files, f"{name} is not copied into the Locust image"


def test_the_locust_dashboard_offers_the_shortener_mix_not_the_slow_downstream_demo():
    # Every class offered is ticked; the demo's DownstreamCaller fails unless the app has a delay.
    assert SERVICES["locust"]["environment"]["LOCUST_LOCUSTFILE"] == "${LOCUST_LOCUSTFILE:-locustfile.py,shapes.py}"


def test_only_nginx_publishes_a_port_besides_the_load_generator_and_prometheus():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"nginx", "locust", "prometheus"}
    # Development defaults (secret, passwords, private targets allowed) stay on this machine
    # unless HTTP_BIND says otherwise.
    assert SERVICES["nginx"]["ports"] == ["${HTTP_BIND:-127.0.0.1}:${HTTP_PORT:-8080}:8080",
                                          "${HTTP_BIND:-127.0.0.1}:${HTTPS_PORT:-8443}:8443"]
    # An unauthenticated load generator and metrics UI: reachable from this machine only.
    assert SERVICES["locust"]["ports"] == ["127.0.0.1:${LOCUST_PORT:-8089}:8089"]
    assert SERVICES["prometheus"]["ports"] == ["127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"]


def test_monitoring_is_opt_in():
    watching = {name for name, service in SERVICES.items() if "observability" in service.get("profiles", [])}
    assert watching == {"prometheus", "nginx-exporter", "redis-exporter", "postgres-exporter"}


def test_app_can_scale():
    # A fixed container_name or host port would make `--scale app=N` fail.
    assert "container_name" not in SERVICES["app"]
    assert "ports" not in SERVICES["app"]
    assert "container_name" not in SERVICES["worker"]


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT - NO_ENDPOINT))
def test_every_long_running_service_has_a_healthcheck(name):
    assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_the_bot_poller_is_opt_in_and_the_webhook_consumer_is_not():
    assert SERVICES["bot"]["profiles"] == ["bot"]
    assert "profiles" not in SERVICES["bot-worker"]
    assert SERVICES["bot-worker"]["command"][-1] == "consume"


def test_migrate_is_one_shot_and_gates_app_and_worker():
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("app", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["nginx"]["depends_on"]["app"]["condition"] == "service_healthy"


@pytest.mark.parametrize("builder, sharers", [("app", {"migrate", "certs"}), ("worker", {"bot-worker", "bot"})])
def test_each_image_is_built_once_and_shared_with_one_configuration(builder, sharers):
    # Several services building the same Dockerfile in parallel tag different image ids, and the
    # next `up` recreates containers (nginx included): exactly one service builds each image.
    users = {name for name, service in SERVICES.items() if service.get("image") == SERVICES[builder]["image"]}
    assert users == {builder} | sharers
    assert [name for name in users if "build" in SERVICES[name]] == [builder]
    assert all(SERVICES[name]["pull_policy"] == "never" for name in sharers)
    urls = {SERVICES[name]["environment"]["DATABASE_URL"] for name in users - {"certs"}}  # certs: no database
    assert len(urls) == 1 and "@postgres:5432/" in urls.pop()


def test_the_worker_tier_installs_the_shared_package_instead_of_copying_it():
    dockerfile = (REPO / "worker" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --no-deps /tmp/shortstack-package" in dockerfile
    assert "COPY app/shortstack" not in dockerfile
    build = SERVICES["worker"]["build"]
    assert (build["context"], build["dockerfile"]) == (".", "worker/Dockerfile")


def test_redis_keeps_the_stream_and_evicts_only_cache_keys():
    command = " ".join(SERVICES["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy volatile-lru" in command
    assert "--requirepass" in command


def test_our_images_do_not_run_as_root():
    for dockerfile in ("app/Dockerfile", "nginx/Dockerfile", "worker/Dockerfile"):
        users = [line.split()[1] for line in (REPO / dockerfile).read_text().splitlines() if line.startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), dockerfile


def test_postgres_data_is_on_a_named_volume():
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])
    assert "pgdata" in COMPOSE["volumes"]


def test_every_compose_variable_is_documented_in_env_example():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO / "docker-compose.yml").read_text()))
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_the_dev_override_mounts_the_checkout_where_the_images_keep_it_and_reloads():
    dev = yaml.safe_load((REPO / "docker-compose.dev.yml").read_text())["services"]
    workdir = re.search(r"^WORKDIR (\S+)", (REPO / "app" / "Dockerfile").read_text(), re.M).group(1)
    # The image copies both into its WORKDIR; the override mounts the checkout's over them.
    assert {"COPY gunicorn.conf.py .", "COPY shortstack ./shortstack"} <= set(
        (REPO / "app" / "Dockerfile").read_text().splitlines())
    for name in ("shortstack", "gunicorn.conf.py"):
        assert f"./app/{name}:{workdir}/{name}:ro" in dev["app"]["volumes"]
    assert dev["app"]["environment"]["GUNICORN_RELOAD"] == "true"
    static = re.search(r"^COPY app/shortstack/web/static/ (\S+?)/?$", (REPO / "nginx" / "Dockerfile").read_text(), re.M)
    assert f"./app/shortstack/web/static:{static.group(1)}:ro" in dev["nginx"]["volumes"]
    result = subprocess.run([Path(sys.executable).parent / "check-jsonschema", "--builtin-schema",
                             "vendor.compose-spec", str(REPO / "docker-compose.dev.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
