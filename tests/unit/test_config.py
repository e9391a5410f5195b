import pytest

from shortstack.config import ConfigError, Settings, check_production
from shortstack.migrate import yoyo_url


def test_defaults_apply_to_empty_values():
    settings = Settings.from_env({"LINK_CACHE_TTL": "", "INSTANCE_ID": "", "DATABASE_URL": "", "REDIS_URL": ""})
    assert settings.link_cache_ttl == 3600
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/shortstack"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.instance_id  # falls back to the host name


def test_numbers_are_checked_with_a_readable_message():
    with pytest.raises(ConfigError, match="CLICK_BATCH_SIZE must be a whole number"):
        Settings.from_env({"CLICK_BATCH_SIZE": "lots"})


def test_yoyo_url_names_psycopg3():
    assert yoyo_url("postgresql://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert yoyo_url("postgres://h/db") == "postgresql+psycopg://h/db"
    with pytest.raises(ConfigError, match="postgresql://"):
        yoyo_url("mysql://h/db")


PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "x" * 32, "PUBLIC_BASE_URL": "https://sho.rt",
              "DATABASE_URL": "postgresql://shortstack:a-real-one@postgres:5432/shortstack",
              "REDIS_URL": "redis://:another-real-one@redis:6379/0"}


@pytest.mark.parametrize("secret", ["", "dev-insecure-change-me", "short", "CHANGE-ME-AS-WELL"])
def test_production_refuses_a_missing_or_default_secret(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_production(Settings.from_env({**PRODUCTION, "SECRET_KEY": secret}))


@pytest.mark.parametrize("setting, value, words", [
    ("DATABASE_URL", "postgresql://shortstack:shortstack@postgres:5432/shortstack", "POSTGRES_PASSWORD"),
    ("REDIS_URL", "redis://:shortstack@redis:6379/0", "REDIS_PASSWORD"),
    # kubernetes/secrets.env.example's placeholders, copied without replacing them
    ("DATABASE_URL", "postgresql://shortstack:CHANGE-ME@postgres:5432/shortstack", "POSTGRES_PASSWORD"),
    ("REDIS_URL", "redis://:CHANGE-ME-TOO@redis:6379/0", "REDIS_PASSWORD"),
    ("PUBLIC_BASE_URL", "http://sho.rt", "https://"),
    ("PUBLIC_BASE_URL", "", "https://"),
])
def test_production_refuses_default_passwords_and_plain_http(setting, value, words):
    with pytest.raises(ConfigError, match=words):
        check_production(Settings.from_env({**PRODUCTION, setting: value}))


def test_production_lists_everything_to_fix_at_once():
    with pytest.raises(ConfigError) as refused:
        check_production(Settings.from_env({"APP_ENV": "production", "REDIS_URL": "redis://:shortstack@r:6379/0"}))
    assert all(words in str(refused.value) for words in ("SECRET_KEY", "REDIS_PASSWORD", "PUBLIC_BASE_URL"))


def test_production_accepts_real_settings_and_development_anything():
    check_production(Settings.from_env(PRODUCTION))
    check_production(Settings.from_env({"APP_ENV": "development", "SECRET_KEY": "",
                                        "DATABASE_URL": "postgresql://shortstack:shortstack@postgres/shortstack"}))


def test_an_empty_secret_key_means_the_default_and_the_form_page_renders():
    # `SECRET_KEY=` exported empty, as .env.example allows for every setting ("Empty means unset").
    from shortstack.web import create_app
    settings = Settings.from_env({"SECRET_KEY": ""})
    assert settings.secret_key == "dev-insecure-change-me"
    assert create_app(settings).test_client().get("/").status_code == 200


def test_production_sends_hsts_and_secure_session_cookies():
    from shortstack.web import create_app
    for settings, hsts, secure in ((Settings.from_env(PRODUCTION), "max-age=31536000", True),
                                   (Settings.from_env({}), None, False)):
        app = create_app(settings)
        assert app.test_client().get("/healthz").headers.get("Strict-Transport-Security") == hsts
        assert app.session_interface.get_cookie_secure(app) is secure


def test_unknown_app_env_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV must be one of"):
        Settings.from_env({"APP_ENV": "prod"})


def test_private_targets_are_blocked_by_default_in_production_only():
    assert Settings.from_env(PRODUCTION).block_private_targets is True
    assert Settings.from_env({}).block_private_targets is False
    assert Settings.from_env({**PRODUCTION, "BLOCK_PRIVATE_TARGETS": "false"}).block_private_targets is False
    assert Settings.from_env({"BLOCK_PRIVATE_TARGETS": "true"}).block_private_targets is True
