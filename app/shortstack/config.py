"""Settings read from the environment (12-factor); every variable is listed in .env.example."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
# The PostgreSQL and Redis password docker-compose.yml and .env.example ship with.
DEFAULT_PASSWORD = "shortstack"


class ConfigError(Exception):
    """This process cannot run as configured: a setting is wrong, or what it names never answered.
    The message says what to fix; the entry points print it and exit (lifecycle.exit_on_config_error)."""


@dataclass(frozen=True)
class Settings:
    """Everything the app, the click worker and the migrate job read from the environment."""

    database_url: str
    redis_url: str
    secret_key: str
    public_base_url: str
    instance_id: str
    version: str
    link_cache_ttl: int
    negative_cache_ttl: int
    stats_cache_ttl: int
    db_pool_size: int
    click_batch_size: int
    click_batch_wait_ms: int
    click_stream_max_len: int
    click_spool_max_len: int
    click_claim_idle_ms: int
    worker_name: str
    worker_heartbeat_file: str
    worker_metrics_port: int
    migrate_wait_s: int
    downstream_delay_ms: int
    app_env: str
    block_private_targets: bool
    create_requires_key: bool
    link_create_rate_limit: str
    forward_query: bool
    telegram_bot_token: str
    telegram_api_url: str
    telegram_webhook_secret: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """Build settings from `env`, falling back to the defaults documented in .env.example."""
        hostname = socket.gethostname()
        app_env = _choice(env, "APP_ENV", ("development", "production"))
        # On the internet the block is the default; in development a link to a local server is fine.
        block_default = ("true", "false") if app_env == "production" else ("false", "true")
        return cls(
            database_url=env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/shortstack",
            redis_url=env.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
            secret_key=env.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            instance_id=env.get("INSTANCE_ID") or hostname,
            version=env.get("APP_VERSION") or "dev",
            link_cache_ttl=_int(env, "LINK_CACHE_TTL", 3600),
            negative_cache_ttl=_int(env, "NEGATIVE_CACHE_TTL", 30),
            stats_cache_ttl=_int(env, "STATS_CACHE_TTL", 5),
            db_pool_size=_int(env, "DB_POOL_SIZE", 4),
            click_batch_size=_int(env, "CLICK_BATCH_SIZE", 2000),
            click_batch_wait_ms=_int(env, "CLICK_BATCH_WAIT_MS", 200),
            click_stream_max_len=_int(env, "CLICK_STREAM_MAX_LEN", 100_000),
            click_spool_max_len=_int(env, "CLICK_SPOOL_MAX_LEN", 50_000),
            click_claim_idle_ms=_int(env, "CLICK_CLAIM_IDLE_MS", 30000),
            worker_name=env.get("WORKER_NAME") or f"{hostname}-{os.getpid()}",
            worker_heartbeat_file=env.get("WORKER_HEARTBEAT_FILE", ""),
            worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 0),
            migrate_wait_s=_int(env, "MIGRATE_WAIT_S", 30),
            downstream_delay_ms=_int(env, "DOWNSTREAM_DELAY_MS", 0),
            app_env=app_env,
            block_private_targets=_choice(env, "BLOCK_PRIVATE_TARGETS", block_default) == "true",
            create_requires_key=_choice(env, "CREATE_REQUIRES_KEY", ("false", "true")) == "true",
            link_create_rate_limit=env.get("LINK_CREATE_RATE_LIMIT") or "30/minute",
            forward_query=_choice(env, "FORWARD_QUERY", ("true", "false")) == "true",
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_api_url=(env.get("TELEGRAM_API_URL") or "https://api.telegram.org").rstrip("/"),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
        )


def check_production(settings: Settings) -> None:
    """Refuse to run in production with a secret or password anyone can read in this repository,
    or without the https address the cookies and HSTS rely on. Lists everything to fix at once."""
    if settings.app_env != "production":
        return
    missing = []
    if _published(settings.secret_key) or len(settings.secret_key) < 16:
        missing.append("SECRET_KEY set to a long random value "
                       "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    for name, url, source in (("DATABASE_URL", settings.database_url, "POSTGRES_PASSWORD"),
                              ("REDIS_URL", settings.redis_url, "REDIS_PASSWORD")):
        if _published(urlsplit(url).password or ""):
            missing.append(f"{name} with a password of your own, not the default (compose: {source})")
    if not settings.public_base_url.startswith("https://"):
        missing.append("PUBLIC_BASE_URL set to the https:// address people reach this at")
    if missing:
        raise ConfigError("APP_ENV=production needs " + "; ".join(missing) + ".")


def _published(secret: str) -> bool:
    """True for a value anyone can read in this repository: a default, or a placeholder of the
    example files (CHANGE-ME, kubernetes/secrets.env.example) copied without replacing it."""
    return secret in (DEFAULT_SECRET_KEY, DEFAULT_PASSWORD) or "change-me" in secret.lower()


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """The value of `name`, which must be one of `allowed`; the first is the default."""
    value = (env.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value
