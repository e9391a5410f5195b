"""`make bench QUICK=1` end to end: it leaves the report, the plot, the summary and Locust's CSVs."""

import csv
import subprocess
import sys

from local_stack.stack import REPO


def test_quick_bench_writes_its_results(tmp_path):
    out = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "loadtest.bench", "--quick", "--out", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (out / "report.md").read_text()
    for heading in ("## Ceilings", "## Scaling", "## I/O-bound", "USL fit"):
        assert heading in report
    assert (out / "scaling.png").stat().st_size > 10_000
    with open(out / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["experiment"] for row in rows} == {"ceiling", "scaling", "worker-class"}
    assert all(float(row["rps"]) > 0 and float(row["failure_ratio"]) == 0 for row in rows), rows
    assert len(list(out.glob("*_stats.csv"))) == len(rows)
