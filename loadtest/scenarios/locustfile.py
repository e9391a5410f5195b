"""Who uses a link shortener: many visitors following links, a few creators, a few analysts.

    locust -f loadtest/scenarios/locustfile.py --host http://127.0.0.1:8080

Every response is checked, so a fast wrong answer counts as a failure. The step-load shape is
in shapes.py (add it with `-f loadtest/scenarios/locustfile.py,loadtest/scenarios/shapes.py --class-picker`).
"""

from __future__ import annotations

import string

from locust import between, constant, constant_pacing, task

from seed import popular_link
from seeded_user import SeededUser

# Seconds between two links one Creator makes. The whole load generator is one client to the
# stack's creation limit (default 30 a minute per address): 6 a minute plus the 20 seed links
# stays under it, so the default settings give 201s, not 429s.
CREATOR_PACE_S = 10


class Visitor(SeededUser):
    """Follows short links as fast as it can; popular links far more often than the rest."""

    weight = 20
    wait_time = constant(0)

    @task(50)
    def follow_a_link(self) -> None:
        code, expected = popular_link(self.rng)
        with self.client.get(f"/{code}", name="/[code]", allow_redirects=False, catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"expected 302, got {response.status_code}")
            elif response.headers.get("Location") != expected:
                response.failure(f"redirected to {response.headers.get('Location')}, expected {expected}")

    @task(1)
    def mistype_a_link(self) -> None:
        code = "".join(self.rng.choices(string.ascii_letters, k=9))  # 9 letters: never a real code
        with self.client.get(f"/{code}", name="/[unknown code]", allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code == 404:
                response.success()
            else:
                response.failure(f"expected 404, got {response.status_code}")


class Creator(SeededUser):
    """Shortens a new URL every CREATOR_PACE_S seconds (below the stack's creation limit)."""

    fixed_count = 1
    wait_time = constant_pacing(CREATOR_PACE_S)

    @task
    def shorten(self) -> None:
        url = f"https://example.org/article/{self.rng.getrandbits(64):x}"
        with self.client.post("/api/v1/links", json={"url": url}, name="/api/v1/links",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
            elif response.json().get("url") != url or not response.json().get("code"):
                response.failure("the created link does not match the request")


class Analyst(SeededUser):
    """Reads a popular link's totals and statistics now and then."""

    fixed_count = 1
    wait_time = between(0.2, 1.0)

    @task(2)
    def read_link(self) -> None:
        code, expected = popular_link(self.rng)
        with self.client.get(f"/api/v1/links/{code}", name="/api/v1/links/[code]", catch_response=True) as response:
            if response.status_code != 200 or response.json().get("url") != expected:
                response.failure(f"expected the link to {expected}, got {response.status_code}")

    @task(1)
    def read_stats(self) -> None:
        code, _ = popular_link(self.rng)
        with self.client.get(f"/api/v1/links/{code}/stats", name="/api/v1/links/[code]/stats",
                             catch_response=True) as response:
            if response.status_code != 200 or "by_hour" not in response.json():
                response.failure(f"expected statistics, got {response.status_code}")
