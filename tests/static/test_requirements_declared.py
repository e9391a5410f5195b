"""Every package an image or `make deploy` imports is pinned in the requirements file that installs it.

A package that arrives only as another one's dependency (the bot's `limits`, through Flask-Limiter)
works until that package changes its own requirements; then the image breaks on import.
"""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from local_stack.paths import REPO

# Which code each requirements file must cover: the app image installs app/; the worker image
# app/ and worker/; the machine that runs `make deploy` ops/ on top of the test environment.
TIERS = {
    "app": (["app/shortstack"], ["app/requirements.txt"]),
    "worker": (["worker"], ["app/requirements.txt", "worker/requirements.txt"]),
    "ops": (["ops"], ["ops/requirements.txt"]),
}
FIRST_PARTY = {"shortstack", "click_worker", "telegram_bot", "ops"}


def imported_modules(folder: Path) -> set[str]:
    """The top-level names of every absolute import in the .py files below `folder`."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - FIRST_PARTY - {"__future__"}


def pinned(files: list[str]) -> set[str]:
    names = set()
    for name in files:
        for line in (REPO / name).read_text().splitlines():
            match = re.match(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?==", line)
            if match:
                names.add(normalise(match.group(1)))
    return names


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@pytest.mark.parametrize("tier", TIERS)
def test_every_third_party_import_is_pinned_where_that_tier_installs_from(tier):
    folders, files = TIERS[tier]
    distributions = packages_distributions()
    declared = pinned(files)
    undeclared = {}
    for module in set().union(*(imported_modules(REPO / folder) for folder in folders)):
        provided_by = {normalise(d) for d in distributions.get(module, [])}
        assert provided_by, f"{module} is imported but not installed here; pin it and run make test-deps"
        if not provided_by & declared:
            undeclared[module] = sorted(provided_by)
    assert not undeclared, f"imported but not pinned in {', '.join(files)}: {undeclared}"
