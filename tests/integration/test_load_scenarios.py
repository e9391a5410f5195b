"""The Locust scenarios run headless against the stack: every check passes, every user acts."""

import csv
import subprocess
from pathlib import Path

from loadtest.runners import LOCUST, SCENARIOS
from loadtest.scenarios.seed import ensure_seeds
from shortstack.redirect_cache import CachedTarget
from tests.integration.support import cache


def run_locust(stack, prefix: Path, locustfile: str, users: int, seconds: int, *classes: str,
               exit_code: int = 0) -> dict[str, dict]:
    """Run Locust headless; returns its stats rows by name. Locust exits 1 when any check failed."""
    result = subprocess.run([LOCUST, "-f", locustfile, "--headless", "-u", str(users), "-r", str(users),
                             "-t", f"{seconds}s", "--host", stack.url, "--csv", str(prefix), "--only-summary",
                             *classes], cwd=SCENARIOS, capture_output=True, text=True, timeout=120)
    assert result.returncode == exit_code, result.stdout[-3000:] + result.stderr[-3000:]
    with open(f"{prefix}_stats.csv") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def test_mixed_scenario_runs_clean(stack, tmp_path):
    # Seed first: creating 100 links under the edge limit takes seconds of the run otherwise, and
    # the one analyst (a request every 0.2–1 s) might not get to every task.
    ensure_seeds(stack.url)
    stats = run_locust(stack, tmp_path / "mixed", "locustfile.py", 8, 6)
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    for name in ("/[code]", "/[unknown code]", "/api/v1/links", "/api/v1/links/[code]"):
        assert int(stats[name]["Request Count"]) > 0, f"no {name} requests"


def test_a_wrong_redirect_counts_as_a_failure(stack, tmp_path):
    ensure_seeds(stack.url)
    # Poison the cache of the most popular seed: the API still says the right target, redirects do not.
    cache(stack).set("link:seed-0001", CachedTarget("https://example.com/wrong", None).to_cache(), ex=60)
    try:
        stats = run_locust(stack, tmp_path / "wrong", "locustfile.py", 2, 3, "Visitor", exit_code=1)
        assert int(stats["/[code]"]["Failure Count"]) > 0
    finally:
        cache(stack).delete("link:seed-0001")
