import pytest

from shortstack.config import Settings
from shortstack.migrate import yoyo_url


def test_defaults_apply_to_empty_values():
    settings = Settings.from_env({"LINK_CACHE_TTL": "", "INSTANCE_ID": ""})
    assert settings.link_cache_ttl == 3600
    assert settings.instance_id  # falls back to the host name


def test_numbers_are_checked_with_a_readable_message():
    with pytest.raises(SystemExit, match="CLICK_BATCH_SIZE must be a whole number"):
        Settings.from_env({"CLICK_BATCH_SIZE": "lots"})


def test_yoyo_url_names_psycopg3():
    assert yoyo_url("postgresql://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert yoyo_url("postgres://h/db") == "postgresql+psycopg://h/db"
    with pytest.raises(SystemExit, match="postgresql://"):
        yoyo_url("mysql://h/db")
