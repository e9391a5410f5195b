"""Start the Shortstack topology from local binaries on loopback ports, for machines without Docker.

One job: start PostgreSQL and Redis (unless URLs are given), run the migrations, start N app
replicas (gunicorn), M click workers and nginx in front, wait until they answer, and stop them
all again. `make local`, the integration tests and `make bench` all use it. It is a test and
demo harness, not an orchestrator: production runs on Docker Compose.
"""

from .processes import MissingBinary, StackError
from .runner import LocalStack

__all__ = ["LocalStack", "MissingBinary", "StackError"]
