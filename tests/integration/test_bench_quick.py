"""`make bench QUICK=1` end to end: it leaves the report, the plot, the summary and the load tools' raw files."""

import csv
import subprocess
import sys

import pytest

from local_stack.paths import REPO

EXPERIMENTS = {"ceiling", "at-70%", "hot-path-workers", "ingest", "stats-cost", "scaling-mixed", "scaling-io",
               "worker-class"}


@pytest.mark.timeout(360)
def test_quick_bench_writes_its_results(tmp_path):
    out = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "loadtest.bench", "--quick", "--out", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=330)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (out / "report.md").read_text()
    for heading in ("## Ceilings", "## The redirect by gunicorn worker class", "## Click ingest",
                    "## Stats of a link with many clicks", "Throughput with 50000 clicks / with 1000 clicks",
                    "## Scaling where the replica is the limit", "## Scaling where the CPU is the limit",
                    "## I/O-bound", "USL fit", "The redirect runs at"):
        assert heading in report
    assert (out / "scaling.png").stat().st_size > 10_000
    with open(out / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["experiment"] for row in rows} == EXPERIMENTS
    assert all(float(row["rps"]) > 0 and float(row["failure_ratio"]) == 0 for row in rows), rows
    ingest, classified = (row for row in rows if row["experiment"] == "ingest")
    assert int(ingest["requests"]) == 20_000 and float(ingest["cpu_worker_pct"]) > 0
    assert int(classified["requests"]) == 2_000 and "With a new User-Agent per click" in report
    locust_runs = [row for row in rows if row["experiment"] in ("scaling-mixed", "scaling-io", "worker-class")]
    assert len(list(out.glob("*_stats.csv"))) == len(locust_runs)
    assert len(list(out.glob("*.json"))) == len(rows) - len(locust_runs) - 2  # every wrk run but the ingests
