"""The I/O-bound scenario: every request waits on a slow downstream (DOWNSTREAM_DELAY_MS).

Throughput here is limited by how many requests a replica can hold open at once — one per sync
worker, one per gthread thread, many per gevent worker — not by CPU.
"""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class DownstreamCaller(FastHttpUser):
    """Calls the slow endpoint back to back."""

    wait_time = constant(0)

    @task
    def call(self) -> None:
        with self.client.get("/api/v1/demo/downstream", name="/api/v1/demo/downstream",
                             catch_response=True) as response:
            if response.status_code != 200:
                # The app's problem detail says why, e.g. that the demo is off without DOWNSTREAM_DELAY_MS.
                json_body = (response.headers or {}).get("Content-Type", "").endswith("json")
                detail = response.json().get("detail", "") if json_body else ""
                response.failure(f"expected 200, got {response.status_code}: {detail}".rstrip(": "))
