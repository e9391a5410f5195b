"""The expand/contract rule make deploy checks: what a migration takes away, and whether the
running code still uses it."""

import pytest

from ops.compose import OperationError
from ops.schema_check import Contraction, contractions, violations

RUNNING = {"links.py": "SELECT code, url, click_count FROM links", "clicks.py": "INSERT INTO clicks (stream_id)"}


@pytest.mark.parametrize("sql, expected", [
    ("ALTER TABLE links DROP COLUMN click_count;", [Contraction("drops", "links", "click_count")]),
    ("ALTER TABLE links DROP COLUMN IF EXISTS a, DROP COLUMN b;",
     [Contraction("drops", "links", "a"), Contraction("drops", "links", "b")]),
    ("ALTER TABLE links RENAME COLUMN url TO target;", [Contraction("renames", "links", "url")]),
    ("ALTER TABLE public.clicks RENAME TO visits;", [Contraction("renames", "clicks")]),
    ("DROP TABLE IF EXISTS clicks, public.old_things CASCADE;",
     [Contraction("drops", "clicks"), Contraction("drops", "old_things")]),
    ("ALTER TABLE links ALTER COLUMN click_count TYPE integer;",
     [Contraction("changes the type of", "links", "click_count")]),
    ("ALTER TABLE links SET SCHEMA archive;", [Contraction("moves", "links")]),
    ("DROP VIEW link_totals; ALTER VIEW clicks_v RENAME TO clicks_w;",
     [Contraction("drops", "link_totals"), Contraction("renames", "clicks_v")]),
])
def test_every_way_of_taking_a_table_or_column_away_is_found(sql, expected):
    assert contractions(sql) == expected


def test_what_only_adds_is_not_a_contraction():
    sql = """CREATE TABLE tags (code text PRIMARY KEY);
             ALTER TABLE links ADD COLUMN note text, ALTER COLUMN url SET NOT NULL;
             CREATE INDEX links_note ON links (note); DROP INDEX IF EXISTS links_old;
             UPDATE links SET note = '';"""
    assert contractions(sql) == []


def test_a_contraction_of_what_the_running_code_uses_is_refused_and_of_what_it_no_longer_uses_allowed():
    pending = {"0005_contract": "ALTER TABLE links DROP COLUMN click_count; ALTER TABLE links DROP COLUMN legacy;"}
    [problem] = violations(pending, RUNNING)
    assert problem.startswith("0005_contract drops column links.click_count") and "links.py" in problem
    assert violations({"0006": "DROP TABLE legacy_stats;"}, RUNNING) == []


@pytest.mark.parametrize("sql", [
    "DO $$ BEGIN EXECUTE 'ALTER TABLE links RENAME COLUMN url TO target_url'; END $$;",
    "DROP SCHEMA public CASCADE;",
    "ALTER SCHEMA public RENAME TO old;",
])
def test_what_the_check_cannot_read_through_is_refused_whatever_the_code_uses(sql):
    [problem] = violations({"0009_opaque": sql}, {})
    assert problem.startswith("0009_opaque ") and "cannot read through" in problem


def test_names_match_as_whole_words_only():
    assert violations({"0007": "ALTER TABLE links DROP COLUMN ur;"}, RUNNING) == []
    assert violations({"0008": "DROP TABLE click;"}, RUNNING) == []


def test_a_migration_that_is_not_postgresql_stops_the_deploy_with_a_clear_error():
    with pytest.raises(OperationError, match="does not parse as PostgreSQL"):
        contractions("ALTER TABLE links DROP COLUM x;")
