"""Load shapes, selectable in the Locust UI (`--class-picker`)."""

from __future__ import annotations

from locust import LoadTestShape


class StepLoad(LoadTestShape):
    """Users rise in steps, so the knee — where more users stop adding throughput — is visible.

    `step_users` more users every `step_seconds`, up to `max_users`, held until `total_seconds`.
    """

    step_users = 10
    step_seconds = 30
    max_users = 100
    total_seconds = 600

    def tick(self):
        run_time = self.get_run_time()
        if run_time > self.total_seconds:
            return None
        users = min(self.max_users, self.step_users * (int(run_time // self.step_seconds) + 1))
        return users, self.step_users
