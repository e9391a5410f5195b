"""swarm/docker-stack.yml against docker-compose.yml: the same services, images, commands and
settings, so the two roads cannot drift apart (make test-swarm runs the stack itself)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
STACK = yaml.safe_load((REPO / "swarm" / "docker-stack.yml").read_text())["services"]
# Swarm has no start order: migrate waits longer for PostgreSQL, which may start after it.
STACK_ONLY_SETTINGS = {"migrate": {"MIGRATE_WAIT_S"}}


def test_the_stack_runs_every_long_lived_compose_service_from_the_same_image():
    dev_only = {name for name, service in COMPOSE.items() if service.get("profiles")}
    # The stack's nginx speaks http behind the swarm's own TLS terminator: no certificate to make.
    assert set(STACK) == set(COMPOSE) - dev_only - {"certs"}
    for name, service in STACK.items():
        assert service["image"] == COMPOSE[name]["image"], name
        assert service.get("command") == COMPOSE[name].get("command"), name


def test_the_stack_has_the_settings_and_defaults_compose_has():
    for name, service in STACK.items():
        stack_env = {k: v for k, v in service.get("environment", {}).items()
                     if k not in STACK_ONLY_SETTINGS.get(name, set())}
        assert stack_env == COMPOSE[name].get("environment", {}), name


def test_every_service_is_found_without_a_virtual_ip_and_nginx_resolves_each_app_task():
    assert all(service["deploy"]["endpoint_mode"] == "dnsrr" for service in STACK.values())
    servers = (REPO / "swarm" / "app-servers.conf").read_text()
    assert "server tasks.app:8000 resolve" in servers and "upstream app" not in servers  # the shared block balances
    update = STACK["app"]["deploy"]["update_config"]
    assert (update["order"], update["failure_action"]) == ("start-first", "rollback")
