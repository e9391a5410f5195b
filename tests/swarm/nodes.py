"""Extra Docker engines on this machine, each in a network namespace of its own, bridged to the
host: the worker nodes of a multi-node swarm without other machines. Everything made here (the
bridge, namespaces, firewall rules, engines, their data and mounts) is removed by remove()."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.swarm.swarm_stack import docker

STATE = Path("/var/lib/shortstack-swarm-nodes")
SUBNET = "10.213.77"  # .1 is this host's end of the bridge, .11, .12, … the nodes


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


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
        pids = run("ip", "netns", "pids", self.netns).stdout.split()
        if pids:
            run("kill", "-9", *pids, check=False)


@dataclass
class Nodes:
    """`count` engines on a bridge of their own; start() brings them up."""

    count: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:4])
    nodes: list[Node] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"ssbr{self.tag}"

    @property
    def host_address(self) -> str:
        return f"{SUBNET}.1"

    def start(self) -> list[Node]:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        # Docker's FORWARD policy drops bridged traffic it does not know; let this bridge through.
        for rule in self._firewall_rules():
            run("iptables", "-I", "DOCKER-USER", *rule)
        for i in range(1, self.count + 1):
            node = Node(netns=f"ssn{self.tag}{i}", address=f"{SUBNET}.{10 + i}", folder=STATE / f"{self.tag}-{i}")
            self.nodes.append(node)
            run("ip", "netns", "add", node.netns)
            run("ip", "link", "add", f"ssv{self.tag}{i}", "type", "veth", "peer", "name", "eth0", "netns", node.netns)
            run("ip", "link", "set", f"ssv{self.tag}{i}", "master", self.bridge, "up")
            run("ip", "-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
            run("ip", "-n", node.netns, "link", "set", "eth0", "up")
            run("ip", "-n", node.netns, "link", "set", "lo", "up")
            run("ip", "-n", node.netns, "route", "add", "default", "via", self.host_address)
            node.folder.mkdir(parents=True)
            # nsenter, not `ip netns exec`: that would remount /sys and hide the cgroups dockerd needs.
            with open(node.folder / "dockerd.log", "w") as log:
                subprocess.Popen(["nsenter", f"--net=/run/netns/{node.netns}", "dockerd",
                                  "--data-root", str(node.folder / "data"), "--exec-root", str(node.folder / "exec"),
                                  "--pidfile", str(node.folder / "dockerd.pid"), "-H", node.socket],
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
        archive = STATE / f"{self.tag}-images.tar"
        docker("save", "-o", str(archive), *images, timeout=600)
        try:
            for node in self.nodes:
                node.docker("load", "-q", "-i", str(archive), timeout=600)
        finally:
            archive.unlink()

    def remove(self) -> None:
        for node in self.nodes:
            node.kill()
        time.sleep(1)
        for node in self.nodes:
            # A killed engine leaves its mounts (layers, network namespaces) behind.
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(str(node.folder))]
            for mount in sorted(mounts, reverse=True):
                run("umount", "-l", mount, check=False)
            run("ip", "netns", "del", node.netns, check=False)
            shutil.rmtree(node.folder, ignore_errors=True)
        run("ip", "link", "del", self.bridge, check=False)
        for rule in self._firewall_rules():
            run("iptables", "-D", "DOCKER-USER", *rule, check=False)

    def _firewall_rules(self) -> list[list[str]]:
        return [["-i", self.bridge, "-j", "ACCEPT"], ["-o", self.bridge, "-j", "ACCEPT"]]
