"""The migrate job against a fresh database: two started at once both succeed, once each migration."""

import shutil
import subprocess
import sys
import uuid

import psycopg
from yoyo import read_migrations

from local_stack.paths import APP_DIR
from shortstack.migrate import MIGRATIONS_DIR, migrate

MIGRATIONS = len(list(MIGRATIONS_DIR.glob("*.sql")))


def fresh_database(stack) -> str:
    """The URL of a new, empty database on the stack's PostgreSQL."""
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = stack.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return stack.database_url.rsplit("/", 1)[0] + f"/{name}"


def test_two_concurrent_migrate_jobs_both_succeed_and_apply_once(stack):
    url = fresh_database(stack)
    jobs = [subprocess.Popen([sys.executable, "-m", "shortstack.migrate"], cwd=APP_DIR, env={"DATABASE_URL": url},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [job.communicate(timeout=90)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outputs
    assert sum(f"applied {MIGRATIONS} migration" in out for out in outputs) == 1, outputs
    assert sum("applied 0 migration" in out for out in outputs) == 1, outputs
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()[0] == MIGRATIONS
        assert conn.execute("SELECT to_regclass('links'), to_regclass('clicks')").fetchone() == ("links", "clicks")


def test_migrate_explains_an_unreachable_database():
    result = subprocess.run([sys.executable, "-m", "shortstack.migrate"], cwd=APP_DIR, capture_output=True, text=True,
                            env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "MIGRATE_WAIT_S": "2"},
                            timeout=90)
    assert result.returncode != 0
    assert "PostgreSQL did not accept connections" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rerun_on_an_up_to_date_database_writes_no_error_to_postgresql(stack):
    # compose re-runs the job on every `up`: it must not touch yoyo's lock or probe tables then.
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE yoyo_lock")
        conn.execute("ALTER TABLE yoyo_lock RENAME TO yoyo_lock_hidden")
        try:
            result = subprocess.run([sys.executable, "-m", "shortstack.migrate"], cwd=APP_DIR, capture_output=True,
                                    text=True, env={"DATABASE_URL": stack.database_url}, timeout=90)
            recreated = conn.execute("SELECT to_regclass('yoyo_lock')").fetchone()[0]
        finally:
            conn.execute("DROP TABLE IF EXISTS yoyo_lock")
            conn.execute("ALTER TABLE yoyo_lock_hidden RENAME TO yoyo_lock")
    assert result.returncode == 0, result.stderr
    assert "applied 0 migration" in result.stderr
    assert recreated is None, "the re-run opened yoyo's lock"


def test_upgrading_keeps_old_links_public_and_counts_their_clicks(stack, tmp_path):
    url = fresh_database(stack)
    before_owners = tmp_path / "migrations"
    before_owners.mkdir()
    for older in sorted(MIGRATIONS_DIR.glob("*.sql"))[:2]:  # links, clicks and the bot's table only
        shutil.copy(older, before_owners)
    migrate(url, read_migrations(str(before_owners)))
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO links (code, url, click_count) VALUES ('old1', 'https://User@Old.Example./a', 3)")
        conn.execute("INSERT INTO clicks VALUES ('1-0', 'old1', now() - interval '2 days', 'news.example', 'Other',"
                     " false), ('2-0', 'old1', now(), NULL, 'Googlebot', true), ('3-0', 'old1', now(), NULL, 'Other',"
                     " false)")

    migrate(url, read_migrations(str(MIGRATIONS_DIR)))
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT public_stats, target_host, bot_click_count FROM links").fetchone() == (
            True, "old.example", 1)
        assert conn.execute("SELECT sum(clicks), count(*) FROM clicks_hourly").fetchone() == (3, 2)
        assert conn.execute("SELECT referrer_host, clicks FROM referrer_counts ORDER BY 1").fetchall() == [
            ("", 2), ("news.example", 1)]
        assert conn.execute("SELECT count(*) FROM clicks").fetchone()[0] == 3  # nothing lost on the way
        # Expand-only: a worker and a replica of the previous version, mid-deploy, still write and read.
        conn.execute("INSERT INTO clicks (stream_id, code, clicked_at, referrer_host, ua_family, is_bot)"
                     " VALUES ('4-0', 'old1', now(), NULL, 'Other', false)")
        assert conn.execute("SELECT click_count, bot_click_count FROM links").fetchone() == (3, 1)
