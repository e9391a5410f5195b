"""Where the repository's parts are, for the runner and the tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP_DIR = REPO / "app"
WORKER_DIR = REPO / "worker"
NGINX_DIR = REPO / "nginx"
DEFAULT_DATA_DIR = REPO / ".local"
