"""The base of every Locust user that follows the seed links (kept out of seed.py, which the
tests import without Locust's gevent patching)."""

from __future__ import annotations

import random

from locust import FastHttpUser

from seed import seed_once


class SeededUser(FastHttpUser):
    """A user of the seed links: they exist before its first task, and it has its own random source."""

    abstract = True

    def on_start(self) -> None:
        seed_once(self.host)
        self.rng = random.Random()
