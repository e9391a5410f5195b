"""Every environment variable the code reads is listed, with its default, in .env.example."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = [*REPO.glob("app/**/*.py"), *REPO.glob("local_stack/*.py")]


def test_every_variable_read_is_in_env_example():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    read = set()
    for source in SOURCES:
        read |= set(re.findall(r"""(?:environ\.get|env\.get|_int\(env,|_env_int\()\s*\(?["']([A-Z][A-Z0-9_]*)["']""",
                               source.read_text()))
    assert read, "found no environment reads; the pattern is stale"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"
