"""make deploy and make rollback: a new version of the running compose stack, without a failed request.

    python -m ops.deploy                    build this checkout, tagged with its git commit, and roll it out
    python -m ops.deploy --version TAG      roll out images already built under TAG
    python -m ops.deploy --rollback         roll the previous version back out, the same way

The project's images are IMAGE_NAMESPACE/{app,worker,nginx}. A deploy builds them under the
version, checks the pending migrations against the running code (schema_check), points `latest`
at the version (the containers always name `latest`, so a later `docker compose up --scale` by
hand recreates nothing), runs the migrations, and replaces the app replicas, then the click
workers and the bot workers, a few at a time (rollout). nginx is recreated only when its own
image changed, which drops connections for about a second (docs/operations.md). A replica that
does not become healthy within DEPLOY_HEALTH_TIMEOUT_S stops the deploy: `latest` goes back,
every replica already replaced is rolled back the same way, and the command exits 1. After a
successful deploy `previous` names the version it replaced, and older builds are removed.
"""

from __future__ import annotations

import argparse
import fcntl
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import schema_check
from .compose import REPO, OperationError, Project, docker, int_setting
from .rollout import Rollout

BUILT = ("app", "worker", "nginx")  # the images a deploy builds, by compose service
ROLLED = ("app", "worker", "bot-worker")  # replaced replica by replica, in this order
# The app image's one-shot jobs, run again on the new image: the migrations, and nginx's development
# certificate (it keeps an existing one). Left on the old image, the next plain `up` would recreate
# them, and compose the services that depend on them.
ONE_SHOTS = ("migrate", "certs")


