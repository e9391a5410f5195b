"""Extra Docker engines on this machine, each in a network namespace of its own, bridged to the
host: the worker nodes of a multi-node swarm without other machines. Everything made here (the
bridge, namespaces, firewall rules, engines, their containers, data and mounts) is removed by
remove(); what a killed run left behind, by leftovers() and remove()."""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.swarm.swarm_stack import docker

# A folder per node, <tag>-<n>: made before anything else of its run and removed last, so the
# bridge, namespaces and engines of a run killed midway are found again from them.
STATE = Path("/var/lib/shortstack-swarm-nodes")
SUBNET = "10.213.77"  # .1 is this host's end of the bridge, .11, .12, … the nodes
HOST_ADDRESS = f"{SUBNET}.1"  # also the manager's swarm address: what marks a swarm as the suite's


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def descendants(pids: set[str]) -> set[str]:
    """Every process whose parent, grandparent, … is in `pids` (as /proc shows them now)."""
    children: dict[str, set[str]] = collections.defaultdict(set)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:  # it ended meanwhile
            continue
        children[rest.rsplit(")", 1)[1].split()[1]].add(pid)  # "(comm) state ppid …"
    found: set[str] = set()
    todo = list(pids)
    while todo:
        for child in children[todo.pop()] - found:
            found.add(child)
            todo.append(child)
    return found


@dataclass
class Node:
    """One engine in network namespace `netns`, reachable at `address`."""

    netns: str
    address: str
    folder: Path

    @property
    def socket(self) -> str:
        return f"unix://{self.folder}/docker.sock"

    def docker(self, *args: str, **options) -> subprocess.CompletedProcess:
        return docker("-H", self.socket, *args, **options)

    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()

    def kill(self) -> None:
        """The machine is lost: its engine and everything it runs die at once."""
        # `ip netns pids` finds the engine, containerd and the shims; the containers' processes,
        # in network namespaces of their own, are the shims' children.
        engine = set(run("ip", "netns", "pids", self.netns, check=False).stdout.split())
        pids = engine | descendants(engine)
        if pids:
            run("kill", "-9", *pids, check=False)


@dataclass
class Nodes:
    """`count` engines on a bridge of their own, named after `tag`; start() brings them up."""

    count: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:4])

    @classmethod
    def leftovers(cls) -> list[Nodes]:
        """The nodes of earlier runs that were killed before they could remove() them."""
        counts: dict[str, int] = {}
        for folder in STATE.glob("*-*"):
            tag, _, number = folder.name.rpartition("-")
            if folder.is_dir() and number.isdigit():
                counts[tag] = max(counts.get(tag, 0), int(number))
        return [cls(count=count, tag=tag) for tag, count in sorted(counts.items())]

    @property
    def nodes(self) -> list[Node]:
        return [Node(netns=f"ssn{self.tag}{i}", address=f"{SUBNET}.{10 + i}", folder=STATE / f"{self.tag}-{i}")
                for i in range(1, self.count + 1)]

    @property
    def archive(self) -> Path:
        return STATE / f"{self.tag}-images.tar"

    @property
    def bridge(self) -> str:
        return f"ssbr{self.tag}"

    def start(self) -> list[Node]:
        for node in self.nodes:
            node.folder.mkdir(parents=True)
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        # Docker's FORWARD policy drops bridged traffic it does not know; let this bridge through.
        for rule in self._firewall_rules():
            run("iptables", "-I", "DOCKER-USER", *rule)
        for i, node in enumerate(self.nodes, start=1):
            run("ip", "netns", "add", node.netns)
            run("ip", "link", "add", f"ssv{self.tag}{i}", "type", "veth", "peer", "name", "eth0", "netns", node.netns)
            run("ip", "link", "set", f"ssv{self.tag}{i}", "master", self.bridge, "up")
            run("ip", "-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
            run("ip", "-n", node.netns, "link", "set", "eth0", "up")
            run("ip", "-n", node.netns, "link", "set", "lo", "up")
            run("ip", "-n", node.netns, "route", "add", "default", "via", HOST_ADDRESS)
            # nsenter, not `ip netns exec`: that would remount /sys and hide the cgroups dockerd needs.
            # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE (as Docker's own integration tests start their
            # engines): a task uses the image loaded here rather than first asking a registry, which
            # from this namespace never answers (each task start waited 40 s and more on DNS).
            with open(node.folder / "dockerd.log", "w") as log:
                subprocess.Popen(["nsenter", f"--net=/run/netns/{node.netns}", "dockerd",
                                  "--data-root", str(node.folder / "data"), "--exec-root", str(node.folder / "exec"),
                                  "--pidfile", str(node.folder / "dockerd.pid"), "-H", node.socket],
                                 env={**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        for node in self.nodes:
            deadline = time.monotonic() + 60
            while node.docker("info", check=False).returncode != 0:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the engine of {node.netns} did not start:\n"
                                         f"{(node.folder / 'dockerd.log').read_text()[-2000:]}")
                time.sleep(0.5)
        return self.nodes

    def load_images(self, images: list[str]) -> None:
        """Copy `images` from this engine into every node (what a registry would do)."""
        docker("save", "-o", str(self.archive), *images, timeout=600)
        try:
            for node in self.nodes:
                node.docker("load", "-q", "-i", str(self.archive), timeout=600)
        finally:
            self.archive.unlink()

    def remove(self) -> None:
        """Everything start() made, whatever part of it exists; the nodes' folders last."""
        for node in self.nodes:
            node.kill()
        time.sleep(1)
        for node in self.nodes:
            # A killed engine leaves its mounts (layers, network namespaces) behind.
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(f"{node.folder}/")]
            for mount in sorted(mounts, reverse=True):
                run("umount", "-l", mount, check=False)
            run("ip", "netns", "del", node.netns, check=False)
        run("ip", "link", "del", self.bridge, check=False)
        for rule in self._firewall_rules():
            run("iptables", "-D", "DOCKER-USER", *rule, check=False)
        self.archive.unlink(missing_ok=True)
        for node in self.nodes:
            shutil.rmtree(node.folder, ignore_errors=True)

    def _firewall_rules(self) -> list[list[str]]:
        return [["-i", self.bridge, "-j", "ACCEPT"], ["-o", self.bridge, "-j", "ACCEPT"]]
