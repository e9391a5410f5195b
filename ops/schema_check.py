"""The expand/contract rule, checked before a deploy changes anything.

During a rolling deploy the old replicas keep serving after the new version's migrations ran, so a
deploy's migrations may only add what the new code needs and old code ignores (expand). Dropping
or renaming a table or column, or changing a column's type, must wait until a version that no
longer uses it is the one running (contract) — docs/operations.md, "Migrations during a deploy".

The migrations are parsed with PostgreSQL's own parser (pglast), and a name counts as used when the
running version's code (Python, templates, scripts; its migrations aside) mentions it as a word.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from .compose import OperationError, Project, run

PACKAGE_DIR = "/srv/app/shortstack"  # where app/Dockerfile puts the package
CODE_SUFFIXES = (".py", ".html", ".js", ".lua", ".sql")


@dataclass(frozen=True)
class Contraction:
    """One statement that takes something away from the schema an older version may still use."""

    action: str  # "drops", "renames", "moves", "changes the type of"
    table: str
    column: str | None = None
    unreadable: bool = False  # the check cannot tell what it takes away: refused whatever the code uses

    @property
    def names(self) -> tuple[str, ...]:
        """The names old code would use: the column's when one is named, else the table's."""
        return (self.column,) if self.column else (self.table,)

    def __str__(self) -> str:
        if self.unreadable:
            return f"{self.action} {self.table}, which this check cannot read through"
        return f"{self.action} {'column ' + self.table + '.' + self.column if self.column else 'table ' + self.table}"


# Relations old code may read by name: tables, and the views that stand in for them.
RELATIONS = {ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW,
             ObjectType.OBJECT_FOREIGN_TABLE}


def contractions(sql: str) -> list[Contraction]:
    """Every drop, rename or move of a table (or view) or column, every column type change, and
    whatever the check cannot see into (DO blocks, schemas dropped or renamed), in `sql`.

    Raises OperationError if `sql` is not valid PostgreSQL."""
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise OperationError(f"a migration does not parse as PostgreSQL: {exc}") from None
    found: list[Contraction] = []
    for raw in statements:
        statement = raw.stmt
        if isinstance(statement, ast.DoStmt):
            found.append(Contraction("runs", "a DO block", unreadable=True))
        elif isinstance(statement, ast.DropStmt) and statement.removeType in RELATIONS:
            found += [Contraction("drops", name[-1].sval) for name in statement.objects]
        elif isinstance(statement, ast.DropStmt) and statement.removeType == ObjectType.OBJECT_SCHEMA:
            found += [Contraction("drops", f"schema {name.sval}", unreadable=True) for name in statement.objects]
        elif isinstance(statement, ast.AlterObjectSchemaStmt) and statement.objectType in RELATIONS:
            found.append(Contraction("moves", statement.relation.relname))
        elif isinstance(statement, ast.RenameStmt):
            if statement.renameType in RELATIONS:
                found.append(Contraction("renames", statement.relation.relname))
            elif statement.renameType == ObjectType.OBJECT_COLUMN:
                found.append(Contraction("renames", statement.relation.relname, statement.subname))
            elif statement.renameType == ObjectType.OBJECT_SCHEMA:
                found.append(Contraction("renames", f"schema {statement.subname}", unreadable=True))
        elif isinstance(statement, ast.AlterTableStmt):
            for command in statement.cmds:
                if command.subtype == AlterTableType.AT_DropColumn:
                    found.append(Contraction("drops", statement.relation.relname, command.name))
                elif command.subtype == AlterTableType.AT_AlterColumnType:
                    found.append(Contraction("changes the type of", statement.relation.relname, command.name))
    return found


def users(name: str, code: dict[str, str]) -> list[str]:
    """The files of `code` (path -> text) that mention `name` as a whole word."""
    word = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    return sorted(path for path, text in code.items() if word.search(text))


def violations(pending: dict[str, str], running_code: dict[str, str]) -> list[str]:
    """One line per pending migration (id -> SQL) statement that takes away what the running
    code still uses; empty when the deploy may go ahead."""
    lines = []
    for migration, sql in sorted(pending.items()):
        for contraction in contractions(sql):
            if contraction.unreadable:
                lines.append(f"{migration} {contraction}")
                continue
            for name in contraction.names:
                used_in = users(name, running_code)
                if used_in:
                    lines.append(f"{migration} {contraction}, which the running version still uses "
                                 f"({', '.join(used_in)})")
    return lines


def check(project: Project, new_image: str, running_images: set[str]) -> None:
    """Raise OperationError, naming each offending statement, if the migrations `new_image` would
    apply take away a table or column that the code of any of `running_images` uses."""
    applied = set(project.compose("exec", "-T", "postgres", "sh", "-c",
                                  'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Atc '
                                  '"SELECT migration_id FROM _yoyo_migration"').stdout.decode().split())
    # yoyo's migration ids are the file names without .sql (or .py); rollback files are not applied.
    files = {path.rsplit("/", 1)[-1]: text for path, text in _files(new_image, "migrations").items()
             if path.endswith((".sql", ".py")) and not path.endswith(".rollback.sql")}
    pending = {name: text for name, text in files.items() if name.rsplit(".", 1)[0] not in applied}
    if not pending:
        return
    python = sorted(name for name in pending if name.endswith(".py"))
    if python:
        raise OperationError(f"pending Python migrations ({', '.join(python)}) cannot be checked against the "
                             "running code: write migrations in SQL (docs/operations.md, expand and contract)")
    pending = {name.removesuffix(".sql"): sql for name, sql in pending.items()}
    running_code = {f"{image[7:19]}:{path}": text for image in running_images
                    for path, text in _files(image, ".").items()
                    if path.endswith(CODE_SUFFIXES) and "migrations/" not in path}
    problems = violations(pending, running_code)
    if problems:
        raise OperationError("the pending migrations break the version still serving during the rollout:\n  "
                             + "\n  ".join(problems)
                             + "\nShip the code that stops using these first; remove them a deploy later "
                               "(docs/operations.md, expand and contract). If you are sure nothing running uses "
                               "them, apply the migrations first (IMAGE_TAG=<the new version> docker compose run "
                               "--rm migrate), then deploy.")


def _files(image: str, folder: str) -> dict[str, str]:
    """Text files under `folder` of the package in `image`, by path."""
    archive = run(["docker", "run", "--rm", "--entrypoint", "tar", image, "-C", PACKAGE_DIR, "-c", folder]).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {member.name: tar.extractfile(member).read().decode(errors="replace")
                for member in tar.getmembers() if member.isfile()}
