import pytest

from shortstack.config import Settings
from shortstack.migrate import yoyo_url


def test_defaults_apply_to_empty_values():
    settings = Settings.from_env({"LINK_CACHE_TTL": "", "INSTANCE_ID": "", "DATABASE_URL": "", "REDIS_URL": ""})
    assert settings.link_cache_ttl == 3600
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/shortstack"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.instance_id  # falls back to the host name


def test_numbers_are_checked_with_a_readable_message():
    with pytest.raises(SystemExit, match="CLICK_BATCH_SIZE must be a whole number"):
        Settings.from_env({"CLICK_BATCH_SIZE": "lots"})


def test_yoyo_url_names_psycopg3():
    assert yoyo_url("postgresql://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert yoyo_url("postgres://h/db") == "postgresql+psycopg://h/db"
    with pytest.raises(SystemExit, match="postgresql://"):
        yoyo_url("mysql://h/db")


@pytest.mark.parametrize("secret", ["", "dev-insecure-change-me", "short"])
def test_production_refuses_a_missing_or_default_secret(secret):
    from shortstack.config import check_production
    with pytest.raises(SystemExit, match="SECRET_KEY"):
        check_production(Settings.from_env({"APP_ENV": "production", "SECRET_KEY": secret}))


def test_production_accepts_a_real_secret_and_development_anything():
    from shortstack.config import check_production
    check_production(Settings.from_env({"APP_ENV": "production", "SECRET_KEY": "x" * 32}))
    check_production(Settings.from_env({"APP_ENV": "development", "SECRET_KEY": ""}))


def test_unknown_app_env_is_refused():
    with pytest.raises(SystemExit, match="APP_ENV must be one of"):
        Settings.from_env({"APP_ENV": "prod"})
