"""What a user does to the compose stack in the suite's journeys: create links, count their
clicks, and keep a steady load on it while an operator changes something."""

from __future__ import annotations

import collections
import itertools
import threading

import requests


def create(project, url: str) -> dict:
    response = requests.post(f"{project.url}/api/v1/links", json={"url": url}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def click_count(project, code: str) -> int:
    return requests.get(f"{project.url}/api/v1/links/{code}", timeout=10).json()["click_count"]


class SteadyLoad:
    """GETs as fast as `getters` threads can, and POSTs paced under the creation limit (30 a minute
    per client, and these tests are one client), until stopped; every failure is kept."""

    def __init__(self, project, code: str, getters: int = 4, post_every_s: float = 0.6) -> None:
        self.project, self.code, self.post_every_s = project, code, post_every_s
        self.stop = threading.Event()
        self.ok = collections.Counter()
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._get) for _ in range(getters)]
        self.threads.append(threading.Thread(target=self._post))

    def __enter__(self) -> "SteadyLoad":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _record(self, kind: str, call) -> None:
        try:
            response = call()
            good = response.status_code == (302 if kind == "GET" else 201)
            detail = f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as exc:
            good, detail = False, repr(exc)
        if good:
            self.ok[kind] += 1
        else:
            self.failures.append(f"{kind}: {detail}")

    def _get(self) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                self._record("GET", lambda: session.get(f"{self.project.url}/{self.code}", allow_redirects=False,
                                                        timeout=15))

    def _post(self) -> None:
        for n in itertools.count():
            if self.stop.wait(self.post_every_s):
                return
            self._record("POST", lambda: requests.post(f"{self.project.url}/api/v1/links", timeout=15,
                                                       json={"url": f"https://example.com/compose/load/{n}"}))
