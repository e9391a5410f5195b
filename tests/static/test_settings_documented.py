"""Every environment variable the code reads is listed, with its default, in .env.example."""

import re
from pathlib import Path

from shortstack.config import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (REPO / ".env.example").read_text(), re.M))
# Read outside Settings: the gunicorn config, the local runner, the metrics folder.
OTHER_SOURCES = [REPO / "app" / "gunicorn.conf.py", *REPO.glob("app/shortstack/*.py"), *REPO.glob("local_stack/*.py")]


class RecordingEnv(dict):
    """A mapping that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_every_setting_is_documented_with_its_default():
    env = RecordingEnv()
    defaults = Settings.from_env(env)
    assert len(env.read) >= 20, "Settings reads fewer variables than it has fields: is it still reading env?"
    assert env.read <= set(EXAMPLE), f"undocumented: {sorted(env.read - set(EXAMPLE))}"
    # The value shown in .env.example is the one that applies when the variable is not set.
    assert Settings.from_env({name: EXAMPLE[name] for name in env.read}) == defaults


def test_every_other_variable_read_is_documented():
    read = set()
    for source in OTHER_SOURCES:
        read |= set(re.findall(r"""(?:environ\.get|environ\.setdefault|_env_int\()\s*\(?["']([A-Z][A-Z0-9_]*)["']""",
                               source.read_text()))
    assert {"REPLICAS", "PROMETHEUS_MULTIPROC_DIR"} <= read, "found too few environment reads; the pattern is stale"
    assert read <= set(EXAMPLE), f"undocumented: {sorted(read - set(EXAMPLE))}"
