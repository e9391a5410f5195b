"""CPU use per tier over one measured run: of local processes (psutil) or of compose services (`docker stats`)."""

from __future__ import annotations

import resource
import subprocess
import threading
from typing import TYPE_CHECKING, Protocol

import psutil

if TYPE_CHECKING:
    from local_stack import LocalStack


class Meter(Protocol):
    """CPU use per tier over one measured run, in percent of one core."""

    def start(self) -> None: ...

    def stop(self, wall_s: float) -> dict[str, float]: ...


class CpuMeter:
    """CPU seconds used by each tier's processes, including children they have already reaped."""

    def __init__(self, stack: LocalStack) -> None:
        self.roots: dict[str, list[int]] = {}
        for name, process in stack.processes.items():
            if process.running:
                tier = name.split("-")[0]
                self.roots.setdefault(tier, []).append(process.pid)

    def sample(self) -> dict[str, float]:
        return {tier: sum(_tree_cpu(pid) for pid in pids) for tier, pids in self.roots.items()}

    def start(self) -> None:
        self._before = self.sample()

    def stop(self, wall_s: float) -> dict[str, float]:
        after = self.sample()
        return {tier: 100 * (after[tier] - self._before[tier]) / wall_s for tier in self._before}


class DockerStatsMeter:
    """CPU per compose service, averaged over `docker stats` samples taken while the run lasts
    (containers of one service, e.g. the app replicas, add up)."""

    def __init__(self, project: str) -> None:
        self.project = project
        self._samples: list[dict[str, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_done, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wall_s: float) -> dict[str, float]:
        self._done.set()
        self._thread.join(30)
        tiers = {tier for sample in self._samples for tier in sample}
        return {tier: sum(s.get(tier, 0.0) for s in self._samples) / len(self._samples) for tier in tiers}

    def _sample_until_done(self) -> None:
        prefix = f"{self.project}-"
        while not self._done.is_set():
            out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}"],
                                 capture_output=True, text=True, timeout=60).stdout
            sample: dict[str, float] = {}
            for line in out.splitlines():
                name, percent = line.rsplit(" ", 1)
                if name.startswith(prefix):
                    service = name[len(prefix):].rsplit("-", 1)[0]  # <project>-<service>-<index>
                    sample[service] = sample.get(service, 0.0) + float(percent.rstrip("%"))
            if sample and not self._done.is_set():
                self._samples.append(sample)


def _tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])  # user, system, and reaped children's user and system
        for child in root.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

