"""The shared nginx config, checked by nginx itself (the compose-only include is checked as text)."""

import re
import subprocess

import pytest
import yaml

from local_stack.nginx_config import nginx_command, write_nginx_prefix
from local_stack.paths import NGINX_DIR, REPO
from local_stack.processes import find_binary

SHARED_UPSTREAM = re.search(r"^upstream app \{.*?^\}", (NGINX_DIR / "conf.d" / "shortstack.conf").read_text(),
                            re.M | re.S).group(0)


@pytest.mark.parametrize("public_base_url", ["", "https://Sho.rt.example/", "http://[::1]:8080"])
def test_shared_config_passes_nginx_t(tmp_path, public_base_url):
    nginx = find_binary("nginx")
    prefix = write_nginx_prefix(tmp_path / "nginx", nginx, 8080, [8001, 8002], public_base_url)
    result = subprocess.run(nginx_command(nginx, prefix, "-t"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@pytest.mark.parametrize("public_base_url", ["", "https://sho.rt.example:8443/"])
def test_compose_https_config_passes_nginx_t(tmp_path, public_base_url):
    # As compose mounts it: https/ beside the shared config, its listen.conf, a certificate.
    nginx = find_binary("nginx")
    prefix = write_nginx_prefix(tmp_path / "nginx", nginx, 8080, [8001], public_base_url)
    (prefix / "https").symlink_to(NGINX_DIR / "https")
    (prefix / "listen.conf").write_text((NGINX_DIR / "https" / "listen.conf").read_text())
    (prefix / "certs").mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", prefix / "certs" / "privkey.pem",
                    "-out", prefix / "certs" / "fullchain.pem"], capture_output=True, check=True, timeout=30)
    result = subprocess.run(nginx_command(nginx, prefix, "-t"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_compose_upstream_re_resolves_app_through_docker_dns():
    upstream = (NGINX_DIR / "compose" / "app-servers.conf").read_text()
    assert "resolver 127.0.0.11 valid=5s" in upstream
    assert "zone app " in SHARED_UPSTREAM  # `resolve` needs the upstream in shared memory
    assert "server app:8000 resolve" in upstream
    assert (NGINX_DIR / "compose" / "listen.conf").read_text().strip() == "listen 8080;"


def test_compose_swarm_kubernetes_and_the_local_runner_balance_alike(tmp_path):
    # Round-robin would let one replica's queue grow while another's shrinks (closed-loop users
    # return sooner from the shorter queue); least_conn sends each request where fewest wait.
    assert re.search(r"\bleast_conn;", SHARED_UPSTREAM)
    # One upstream block for all four: each environment says only where the replicas are.
    local = write_nginx_prefix(tmp_path / "nginx", find_binary("nginx"), 8080, [8001, 8002]) / "app-servers.conf"
    kubernetes = next(d for d in yaml.safe_load_all((REPO / "kubernetes" / "nginx.yaml").read_text())
                      if d["metadata"]["name"] == "nginx-app-servers")["data"]["app-servers.conf"]
    for name, servers in (("compose", (NGINX_DIR / "compose" / "app-servers.conf").read_text()),
                          ("swarm", (REPO / "swarm" / "app-servers.conf").read_text()),
                          ("kubernetes", kubernetes), ("local", local.read_text())):
        lines = [line.strip() for line in servers.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert lines and all(line.split()[0] in ("server", "resolver") for line in lines), (name, lines)
        assert all(line.endswith(" max_fails=3 fail_timeout=5s;") for line in lines if line.startswith("server")), name


def test_every_error_page_nginx_refers_to_exists():
    config = (NGINX_DIR / "conf.d" / "shortstack.conf").read_text()
    targets = {line.split()[-1].rstrip(";") for line in config.splitlines() if line.strip().startswith("error_page")}
    assert targets, "no error_page directives found"
    for target in [t for t in targets if t.startswith("$")]:  # a variable set by a map: every page it can name
        block = re.search(r"map \$\w+ " + re.escape(target) + r" \{(.*?)\}", config, re.S)
        assert block, target
        targets |= {line.split()[-1].rstrip(";") for line in block.group(1).strip().splitlines()}
    for target in targets:
        if target.startswith("@"):  # a named location
            assert f"location {target} {{" in config, target
        elif not target.startswith("$"):  # a file, or a location of its own
            assert (NGINX_DIR / target.lstrip("/")).is_file() or f"location = {target} {{" in config, target
