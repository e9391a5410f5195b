"""One request followed through the logs: nginx, the replica that answered, the click worker."""

import json

from tests.integration.support import create_link, follow, wait_for


def lines_with(stack, name: str, request_id: str) -> list[dict]:
    """The JSON lines of process `name`'s log that mention `request_id`."""
    text = (stack.logs_dir / f"{name}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if request_id in line]


def test_one_redirect_s_request_id_is_logged_by_nginx_the_replica_and_the_click_worker(stack):
    code = create_link(stack, url="https://example.com/followed-in-the-logs")["code"]
    response = follow(stack, code)
    assert response.status_code == 302
    request_id, replica = response.headers["X-Request-ID"], response.headers["X-Served-By"]  # minted by nginx

    [edge] = lines_with(stack, "nginx", request_id)
    assert (edge["request_id"], edge["uri"], edge["status"]) == (request_id, f"/{code}", 302)
    assert edge["upstream_addr"] == f"127.0.0.1:{stack.app_ports[replica]}"
    [served] = lines_with(stack, replica, request_id)
    assert (served["request_id"], served["path"], served["status"]) == (request_id, f"/{code}", 302)
    others = [name for name in stack.app_ports if name != replica]
    assert all(lines_with(stack, name, request_id) == [] for name in others)

    workers = [name for name in stack.processes if name.startswith("worker-")]
    [stored] = wait_for(lambda: [line for name in workers for line in lines_with(stack, name, request_id)], 15,
                        "the click worker's line for storing the click")
    assert request_id in stored["request_ids"] and stored["logger"] == "shortstack.worker"


def test_a_caller_s_own_request_id_is_kept_end_to_end(stack):
    code = create_link(stack, url="https://example.com/caller-id")["code"]
    mine = "caller-3f9e1c2a-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
    response = follow(stack, code, **{"X-Request-ID": mine})
    assert response.headers["X-Request-ID"] == mine
    workers = [name for name in stack.processes if name.startswith("worker-")]
    wait_for(lambda: any(lines_with(stack, name, mine) for name in workers), 15, "the worker's line")
    assert lines_with(stack, response.headers["X-Served-By"], mine)
