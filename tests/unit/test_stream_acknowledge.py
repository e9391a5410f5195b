"""The stream consumers' one error policy: an acknowledgement that meets a Redis error is retried."""

import threading

import redis

from shortstack import streams
from shortstack.streams import StreamReader


class FlakyPipeline:
    """A pipeline whose execute() fails while the client says Redis is down."""

    def __init__(self, client: "FlakyRedis") -> None:
        self.client, self.commands = client, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        return lambda *args: self.commands.append((name, *args))

    def execute(self):
        if self.client.failures_left:
            self.client.failures_left -= 1
            raise redis.ConnectionError("Connection refused")
        self.client.executed.extend(self.commands)


class FlakyRedis:
    def __init__(self, failures: int) -> None:
        self.failures_left, self.executed = failures, []

    def pipeline(self, transaction: bool):
        return FlakyPipeline(self)


def test_an_acknowledgement_is_retried_until_redis_answers(monkeypatch):
    monkeypatch.setattr(streams, "RETRY_DELAY_S", 0.01)
    client = FlakyRedis(failures=2)
    reader = StreamReader(client, "s", "g", "c", batch_size=10, claim_idle_ms=1000)
    assert reader.acknowledge(["1-0"], [], "dead", threading.Event()) is True
    assert [command[0] for command in client.executed] == ["xack", "xdel"]


def test_a_consumer_told_to_stop_still_acknowledges_the_batch_it_finished():
    client, stop = FlakyRedis(failures=0), threading.Event()
    stop.set()
    reader = StreamReader(client, "s", "g", "c", batch_size=10, claim_idle_ms=1000)
    assert reader.acknowledge(["1-0"], [], "dead", stop) is True
    assert [command[0] for command in client.executed] == ["xack", "xdel"]


def test_a_consumer_told_to_stop_while_redis_is_away_leaves_the_entries_pending():
    client, stop = FlakyRedis(failures=10**9), threading.Event()
    stop.set()
    reader = StreamReader(client, "s", "g", "c", batch_size=10, claim_idle_ms=1000)
    assert reader.acknowledge(["1-0"], [], "dead", stop) is False
    assert client.executed == []
