"""nginx in front of three replicas: every replica serves, nginx serves what is its own."""

import json
import uuid

import requests

from tests.integration.support import STACK_VERSION, wait_for


def test_requests_reach_every_replica(stack):
    served_by = [requests.get(f"{stack.url}/healthz", timeout=5).headers["X-Served-By"] for _ in range(30)]
    assert set(served_by) == {"app-1", "app-2", "app-3"}


def test_readiness_reports_both_dependencies_and_the_version(stack):
    response = requests.get(f"{stack.url}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    assert response.json()["version"] == response.headers["X-App-Version"] == STACK_VERSION


def test_every_answer_of_a_replica_names_its_version(stack):
    for path in ("/", "/healthz", "/api/v1/links/nonexistent", "/nonexistent"):
        response = requests.get(f"{stack.url}{path}", allow_redirects=False, timeout=5)
        assert response.headers["X-App-Version"] == STACK_VERSION, path


def test_the_public_cluster_view_counts_processes_without_naming_them(stack):
    def cluster() -> dict | None:
        view = requests.get(f"{stack.url}/api/v1/cluster", timeout=5).json()
        return view if view["workers"] and len(view["replicas"]) == 3 else None

    view = wait_for(cluster, 15, "every replica's and click worker's heartbeat")
    assert {r["instance"] for r in view["replicas"]} == {"app-1", "app-2", "app-3"}
    assert {r["version"] for r in view["replicas"]} == {STACK_VERSION}  # a rollout shows here, replica by replica
    assert all(r["processes"] >= 1 and "pids" not in r for r in view["replicas"])
    assert all("pid" not in w for w in view["workers"])


def test_nginx_serves_only_the_public_host(stack):
    # PUBLIC_BASE_URL is the stack's own address here: any other name is refused before a replica.
    refused = requests.get(f"{stack.url}/", headers={"Host": "evil.example"}, timeout=5)
    assert refused.status_code == 421 and "X-Served-By" not in refused.headers
    assert requests.post(f"{stack.url}/api/v1/links", json={"url": "https://example.com/x"}, timeout=5,
                         headers={"Host": "evil.example"}).status_code == 421
    for host in ("127.0.0.1", "localhost", "nginx"):  # the names the stack's own clients use
        assert requests.get(f"{stack.url}/healthz", headers={"Host": host}, timeout=5).status_code == 200, host
    # Orchestrators probe nginx by its address.
    assert requests.get(f"{stack.url}/nginx-health", headers={"Host": "10.1.2.3"}, timeout=5).status_code == 200


def test_request_id_is_kept_and_logged_with_the_upstream(stack):
    request_id = uuid.uuid4().hex
    response = requests.get(f"{stack.url}/healthz", headers={"X-Request-ID": request_id}, timeout=5)
    assert response.headers["X-Request-ID"] == request_id
    replica_port = stack.app_ports[response.headers["X-Served-By"]]

    def logged():
        for line in (stack.logs_dir / "nginx.log").read_text().splitlines():
            if request_id in line and line.startswith("{"):
                return json.loads(line)
        return None

    entry = wait_for(logged, 5, "the access log line")
    assert entry["upstream_addr"] == f"127.0.0.1:{replica_port}"
    assert entry["status"] == 200


def test_fresh_request_ids_are_minted(stack):
    ids = {requests.get(f"{stack.url}/healthz", timeout=5).headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_static_files_come_from_nginx_with_cache_headers(stack):
    response = requests.get(f"{stack.url}/static/style.css", timeout=5)
    assert response.status_code == 200
    assert "X-Served-By" not in response.headers  # no replica was involved
    assert "max-age=3600" in response.headers["Cache-Control"]
    assert response.headers["Content-Type"].startswith("text/css")


def test_pages_show_the_replica_that_rendered_them(stack):
    response = requests.get(f"{stack.url}/", timeout=5)
    assert response.status_code == 200
    assert f'<code class="served-by">{response.headers["X-Served-By"]}</code>' in response.text
    assert response.headers["Server"] == "nginx"  # no version banner
