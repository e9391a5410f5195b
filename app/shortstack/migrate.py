"""The migrate job: apply pending SQL migrations, then exit. Safe when two start at once.

Run as `python -m shortstack.migrate`. yoyo records applied migrations in PostgreSQL and holds
its lock table while applying, so a second concurrent run waits and then finds nothing to do.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from .backends import connect_db
from .config import ConfigError, Settings
from .lifecycle import configure_logging, exit_on_config_error

log = logging.getLogger("shortstack.migrate")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_TIMEOUT_S = 60


def yoyo_url(database_url: str) -> str:
    """yoyo names its PostgreSQL driver in the URL scheme; psycopg 3 is `postgresql+psycopg`."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"DATABASE_URL must start with postgresql://, got {database_url!r}")
    return f"postgresql+psycopg://{rest}"


def wait_for_database(database_url: str, seconds: float) -> None:
    """Return once PostgreSQL accepts a connection; ConfigError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connect_db(database_url).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ConfigError(f"PostgreSQL did not accept connections within {seconds:.0f}s: {exc}") from None
            time.sleep(0.5)


def up_to_date(database_url: str, migrations: MigrationList) -> bool:
    """True when yoyo has recorded every migration file as applied.

    compose starts this job again on every `up` (each `--scale` too). Asked with one plain query,
    a re-run then leaves without opening a yoyo backend, whose feature probe and lock table
    write ERROR lines into PostgreSQL's log by design."""
    wanted = {migration.hash for migration in migrations}
    with connect_db(database_url) as conn:
        if conn.execute("SELECT to_regclass('_yoyo_migration')").fetchone()[0] is None:
            return False
        applied = {row[0] for row in conn.execute("SELECT migration_hash FROM _yoyo_migration")}
    return wanted <= applied


def migrate(database_url: str, migrations: MigrationList) -> list[str]:
    """Apply every pending migration; returns the ids applied by this run."""
    backend = get_backend(yoyo_url(database_url))
    with backend.lock(timeout=LOCK_TIMEOUT_S):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


@exit_on_config_error
def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    wait_for_database(settings.database_url, settings.migrate_wait_s)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    if up_to_date(settings.database_url, migrations):
        log.info("applied 0 migration(s): the database is up to date")
        return
    applied = migrate(settings.database_url, migrations)
    log.info("applied %d migration(s): %s", len(applied), ", ".join(applied) or "none pending")


if __name__ == "__main__":
    sys.exit(main())
