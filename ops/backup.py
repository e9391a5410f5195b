"""make backup and make restore: PostgreSQL dumps of the running compose stack.

    python -m ops.backup dump            BACKUP_DIR/<project>-<UTC time>.dump (pg_dump's custom format)
    python -m ops.backup restore FILE    FILE back into the running stack's database

A dump is one consistent snapshot (pg_dump reads in a single repeatable-read transaction) taken
while the stack serves. It first waits (at most BACKUP_CLICKS_WAIT_S) until the click workers have
stored every click queued before the backup began, so a dump holds every redirect answered before
it: a click leaves Redis once stored, and one that was only queued at backup time would otherwise
be in no backup. A restore replaces every table by the dump's in one transaction (requests wait
on its locks meanwhile), applies the migrations the dump predates, and clears the links and
statistics the replicas cached; clicks still queued then are stored on top of it. Everything
written after the dump (links, keys, clicks already stored) is gone after a restore, as with any
restore. docs/operations.md, "Backups".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from .compose import REPO, OperationError, Project, int_setting, setting

# pg_dump's custom format starts with these bytes; anything else is refused before touching data.
CUSTOM_FORMAT_MAGIC = b"PGDMP"
IN_POSTGRES = 'exec {tool} -U "$POSTGRES_USER" -d "$POSTGRES_DB" {options}'  # run by sh in the container


def backup_dir() -> Path:
    """BACKUP_DIR, relative to the checkout as compose reads it."""
    return REPO / setting("BACKUP_DIR", "./backups")


def dump(project: Project, clicks_wait_s: int) -> Path:
    """Write a dump of the project's database into BACKUP_DIR and return its path."""
    _require_running(project)
    folder = backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if clicks_wait_s:
        _admin(project, "wait-for-clicks", "--timeout", str(clicks_wait_s))
    # Written under a name of its own first: an interrupted dump never looks like a backup, and
    # two backups started in the same second never write one file.
    handle, partial_name = tempfile.mkstemp(dir=folder, prefix=f".{project.name}-", suffix=".partial")
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as out:
            _postgres(project, "pg_dump", "--format=custom", stdout=out)
        path = _publish(partial, folder, f"{project.name}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
    finally:
        partial.unlink(missing_ok=True)
    print(f"backup: {path} ({path.stat().st_size / 1024:.0f} KiB, {time.monotonic() - started:.1f} s)")
    return path


def _publish(partial: Path, folder: Path, stem: str) -> Path:
    """Give the finished dump its name: STEM.dump, or STEM-2.dump… if that is taken (never replaced)."""
    for attempt in range(1, 100):
        path = folder / (f"{stem}.dump" if attempt == 1 else f"{stem}-{attempt}.dump")
        try:
            os.link(partial, path)  # fails if the name exists, unlike a rename
            return path
        except FileExistsError:
            continue
    raise OperationError(f"{folder} holds 99 dumps named {stem}*: remove some")


def restore(project: Project, path: Path) -> None:
    """Replace the project's database by the dump at `path`, then bring schema and Redis in line."""
    if not path.is_file():
        raise OperationError(f"{path} is not a file: name a dump, e.g. make restore "
                             f"FILE={os.path.relpath(backup_dir(), Path.cwd())}/<name>.dump")
    with open(path, "rb") as given:
        if given.read(len(CUSTOM_FORMAT_MAGIC)) != CUSTOM_FORMAT_MAGIC:
            raise OperationError(f"{path} is not a pg_dump custom-format file (make backup writes those); "
                                 "nothing was changed")
    _require_running(project)
    started = time.monotonic()
    try:
        with open(path, "rb") as given:
            _postgres(project, "pg_restore", "--clean --if-exists --single-transaction --exit-on-error --no-owner",
                      stdin=given)
    except OperationError as exc:
        raise OperationError(f"{exc}\nThe restore runs in one transaction: the database is as it was.") from None
    project.run_once("migrate")
    cleared = _admin(project, "clear-cache")
    print(f"restore: {path.name} restored into {project.name} in {time.monotonic() - started:.1f} s. {cleared}")


def _require_running(project: Project) -> None:
    if not project.running("postgres"):
        raise OperationError(f"project {project.name} has no running PostgreSQL: start the stack first "
                             "(docker compose up -d --wait)")


def _admin(project: Project, *args: str) -> str:
    """`python -m shortstack.admin ARGS` in a one-off container of the app image; what it printed."""
    result = project.compose("run", "--rm", "--no-deps", "-T", "migrate", "python", "-m", "shortstack.admin", *args)
    return result.stdout.decode().strip()


def _postgres(project: Project, tool: str, options: str, stdin: BinaryIO | None = None,
              stdout: BinaryIO | None = None) -> None:
    project.compose("exec", "-T", "postgres", "sh", "-c", IN_POSTGRES.format(tool=tool, options=options),
                    stdin=stdin, stdout=stdout, timeout=3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backup", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump", help="write BACKUP_DIR/<project>-<UTC time>.dump")
    commands.add_parser("restore", help="bring a dump back into the running stack").add_argument("file")
    args = parser.parse_args(argv)
    try:
        project = Project()
        if args.command == "dump":
            dump(project, int_setting("BACKUP_CLICKS_WAIT_S", 60))
        elif not args.file:
            raise OperationError("name the dump to restore: make restore FILE=<path to a .dump>")
        else:
            restore(project, Path(args.file))
    except OperationError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
