"""The LocalStack harness: the topology started in dependency order, readiness, scaling and shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import redis

from .nginx_config import nginx_command, write_nginx_prefix
from .paths import APP_DIR, DEFAULT_DATA_DIR, WORKER_DIR
from .processes import STOP_TIMEOUT_S, Process, StackError, find_binary, free_port, require_free_port


class LocalStack:
    """PostgreSQL + Redis + migrate + N app replicas + M click workers + nginx on loopback.

    Use as a context manager, or call start() and stop(). `database_url`/`redis_url` point at
    existing servers; without them the stack starts its own, keeping data under `data_dir`.
    """

    def __init__(
        self,
        replicas: int = 3,
        workers: int = 1,
        http_port: int = 0,
        data_dir: Path = DEFAULT_DATA_DIR,
        database_url: str | None = None,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if replicas < 1 or workers < 0:
            raise StackError("REPLICAS must be at least 1 and WORKERS at least 0")
        self.replicas = replicas
        self.workers = workers
        self.http_port = http_port or free_port()
        self.data_dir = Path(data_dir).resolve()
        self.database_url = database_url
        self.redis_url = redis_url
        self.env = dict(env or {})
        self.processes: dict[str, Process] = {}
        self.app_ports: dict[str, int] = {}

    @property
    def url(self) -> str:
        """Where nginx serves the stack."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def __enter__(self) -> "LocalStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start everything in dependency order and return once nginx serves a ready replica."""
        nginx = find_binary("nginx")  # fail on a missing binary or a taken port before starting anything
        require_free_port(self.http_port)
        self.start_databases(timeout)
        for i in range(1, self.replicas + 1):
            self.add_replica(f"app-{i}")
        for i in range(1, self.workers + 1):
            self.add_worker(f"worker-{i}")
        # The children inherit this process's environment, so an exported token turns the bot on too.
        bot_env = {**os.environ, **self._app_env()}
        if bot_env.get("TELEGRAM_BOT_TOKEN"):
            # Polling suits a laptop Telegram cannot reach; else the webhook's queue is consumed.
            polling = bot_env.get("TELEGRAM_POLLING", "false") == "true"
            self.add_worker("bot-1", "telegram_bot.py", "poll" if polling else "consume")
        for name in self.app_ports:
            self._wait_http(name, f"http://127.0.0.1:{self.app_ports[name]}/healthz", timeout)
        self._start_nginx(nginx)
        self._wait_http("nginx", f"{self.url}/readyz", timeout)

    def start_databases(self, timeout: float = 60.0) -> None:
        """Start PostgreSQL and Redis (unless given URLs) and migrate: what the app needs, without
        replicas or nginx (the in-process view tests use just this)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The postgres user and nginx's workers must be able to reach their files below it.
        self.data_dir.chmod(0o755)
        if self.database_url is None:
            self.database_url = self._start_postgres(timeout)
        if self.redis_url is None:
            self.redis_url = self._start_redis(timeout)
        self.migrate()

    def stop(self) -> None:
        """Stop every process this stack started: the balancer first, the databases last."""
        order = ["nginx"] + [n for n in self.processes if n.startswith(("app-", "worker-", "bot-"))] + \
                ["redis", "postgres"]
        for name in order:
            if name in self.processes:
                self.processes[name].stop()

    def migrate(self) -> None:
        """Run the migrate job once, in the foreground."""
        result = subprocess.run([sys.executable, "-m", "shortstack.migrate"], cwd=APP_DIR, env=self._app_env(),
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise StackError(f"migrations failed:\n{result.stdout}{result.stderr}")

    def add_replica(self, name: str, env: dict[str, str] | None = None) -> Process:
        """Start an app replica (gunicorn) named `name` on a free loopback port, with extra `env`."""
        port = self.app_ports.get(name) or free_port()
        self.app_ports[name] = port
        env = {**self._app_env(), **(env or {}), "GUNICORN_BIND": f"127.0.0.1:{port}", "INSTANCE_ID": name,
               "PROMETHEUS_MULTIPROC_DIR": str(self.data_dir / "metrics" / name)}
        return self._spawn(Process(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                          "shortstack.wsgi:app"], self.logs_dir / f"{name}.log", env, APP_DIR))

    def set_replicas(self, count: int, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        """Replace every app replica by `count` new ones started with extra `env`, and reload nginx.

        The local counterpart of `docker compose up -d --scale app=N` after a config change; used
        by the benchmark to compare replica counts and gunicorn worker classes on one stack.
        """
        for name in [n for n in self.processes if n.startswith("app-")]:
            self.processes.pop(name).stop()
            del self.app_ports[name]
        names = [f"app-{i}" for i in range(1, count + 1)]
        for name in names:
            self.add_replica(name, env)
        for name in names:
            self._wait_http(name, f"http://127.0.0.1:{self.app_ports[name]}/healthz", timeout)
        nginx = self.processes["nginx"]
        write_nginx_prefix(self.data_dir / "nginx", nginx.argv[0], self.http_port, self.app_ports.values(),
                           self._app_env()["PUBLIC_BASE_URL"])
        nginx.signal(signal.SIGHUP)  # re-reads app-servers.conf; old nginx workers finish what they hold
        self._wait("nginx", lambda: self._served_by_all(set(names)), timeout)

    def _served_by_all(self, names: set[str], among: set[str] | None = None) -> None:
        """Raise unless nginx routes to every one of `names` (and, with `among`, to nothing outside it)."""
        seen = set()
        for _ in range(4 * len(among or names)):
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=15) as response:
                seen.add(response.headers["X-Served-By"])
        if not names <= seen or not seen <= (among or names):
            raise StackError(f"nginx routes to {sorted(seen)}, expected {sorted(names)}")

    def add_worker(self, name: str, *script: str) -> Process:
        """Start a stream consumer named `name` (its name in the consumer group): the click worker,
        or another script of worker/ with its arguments, such as ("telegram_bot.py", "consume")."""
        # As in the worker image, the shared package is importable and the script runs from worker/.
        env = {**self._app_env(), "WORKER_NAME": name, "PYTHONPATH": str(APP_DIR)}
        return self._spawn(Process(name, [sys.executable, *(script or ("click_worker.py",))],
                                   self.logs_dir / f"{name}.log", env, WORKER_DIR))

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a stopped or killed process again with its original command, and wait until it answers.

        A replica counts as back once nginx routes to it again: nginx keeps a replica it saw
        fail out of rotation for fail_timeout (5 s), so a rolling restart must wait for this
        before stopping the next one.
        """
        self.processes[name].stop()
        self.processes[name].start()
        if name in self.app_ports:
            self._wait_http(name, f"http://127.0.0.1:{self.app_ports[name]}/healthz", timeout)
            self._wait(name, lambda: self._served_by_all({name}, among=set(self.app_ports)), timeout)
        elif name == "redis":
            self._wait(name, lambda: redis.Redis.from_url(self.redis_url, socket_timeout=2).ping(), timeout)
        elif name == "postgres":
            self._wait(name, lambda: psycopg.connect(self.database_url, connect_timeout=2).close(), timeout)
        elif name == "nginx":
            self._wait_http(name, f"{self.url}/nginx-health", timeout)

    def stop_process(self, name: str) -> None:
        """Stop one named process gracefully (SIGTERM, or its own stop signal)."""
        self.processes[name].stop()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one named process and its children and, for SIGKILL, wait until it is gone."""
        process = self.processes[name]
        process.signal(sig)
        if sig == signal.SIGKILL and process.popen is not None:
            process.popen.wait(STOP_TIMEOUT_S)

    def _app_env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url or "", "REDIS_URL": self.redis_url or "",
                "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or self.url, "PYTHONUNBUFFERED": "1",
                **self.env}

    def _spawn(self, process: Process) -> Process:
        self.processes[process.name] = process
        process.start()
        return process

    def _start_postgres(self, timeout: float) -> str:
        pg_data = self.data_dir / "postgres"
        user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
        if not (pg_data / "PG_VERSION").exists():
            pg_data.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(pg_data, user, user)
            result = subprocess.run([find_binary("initdb"), "-D", str(pg_data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-locale"], capture_output=True, text=True, user=user)
            if result.returncode != 0:
                raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
        port = free_port()
        self._spawn(Process("postgres", [find_binary("postgres"), "-D", str(pg_data), "-p", str(port),
                                         "-k", str(pg_data), "-c", "listen_addresses=127.0.0.1"],
                            self.logs_dir / "postgres.log", user=user, stop_signal=signal.SIGINT))
        admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._wait("postgres", lambda: psycopg.connect(admin_url, connect_timeout=2).close(), timeout)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shortstack'").fetchone():
                conn.execute("CREATE DATABASE shortstack")
        return f"postgresql://postgres@127.0.0.1:{port}/shortstack"

    def _start_redis(self, timeout: float) -> str:
        redis_data = self.data_dir / "redis"
        redis_data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        # The same persistence and eviction rules as compose: AOF, and only TTL'd cache keys evictable.
        self._spawn(Process("redis", [find_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                                      "--dir", str(redis_data), "--appendonly", "yes", "--save", "",
                                      "--maxmemory-policy", "volatile-lru", "--daemonize", "no"],
                            self.logs_dir / "redis.log"))
        url = f"redis://127.0.0.1:{port}/0"
        self._wait("redis", lambda: redis.Redis.from_url(url, socket_timeout=2).ping(), timeout)
        return url

    def _start_nginx(self, nginx: str) -> None:
        prefix = write_nginx_prefix(self.data_dir / "nginx", nginx, self.http_port, self.app_ports.values(),
                                    self._app_env()["PUBLIC_BASE_URL"])
        self._spawn(Process("nginx", nginx_command(nginx, prefix), self.logs_dir / "nginx.log",
                            stop_signal=signal.SIGQUIT))

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        def ready() -> None:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status != 200:
                    raise StackError(f"{url} answered {response.status}")
        self._wait(name, ready, timeout)

    def _wait(self, name: str, probe, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes.get(name)
            if process is not None and process.popen is not None and not process.running:
                raise StackError(f"{name} exited with code {process.popen.returncode}; its log ends with:\n"
                                 f"{process.log_tail()}")
            try:
                probe()
                return
            except (OSError, urllib.error.URLError, psycopg.Error, redis.RedisError, StackError) as exc:
                if time.monotonic() > deadline:
                    tail = process.log_tail() if process else ""
                    raise StackError(f"{name} was not ready after {timeout:.0f}s ({exc}); its log ends with:\n"
                                     f"{tail}") from None
                time.sleep(0.2)


