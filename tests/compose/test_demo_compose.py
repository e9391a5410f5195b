"""`make demo`, shortened: compose up, steady load, a scale-up while it runs, the chart and CSV kept."""

import csv
import subprocess
import sys
import uuid

from local_stack.processes import free_port
from tests.compose.project import REPO, compose_projects


def test_the_demo_scales_under_load_and_keeps_its_chart(tmp_path):
    out, project = tmp_path / "demo", f"shortstack-test-demo-{uuid.uuid4().hex[:6]}"
    result = subprocess.run([sys.executable, "-m", "loadtest.scaling_demo", "--steps", "1,2", "--step-seconds", "20",
                             "--http-port", str(free_port()), "--project", project, "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "demo.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["replicas"] for row in rows} == {"1", "2"}
    assert all(float(row["failures_per_s"]) == 0 for row in rows), rows
    assert sum(float(row["requests_per_s"]) > 0 for row in rows) > len(rows) // 2
    assert (out / "demo.png").stat().st_size > 10_000
    assert compose_projects(project) == []
