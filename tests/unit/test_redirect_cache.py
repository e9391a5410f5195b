from datetime import datetime, timezone

from shortstack.redirect_cache import CachedTarget


def test_cached_target_round_trips_and_knows_its_expiry():
    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    target = CachedTarget.from_cache(CachedTarget.of("https://example.com", expires).to_cache())
    assert target.url == "https://example.com"
    edge = int(expires.timestamp() * 1000)
    assert not target.is_expired(edge - 1)
    assert target.is_expired(edge)
    assert not CachedTarget.of("https://example.com", None).is_expired(10**15)
