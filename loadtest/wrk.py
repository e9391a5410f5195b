"""wrk as the load generator for the ceilings: a C event loop that is not the bottleneck here.

Locust's one process on this machine topped out at about 9k req/s against nginx alone, where wrk
measures 80–100k; a ceiling measured by Locust measures Locust. wrk_paths.lua spreads requests
over a list of paths, optionally POSTs a JSON body or paces each connection, and prints its
summary as one JSON line, which `run` reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk_paths.lua"
MARKER = "WRK_JSON "


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and answers other than 2xx/3xx
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def binary() -> str:
    """The wrk command, or a readable error that says how to install it."""
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed. Install it with:\n    apt-get update && apt-get install -y wrk")
    return found


def parse(output: str) -> WrkResult:
    """The WrkResult in wrk_paths.lua's summary line of `output`."""
    line = next((line for line in output.splitlines() if line.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    data = json.loads(line[len(MARKER):])
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "bad_status"))
    return WrkResult(requests=data["requests"], seconds=data["duration_us"] / 1e6, errors=errors,
                     p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000)


def run(base_url: str, paths: list[str], seconds: int, connections: int, threads: int = 1,
        body: str | None = None, delay_ms: int = 0) -> WrkResult:
    """Load `base_url` for `seconds` with requests spread evenly over `paths`.

    `body`: POST it as JSON instead of GET. `delay_ms`: each connection pauses that long between
    requests, for a fixed rate below the peak instead of as fast as possible.
    """
    env = {**os.environ, "WRK_DELAY_MS": str(delay_ms)}
    if body is not None:
        env["WRK_BODY"] = body
    argv = [binary(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", str(SCRIPT), base_url, "--", *paths]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk exited {result.returncode}:\n{result.stderr[-2000:]}")
    return parse(result.stdout)
