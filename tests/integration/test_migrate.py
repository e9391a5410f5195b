"""The migrate job against a fresh database: two started at once both succeed, once each migration."""

import subprocess
import sys
import uuid

import psycopg

from local_stack.stack import APP_DIR
from shortstack.migrate import MIGRATIONS_DIR

MIGRATIONS = len(list(MIGRATIONS_DIR.glob("*.sql")))


def test_two_concurrent_migrate_jobs_both_succeed_and_apply_once(stack):
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = stack.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = stack.database_url.rsplit("/", 1)[0] + f"/{name}"
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
