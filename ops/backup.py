"""make backup and make restore: PostgreSQL dumps of the running compose stack.

    python -m ops.backup dump            backups/<project>-<UTC time>.dump (pg_dump's custom format)
    python -m ops.backup restore FILE    FILE back into the running stack's database

A dump is one consistent snapshot (pg_dump reads in a single repeatable-read transaction) and is
taken while the stack serves. A restore replaces every table by the dump's in one transaction
(requests wait on its locks for that long), applies the migrations the dump predates, then makes
Redis agree: cached links and statistics are dropped and the click workers read the click stream
again, so every click still in the stream that the dump lacks is stored, exactly once. What the
stream no longer holds (more than CLICK_STREAM_MAX_LEN clicks ago) is lost with the restore, as
is every link created after the dump. docs/operations.md, "Backups".
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from .compose import REPO, OperationError, Project

BACKUPS = REPO / "backups"
# pg_dump's custom format starts with these bytes; anything else is refused before touching data.
CUSTOM_FORMAT_MAGIC = b"PGDMP"
IN_POSTGRES = 'exec {tool} -U "$POSTGRES_USER" -d "$POSTGRES_DB" {options}'  # run by sh in the container


def dump(project: Project) -> Path:
    """Write a dump of the project's database under backups/ and return its path."""
    BACKUPS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = BACKUPS / f"{project.name}-{stamp}.dump"
    partial = path.with_suffix(".partial")
    started = time.monotonic()
    # Written under another name first: an interrupted dump never looks like a backup.
    try:
        with open(partial, "wb") as out:
            _postgres(project, "pg_dump", "--format=custom", stdout=out)
    except OperationError:
        partial.unlink()
        raise
    partial.rename(path)
    print(f"backup: {path.relative_to(REPO)} ({path.stat().st_size / 1024:.0f} KiB, "
          f"{time.monotonic() - started:.1f} s)")
    return path


def restore(project: Project, path: Path) -> None:
    """Replace the project's database by the dump at `path`, then bring schema and Redis in line."""
    if not path.is_file():
        raise OperationError(f"{path} is not a file (make restore FILE=backups/<name>.dump)")
    with open(path, "rb") as given:
        if given.read(len(CUSTOM_FORMAT_MAGIC)) != CUSTOM_FORMAT_MAGIC:
            raise OperationError(f"{path} is not a pg_dump custom-format file (make backup writes those); "
                                 "nothing was changed")
    started = time.monotonic()
    with open(path, "rb") as given:
        _postgres(project, "pg_restore", "--clean --if-exists --single-transaction --exit-on-error --no-owner",
                  stdin=given)
    project.run_once("migrate")
    after = project.compose("run", "--rm", "--no-deps", "-T", "migrate", "python", "-m", "shortstack.admin",
                            "after-restore")
    print(f"restore: {path.name} restored into {project.name} in {time.monotonic() - started:.1f} s. "
          + after.stdout.decode().strip())


def _postgres(project: Project, tool: str, options: str, stdin: BinaryIO | None = None,
              stdout: BinaryIO | None = None) -> None:
    project.compose("exec", "-T", "postgres", "sh", "-c", IN_POSTGRES.format(tool=tool, options=options),
                    stdin=stdin, stdout=stdout, timeout=3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backup", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump", help="write backups/<project>-<UTC time>.dump")
    commands.add_parser("restore", help="bring a dump back into the running stack").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        project = Project()
        if args.command == "dump":
            dump(project)
        else:
            restore(project, args.file)
    except OperationError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
