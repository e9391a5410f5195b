import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The app package lives in app/ (its Docker build context); the runner at the repo root.
for path in (REPO / "app", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
