"""The ceilings every figure is compared with, from the cheapest answer to our hot path.

    NginxOnly     nginx answering by itself (GET /nginx-health, no upstream)
    FlaskHello    nginx → gunicorn → Flask with no I/O (GET /healthz)
    Redirect      the real hot path: Redis GET + XADD (Visitor's follow task only)
"""

from __future__ import annotations

from locust import FastHttpUser, constant, task

from seed import popular_link
from seeded_user import SeededUser


def expect_ok(user: FastHttpUser, path: str, name: str) -> None:
    with user.client.get(path, name=name, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"expected 200, got {response.status_code}")


class NginxOnly(FastHttpUser):
    wait_time = constant(0)

    @task
    def nginx(self) -> None:
        expect_ok(self, "/nginx-health", "nginx only")


class FlaskHello(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self) -> None:
        expect_ok(self, "/healthz", "nginx → Flask, no I/O")


class Redirect(SeededUser):
    wait_time = constant(0)

    @task
    def follow(self) -> None:
        code, expected = popular_link(self.rng)
        with self.client.get(f"/{code}", name="redirect hot path", allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code != 302 or response.headers.get("Location") != expected:
                response.failure(f"expected 302 to {expected}, got {response.status_code}")
