import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The shared package lives in app/, the worker tier's scripts in worker/, the runner at the root.
for path in (REPO / "app", REPO / "worker", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
