"""`make local`: run the stack in the foreground until Ctrl-C or SIGTERM.

Env: REPLICAS (3), WORKERS (1), HTTP_PORT (8080), LOCAL_DATA_DIR (.local); DATABASE_URL /
REDIS_URL to use existing servers instead of starting PostgreSQL and Redis with data kept in
LOCAL_DATA_DIR between runs; GUNICORN_RELOAD=true to have the replicas reload on a change to a
module or template (the edit-reload loop). Like docker compose, it reads `.env` in the current
folder; a variable already exported wins over the file.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from dotenv import load_dotenv

from .paths import DEFAULT_DATA_DIR
from .processes import StackError
from .runner import LocalStack


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit():
        raise SystemExit(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    load_dotenv(Path.cwd() / ".env", override=False)
    replicas, workers, port = _env_int("REPLICAS", 3), _env_int("WORKERS", 1), _env_int("HTTP_PORT", 8080)
    stack = LocalStack(replicas=replicas, workers=workers, http_port=port,
                       data_dir=Path(os.environ.get("LOCAL_DATA_DIR") or DEFAULT_DATA_DIR),
                       database_url=os.environ.get("DATABASE_URL"), redis_url=os.environ.get("REDIS_URL"))
    # SIGTERM unwinds like Ctrl-C, so the finally below stops every child either way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"starting {replicas} replica(s), {workers} worker(s), nginx on port {port}…", flush=True)
        stack.start()
        print(f"\nShortstack is up: {stack.url}\n"
              f"  replicas: {', '.join(f'{n} (127.0.0.1:{p})' for n, p in stack.app_ports.items())}\n"
              f"  logs:     {stack.logs_dir}/\n"
              "Ctrl-C stops everything.", flush=True)
        reported: set[str] = set()
        while True:
            for name, process in stack.processes.items():
                if not process.running and name not in reported:
                    reported.add(name)
                    print(f"warning: {name} exited (code {process.popen.returncode}); see {process.log_path}",
                          flush=True)
            time.sleep(1)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short and orphan processes.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
