"""The Kubernetes manifests, checked without a cluster: against the Kubernetes JSON schemas
(kubernetes-validate ships them), and against the rest of the repository they must agree with."""

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from flask import Flask

from shortstack.web import health

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "kubernetes"
KUSTOMIZATION = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
MANIFESTS = sorted(p for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")
DOCUMENTS = [(path.name, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]
KUBERNETES_VERSION = "1.37.0"
EXAMPLE = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (REPO / ".env.example").read_text(), re.M))
SECRETS = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (KUBE / "secrets.env.example").read_text(), re.M))
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SETTINGS = next(d for _, d in DOCUMENTS if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "shortstack-settings")[
    "data"]


def containers(kind: str | None = None) -> list[tuple[str, dict]]:
    """(workload name, container) for every container of every workload (or of one kind)."""
    found = []
    for _, doc in DOCUMENTS:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job") and kind in (None, doc["kind"]):
            found += [(doc["metadata"]["name"], c) for c in doc["spec"]["template"]["spec"]["containers"]]
    return found


def container(name: str) -> dict:
    return next(c for workload, c in containers() if workload == name)


@pytest.mark.parametrize("name, doc", DOCUMENTS, ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in DOCUMENTS])
def test_every_manifest_is_valid_kubernetes(name, doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_secrets_are_never_committed():
    assert set(KUSTOMIZATION["resources"]) == {p.name for p in MANIFESTS}
    [generator] = KUSTOMIZATION["secretGenerator"]
    assert generator["envs"] == ["secrets.env"]
    ignored = subprocess.run(["git", "check-ignore", "-q", "kubernetes/secrets.env"], cwd=REPO)
    assert ignored.returncode == 0, "kubernetes/secrets.env must be git-ignored"


def test_no_secret_is_written_into_a_manifest():
    for workload, c in containers():
        for var in c.get("env", []):
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$|DATABASE_URL|REDIS_URL", var["name"]):
                assert "value" not in var, f"{workload}: {var['name']} must come from the Secret"
    assert not set(SETTINGS) & set(SECRETS), "a secret is in the ConfigMap"
    # The example holds placeholders only, never a working value.
    assert all(value in ("", "CHANGE-ME", "CHANGE-ME-TOO", "CHANGE-ME-AS-WELL") or "CHANGE-ME" in value
               for value in SECRETS.values()), SECRETS


def test_settings_are_the_documented_variables_with_their_documented_defaults():
    settings = SETTINGS
    # What this project's images read (the postgres image's own variables are its business).
    names = set(settings) | set(SECRETS) | {v["name"] for _, c in containers() if c["image"].startswith("shortstack/")
                                            for v in c.get("env", [])}
    assert names <= set(EXAMPLE), f"not in .env.example: {sorted(names - set(EXAMPLE))}"
    production = {"APP_ENV", "PUBLIC_BASE_URL"}  # chosen for a deployment, not the defaults
    assert settings["APP_ENV"] == "production" and settings["PUBLIC_BASE_URL"].startswith("https://")
    assert {name: value for name, value in settings.items() if name not in production} == \
        {name: EXAMPLE[name] for name in settings if name not in production}


def test_probes_point_at_endpoints_that_exist_on_the_ports_served():
    app = Flask("routes")
    app.register_blueprint(health.bp)
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    web = container("app")
    probes = (web["readinessProbe"]["httpGet"]["path"], web["livenessProbe"]["httpGet"]["path"])
    assert probes == ("/readyz", "/healthz")
    assert {"/readyz", "/healthz"} <= routes
    assert web["ports"][0]["containerPort"] == int(EXAMPLE["GUNICORN_BIND"].rsplit(":", 1)[1])
    balancer = container("nginx")
    assert balancer["readinessProbe"]["httpGet"]["path"] == "/nginx-health"
    assert "location = /nginx-health" in (REPO / "nginx/conf.d/shortstack.conf").read_text()
    listen = (REPO / "nginx/compose/listen.conf").read_text().split()[1].rstrip(";")
    assert balancer["ports"][0]["containerPort"] == int(listen)
    servers = next(d for _, d in DOCUMENTS if d["metadata"]["name"] == "nginx-app-servers")["data"]["app-servers.conf"]
    assert "server app-pods.shortstack.svc.cluster.local:8000 resolve" in servers
    assert "upstream app" not in servers  # balanced by the shared block, as under compose


def test_images_are_the_ones_compose_builds_and_runs():
    # As compose names them with IMAGE_NAMESPACE and IMAGE_TAG at their defaults.
    compose_images = {re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", service["image"])
                      for service in COMPOSE["services"].values() if "image" in service}
    assert {c["image"] for _, c in containers()} <= compose_images


def test_workers_and_redis_run_as_under_compose():
    for name in ("worker", "bot-worker", "migrate"):
        assert container(name)["command"] == COMPOSE["services"][name]["command"], name
    # The settings compose gives a worker beyond the shared ones, at compose's defaults, from the
    # ConfigMap or the container's own env.
    shared = set(COMPOSE["x-app-env"])
    for name in ("worker", "bot-worker"):
        given = {**SETTINGS, **{var["name"]: var["value"] for var in container(name).get("env", [])}}
        for var, value in COMPOSE["services"][name]["environment"].items():
            if var not in shared:
                assert given.get(var) == re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value)), (name, var)
    metrics_port = int(COMPOSE["services"]["worker"]["environment"]["WORKER_METRICS_PORT"])
    assert {"name": "metrics", "containerPort": metrics_port} in container("worker")["ports"]
    redis_args = [arg.replace("$(REDIS_PASSWORD)", "${REDIS_PASSWORD:-shortstack}")
                  for arg in container("redis")["args"]]
    assert redis_args == COMPOSE["services"]["redis"]["command"]