def git_version() -> str:
    """The checkout's commit (12 hex digits), with -dirty when files differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise OperationError("make deploy names the version after the git commit, and this is not a git "
                             "checkout; deploy images built elsewhere with make deploy VERSION=<tag>") from None
    return f"{commit}-dirty" if changes.strip() else commit


def image_id(name: str) -> str | None:
    """The id of the image called `name`, or None when there is none."""
    try:
        return docker("image", "inspect", "--format", "{{.Id}}", name).strip()
    except OperationError:
        return None


class Deploy:
    """One deploy (or rollback) of one compose project."""

    def __init__(self, project: Project, rollout: Rollout) -> None:
        self.project, self.rollout, self.log = project, rollout, rollout.log
        # "shortstack/app:latest" -> "shortstack/app": the repository each built image is tagged in.
        self.repos = {service: project.image(service).rsplit(":", 1)[0] for service in BUILT}

    def build(self, version: str) -> None:
        self.log(f"building {', '.join(f'{repo}:{version}' for repo in self.repos.values())}")
        Project({**self.project.env, "IMAGE_TAG": version}).compose("build", *BUILT, timeout=1800)

    def images(self, tag: str) -> dict[str, str]:
        """Image id by built service for `tag`; raises OperationError if one is missing."""
        found = {service: image_id(f"{repo}:{tag}") for service, repo in self.repos.items()}
        missing = [f"{self.repos[s]}:{tag}" for s, found_id in found.items() if found_id is None]
        if missing:
            raise OperationError(f"no image {', '.join(missing)} on this engine"
                                 + (": there is no previous version to roll back to" if tag == "previous" else ""))
        return found  # type: ignore[return-value]

    def run(self, tag: str) -> None:
        """Roll the images tagged `tag` out over the running stack."""
        target = self.images(tag)
        if not self.project.running("app"):
            raise OperationError(f"project {self.project.name} has no running app replica: start it with "
                                 "`docker compose up -d --wait` (make deploy replaces a running stack)")
        current = self.running_images()
        schema_check.check(self.project, target["app"], {c.image for c in self.project.running("app")})
        self.tag(target, "latest")
        started = time.monotonic()
        try:
            for job in ONE_SHOTS:
                self.project.run_once(job)
                self.log(f"{job}: done")
            for service in ROLLED:
                replaced = self.rollout.replace(service, target[self.built_by(service)])
                self.log(f"{service}: {replaced} replaced")
        except OperationError as failure:
            self.log(f"deploy failed: {failure}\nrolling back to the version that was running")
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the way back is not to be interrupted
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.tag(current, "latest")
            for service in ROLLED:
                self.rollout.replace(service, current[self.built_by(service)])
            raise OperationError(f"deploy of {tag} rolled back: {failure}") from None
        self.replace_nginx(target["nginx"])
        if current != target:
            self.tag(current, "previous")
        self.prune()
        self.log(f"deployed {self.version(target['app'])} to {self.project.name} in {time.monotonic() - started:.0f} s")

    def running_images(self) -> dict[str, str]:
        """Image id by built service of what runs now: what most of its containers run (a killed
        deploy can leave a mix), else what `latest` names. Not `latest` alone: a deploy that was
        killed may have moved it already."""
        latest = self.images("latest")
        found = {}
        for service in BUILT:
            running = Counter(c.image for c in self.project.running(service))
            found[service] = running.most_common(1)[0][0] if running else latest[service]
        return found

    def built_by(self, service: str) -> str:
        """The built service whose image `service` runs (bot-worker runs the worker's)."""
        return next(s for s in BUILT if self.project.image(s) == self.project.image(service))

    def tag(self, images: dict[str, str], tag: str) -> None:
        for service, image in images.items():
            docker("tag", image, f"{self.repos[service]}:{tag}")

    def version(self, image: str) -> str:
        return docker("image", "inspect", "--format", '{{index .Config.Labels "org.opencontainers.image.version"}}',
                      image).strip()

    def replace_nginx(self, image: str) -> None:
        """Recreate nginx when its image changed (a config or static-file change); there is one
        nginx and it owns the published port, so new connections are refused until it is back."""
        [nginx] = self.project.running("nginx")
        if nginx.image == image:
            self.log("nginx: unchanged")
            return
        # `create` stops the old container and puts the new one in its place; starting it at once
        # keeps the gap to nginx's own start. Not `up --no-deps`: compose would record another
        # configuration and recreate nginx at the next plain `up`; nor `up`, which first waits on
        # the app's healthchecks with the old nginx already stopped.
        started = time.monotonic()
        # --scale: compose converges nginx's dependency too, and would take the app back to the
        # compose file's count.
        replicas = len(self.project.running("app"))
        self.project.compose("create", "--force-recreate", "--scale", f"app={replicas}", "nginx")
        docker("start", *[c.id for c in self.project.containers("nginx")])
        deadline = started + 60
        while not _answers(f"{self.project.url}/nginx-health"):
            if time.monotonic() > deadline:
                raise OperationError("nginx did not answer within 60 s of being recreated")
            time.sleep(0.1)
        self.log(f"nginx: replaced; answering {time.monotonic() - started:.1f} s after the old one was told to stop")

    def prune(self) -> None:
        """Remove this project's builds other than `latest` and `previous`, and dangling ones."""
        for repo in self.repos.values():
            keep = {image_id(f"{repo}:latest"), image_id(f"{repo}:previous")}
            for tag in docker("images", repo, "--format", "{{.Tag}}").split():
                if image_id(f"{repo}:{tag}") not in keep:
                    try:
                        docker("rmi", f"{repo}:{tag}")
                    except OperationError as exc:  # a stopped container still uses it: say so, go on
                        self.log(f"kept {repo}:{tag}: {exc}")
        namespace = self.repos["app"].rsplit("/", 1)[0]
        docker("image", "prune", "--force", "--filter", f"label=shortstack.namespace={namespace}")


@contextmanager
def one_at_a_time(project_name: str) -> Iterator[None]:
    """Hold this machine's deploy lock of the project: a second deploy or rollback started
    meanwhile would replace the replicas the first is replacing, so it is refused instead."""
    with open(Path(tempfile.gettempdir()) / f"shortstack-deploy-{project_name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OperationError(f"another deploy or rollback of {project_name} is running; "
                                 "wait for it to end") from None
        yield


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


class Interrupted(OperationError):
    """SIGINT or SIGTERM during a deploy: it is rolled back like a failed one."""


def _interrupted(signum: int, frame: object) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.deploy", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", help="roll out images already built under this tag (no build)")
    which.add_argument("--rollback", action="store_true", help="roll the previous version back out")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        # Containers always name `latest`; only the build uses the version.
        project = Project({"IMAGE_TAG": "latest"})
        rollout = Rollout(project, batch_size=int_setting("DEPLOY_BATCH_SIZE", 2, minimum=1),
                          health_timeout_s=int_setting("DEPLOY_HEALTH_TIMEOUT_S", 60, minimum=1),
                          log=lambda line: print(f"deploy: {line}", flush=True))
        deploy = Deploy(project, rollout)
        with one_at_a_time(project.name):
            if args.rollback:
                tag = "previous"
            elif args.version:
                tag = args.version
            else:
                tag = git_version()
                deploy.build(tag)
            deploy.run(tag)
    except OperationError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
