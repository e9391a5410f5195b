"""`make bench-compose QUICK=1` end to end: a project of its own, scaled 1 → 2 for each scaling
experiment, measured, removed."""

import csv
import subprocess
import sys

from tests.compose.project import REPO, compose_projects


def test_the_compose_scaling_experiment_writes_its_results_and_leaves_no_project(tmp_path):
    out = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "loadtest.bench", "--compose", "--quick", "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["experiment"], row["replicas"]) for row in rows] == [
        ("scaling-mixed", "1"), ("scaling-mixed", "2"), ("scaling-io", "1"), ("scaling-io", "2")]
    assert all(float(row["rps"]) > 0 and float(row["failure_ratio"]) == 0 for row in rows), rows
    # CPU per compose service, from docker stats: the app replicas and nginx did the work.
    mixed = [row for row in rows if row["experiment"] == "scaling-mixed"]
    assert all(float(row["cpu_app_pct"]) > 0 and float(row["cpu_nginx_pct"]) > 0 for row in mixed), rows
    report = (out / "report.md").read_text()
    assert "## Scaling where the replica is the limit" in report and "## Scaling where the CPU is the limit" in report
    assert compose_projects("shortstack-bench-") == []
