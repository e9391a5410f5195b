"""The alert and recording rules: checked and unit-tested by promtool (Debian's `prometheus`), and
every shortstack metric they read is one the app or the click worker exports."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import Metric

from shortstack import metrics

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: `make test-deps` installs Debian's prometheus package")
    return subprocess.run([tool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120)


def test_every_alert_fires_when_it_should_and_only_then():
    result = promtool("test", "rules", "rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_config_and_its_rules_are_valid():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_waits_and_says_what_to_do():
    rules = (PROMETHEUS_DIR / "rules.yml").read_text()
    alerts = re.findall(r"- alert: (\w+)\n((?:\s{8}.*\n)+)", rules)
    assert len(alerts) >= 10
    for name, body in alerts:
        assert re.search(r"^\s+for: \d+m$", body, re.M), f"{name} has no `for:`"
        assert "summary:" in body and "description:" in body, f"{name} does not say what to do"
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS_DIR / "rules.test.yml").read_text()))
    assert {name for name, _ in alerts} <= tested


class FakeRedis:
    """What the click stream collector reads: the stream's length and the dropped count."""

    def xlen(self, stream: str) -> int:
        return 3

    def get(self, key: str) -> bytes:
        return b"1"


def exported_names(families: list[Metric]) -> set[str]:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def test_the_rules_read_only_metrics_that_are_exported():
    families = list(metrics.REGISTRY.collect()) + list(metrics.ClickStreamCollector(FakeRedis()).collect())
    # Not the recording rules' own names (level:metric:operation).
    read = set(re.findall(r"(?<![:\w])(shortstack_[a-z_]+)\b(?!:)", (PROMETHEUS_DIR / "rules.yml").read_text()))
    assert len(read) >= 6
    assert read <= exported_names(families), sorted(read - exported_names(families))
