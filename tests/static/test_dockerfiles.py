"""Every Dockerfile passes hadolint (the images cannot be built here)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(REPO.glob("*/Dockerfile")) + [REPO / "loadtest" / "scenarios" / "Dockerfile"]


def test_each_service_folder_with_a_build_has_a_dockerfile():
    assert {p.parent.name for p in DOCKERFILES} >= {"app", "nginx", "worker", "scenarios"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([Path(sys.executable).parent / "hadolint", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
