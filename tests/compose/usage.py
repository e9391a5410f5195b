"""What a user does to a stack in Docker (compose or Swarm) while an operator changes something:
count a link's clicks as the API reports them, and keep a steady load of redirects and new links."""

from __future__ import annotations

import collections

import requests

from tests.integration.support import SteadyLoad


def click_count(project, code: str) -> int:
    """The clicks the API reports for `code` (the link must be public or ownerless)."""
    return requests.get(f"{project.url}/api/v1/links/{code}", timeout=10).json()["click_count"]


class RedirectsAndCreates:
    """GETs of `code` from `getters` threads as fast as they are answered, and a new link every
    `post_every_s` from one more (under the creation limit: 30 a minute per client, and these tests
    are one client), until the block ends. `ok` counts the expected answers (302, 201) per method,
    `failures` lists every other outcome."""

    def __init__(self, project, code: str, getters: int = 4, post_every_s: float = 0.6,
                 limit_s: float = 900) -> None:
        self.gets = SteadyLoad(lambda s, n: s.get(f"{project.url}/{code}", allow_redirects=False, timeout=15),
                               threads=getters, limit_s=limit_s)
        self.posts = SteadyLoad(lambda s, n: s.post(f"{project.url}/api/v1/links", timeout=15,
                                                    json={"url": f"https://example.com/compose/load/{n}"}),
                                threads=1, limit_s=limit_s, pause_s=post_every_s)

    def __enter__(self) -> "RedirectsAndCreates":
        self.gets.__enter__()
        self.posts.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gets.__exit__(*exc)
        self.posts.__exit__(*exc)

    @property
    def ok(self) -> collections.Counter:
        return collections.Counter(GET=len(self.gets.outcomes) - len(self.gets.failed({302})),
                                   POST=len(self.posts.outcomes) - len(self.posts.failed({201})))

    @property
    def failures(self) -> list[str]:
        return [f"{method}: {o.status} {o.error or ''}".rstrip()
                for method, load, ok in (("GET", self.gets, {302}), ("POST", self.posts, {201}))
                for o in load.failed(ok)]
