"""The Redis circuit breaker and the click spool against a Redis that is not there: a loopback
port nothing listens on refuses at once (no mock)."""

import pytest
import redis

from local_stack.processes import free_port
from shortstack import backends
from shortstack.backends import Backends, RedisUnavailable
from shortstack.clickspool import ClickSpool
from shortstack.clickstream import ClickEvent
from shortstack.config import Settings


@pytest.fixture
def gone() -> Backends:
    return Backends(Settings.from_env({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}))


def ping(backends: Backends, probe: bool = False) -> None:
    with backends.redis_call(probe=probe) as client:
        client.ping()


def test_after_one_failure_redis_is_not_tried_until_a_probe(gone):
    with pytest.raises(redis.ConnectionError) as first:
        ping(gone)
    assert not isinstance(first.value, RedisUnavailable) and gone.redis_down
    for _ in range(3):
        with pytest.raises(RedisUnavailable):  # not tried: no connection attempt
            ping(gone)
    with pytest.raises(redis.ConnectionError) as probed:
        ping(gone, probe=True)
    assert not isinstance(probed.value, RedisUnavailable)  # a probe is always tried
    assert gone.redis_down


def test_without_a_heartbeat_one_ordinary_call_probes_after_the_retry_time(gone, monkeypatch):
    monkeypatch.setattr(backends, "REDIS_RETRY_S", 0.0)
    with pytest.raises(redis.ConnectionError):
        ping(gone)
    assert gone.redis_down
    with pytest.raises(redis.ConnectionError) as tried:
        ping(gone)
    assert not isinstance(tried.value, RedisUnavailable)


def test_other_errors_leave_the_breaker_closed(gone):
    with pytest.raises(ValueError), gone.redis_call():
        raise ValueError("not Redis's fault")
    assert not gone.redis_down


def test_the_spool_is_bounded_and_gives_each_click_its_own_id():
    spool = ClickSpool(max_len=3)
    assert all(spool.add(ClickEvent(code="abc", at_ms=i)) for i in range(3))
    assert not spool.add(ClickEvent(code="abc", at_ms=4))
    assert len(spool) == 3
    assert len({event.click_id for event in spool._events}) == 3 and ClickSpool(1)._prefix != spool._prefix


def test_a_failed_replay_keeps_every_click_in_order(gone):
    spool = ClickSpool(max_len=1000)
    for i in range(700):
        spool.add(ClickEvent(code="abc", at_ms=i))
    with pytest.raises(redis.ConnectionError):
        spool.replay(gone.redis, 100_000)
    assert [event.at_ms for event in spool._events] == list(range(700))
