"""gunicorn settings, all from the environment (see .env.example)."""

import os

from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger
from gunicorn.workers.sync import SyncWorker

# gunicorn runs this file from the app's folder, so the package is importable here.
from shortstack.config import Settings, check_production
from shortstack.lifecycle import exit_on_config_error, json_formatter

# The replica's workers are separate processes: Prometheus counters need a folder they share.
# Set here rather than in the image, so the one-process jobs (worker, migrate, bot) never need it.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/metrics")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))


class DrainingSyncWorker(SyncWorker):
    """gunicorn's sync worker, except that once told to stop it first serves the connections
    already queued on the listener. nginx keeps sending to a stopping replica until Docker's DNS
    drops it; a queued connection that nobody accepts is reset when the last worker exits, and
    nginx may not resend it if it was a POST. Draining leaves only new connections, which the
    closed listener refuses and nginx safely sends to another replica. The listener is closed
    right after draining, not at interpreter exit (closing pools can take a while)."""

    def run(self) -> None:
        super().run()
        for listener in self.sockets:
            while True:
                try:
                    self.accept(listener)  # non-blocking: raises once the queue is empty
                except OSError:
                    break
            listener.close()


worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
if worker_class == "sync":
    worker_class = DrainingSyncWorker
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# `make dev`: restart the workers when a module or a template changes, so an edit shows on the
# next request without rebuilding the image. Polls the files every second; never in production.
reload = os.environ.get("GUNICORN_RELOAD", "false") == "true"
reload_extra_files = ["shortstack/web/templates/*.html"] if reload else []
# Docker stops a container 30 s after SIGTERM by default; in-flight requests finish well before that.
graceful_timeout = 20
# Longer than nginx's upstream keepalive_timeout (4 s), so nginx always closes an idle connection first.
keepalive = 5
# gunicorn 27's control socket lives at one path per user: replicas sharing a host would fight
# over it, and nothing here uses it.
control_socket_disable = True
# Each worker imports the app after the fork, so it opens its own PostgreSQL and Redis connections.
preload_app = False
# nginx refuses request and header lines over 4 KiB (large_client_header_buffers) in the stack's
# own error form; gunicorn's limits sit above everything nginx passes (its maxima), so its bare
# 400/414 pages are never what a client sees.
limit_request_line = 8190
limit_request_fields = 32768
# nginx writes the access log (with upstream timings) and the app one JSON line per request
# (shortstack.web); gunicorn's own access log would be a third line in a third format.
accesslog = None
errorlog = "-"


class JsonLogger(Logger):
    """gunicorn's own messages (listening, worker booted, exited, timed out) as the app's JSON lines."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(json_formatter())


logger_class = JsonLogger


def on_starting(server):
    """Refuse to start with unsafe production settings (in the master: a worker that exits is
    only started again, for ever), and start each replica with empty metrics: old files would
    add a previous run's counts."""
    # The message, not a traceback, and the boot-error status a refusing worker exits with (wsgi.py).
    exit_on_config_error(lambda: check_production(Settings.from_env()), status=Arbiter.WORKER_BOOT_ERROR)()
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """Let prometheus_client drop a dead worker's live gauges (its counters are kept)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
