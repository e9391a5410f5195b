import pytest

from tests.integration.support import STACK_VERSION, disposable_stack


@pytest.fixture(scope="session")
def stack():
    """nginx → 3 replicas, 2 click workers, with a disposable PostgreSQL and Redis of its own."""
    with disposable_stack(replicas=3, workers=2, env={"CLICK_CLAIM_IDLE_MS": "2000",
                                                            "LINK_CREATE_RATE_LIMIT": "100000/minute",
                                                            "APP_VERSION": STACK_VERSION}) as running:
        yield running
