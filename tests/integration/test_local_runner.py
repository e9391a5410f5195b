"""`make local`'s runner as a user meets it: starts, serves, stops everything, explains failures."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from local_stack import LocalStack
from local_stack.paths import REPO
from local_stack.processes import free_port, require_free_port
from tests.integration.fake_telegram import FakeBotAPI, message_update
from tests.integration.support import create_link, follow, fresh_data_dir, wait_for


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def read_until(process: subprocess.Popen, output: Path, marker: str, timeout: float) -> str:
    """The runner's output once `marker` appears in it (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while marker not in output.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"no {marker!r} from the runner; it said:\n{output.read_text()}")
        time.sleep(0.1)
    return output.read_text()


@pytest.mark.parametrize("stop_signals", [[signal.SIGTERM], [signal.SIGINT], [signal.SIGTERM, signal.SIGTERM]],
                         ids=["SIGTERM", "Ctrl-C", "SIGTERM twice"])
def test_runner_serves_then_stops_every_process_it_started(stack, stop_signals, request):
    port, data_dir = free_port(), fresh_data_dir()
    request.addfinalizer(lambda: shutil.rmtree(data_dir, ignore_errors=True))
    env = {"REPLICAS": "2", "WORKERS": "1", "HTTP_PORT": str(port), "LOCAL_DATA_DIR": str(data_dir),
           "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
    output_file = data_dir / "runner.out"
    with open(output_file, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "local_stack"], cwd=REPO, env={**os.environ, **env},
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        output = read_until(process, output_file, "Ctrl-C stops everything.", 60)
        replica_ports = [int(p) for p in re.findall(r"app-\d \(127\.0\.0\.1:(\d+)\)", output)]
        assert len(replica_ports) == 2
        served = {requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).headers["X-Served-By"] for _ in range(10)}
        assert served == {"app-1", "app-2"}

        for stop_signal in stop_signals:
            process.send_signal(stop_signal)
            time.sleep(0.2)  # the second one lands while the first is stopping the processes
        assert process.wait(30) == 0
        for p in [port, *replica_ports]:
            assert not listening(p), f"port {p} still listening after the runner stopped"
        assert "Traceback" not in output_file.read_text()
    finally:
        if process.poll() is None:
            process.kill()


def test_missing_binary_is_explained_with_the_install_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "local_stack"], cwd=REPO, capture_output=True, text=True,
                            env={"PATH": str(tmp_path), "HTTP_PORT": str(free_port()),
                                 "LOCAL_DATA_DIR": str(tmp_path)}, timeout=30)
    assert result.returncode == 2
    assert "nginx is not installed" in result.stderr
    assert "apt-get install -y nginx-light" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_taken_port_is_explained(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run([sys.executable, "-m", "local_stack"], cwd=REPO, capture_output=True, text=True,
                                env={**os.environ, "HTTP_PORT": str(taken.getsockname()[1]),
                                     "LOCAL_DATA_DIR": str(tmp_path)}, timeout=30)
    assert result.returncode == 2
    assert "already in use" in result.stderr and "HTTP_PORT" in result.stderr


def test_a_port_held_only_by_time_wait_connections_of_a_previous_run_is_free():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx's listener has
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, as nginx does: its port keeps a TIME_WAIT
        client.close()
    require_free_port(port)


def test_polling_in_dotenv_makes_the_bot_answer_from_get_updates(stack, tmp_path):
    """The laptop path: no webhook can reach it, so the runner's bot polls Telegram."""
    api = FakeBotAPI("42:POLL")
    api.queue_update(message_update(1, "/help", 7001))
    data_dir = fresh_data_dir()
    (tmp_path / ".env").write_text(f"REPLICAS=1\nWORKERS=0\nTELEGRAM_API_URL={api.url}\nTELEGRAM_BOT_TOKEN=42:POLL\n"
                                   "TELEGRAM_POLLING=true\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HTTP_PORT": str(free_port()), "LOCAL_DATA_DIR": str(data_dir),
           "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
    output_file = tmp_path / "runner.out"
    with open(output_file, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "local_stack"], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        read_until(process, output_file, "Ctrl-C stops everything.", 60)
        assert "I shorten links." in wait_for(lambda: api.replies_to(7001), 30, "the polled reply")[0]
    finally:
        process.terminate()
        process.wait(30)
        api.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_dotenv_and_an_exported_bot_token_are_honoured(stack, tmp_path):
    api = FakeBotAPI("42:LOCAL")
    data_dir = fresh_data_dir()
    # .env in the folder it starts from, as compose reads it; exported variables win over it.
    (tmp_path / ".env").write_text(f"REPLICAS=1\nWORKERS=0\nHTTP_PORT=1\nTELEGRAM_API_URL={api.url}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HTTP_PORT": str(free_port()), "LOCAL_DATA_DIR": str(data_dir),
           "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url, "TELEGRAM_BOT_TOKEN": "42:LOCAL"}
    output_file = tmp_path / "runner.out"
    with open(output_file, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "local_stack"], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        output = read_until(process, output_file, "Ctrl-C stops everything.", 60)
        assert re.findall(r"app-\d", output.split("replicas:")[1].splitlines()[0]) == ["app-1"]
        wait_for(lambda: "getMe" in api.calls, 15, "the bot consumer to call getMe")
    finally:
        process.terminate()
        process.wait(30)
        api.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_data_is_kept_between_runs_in_the_data_folder():
    data_dir = fresh_data_dir()
    try:
        with LocalStack(replicas=1, workers=0, data_dir=data_dir) as first:
            code = create_link(first, url="https://example.com/kept")["code"]
        with LocalStack(replicas=1, workers=0, data_dir=data_dir) as second:
            assert follow(second, code).headers["Location"] == "https://example.com/kept"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
