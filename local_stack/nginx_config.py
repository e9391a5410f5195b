"""The local runner's nginx: a prefix folder with the repository's shared config and the lines
only the runner writes (its loopback listen and app servers)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterable

from .paths import APP_DIR, NGINX_DIR


def write_nginx_prefix(prefix: Path, nginx: str, http_port: int, app_ports: Iterable[int],
                       public_base_url: str = "") -> Path:
    """Lay out an nginx prefix folder: the repo's shared config plus a loopback listen and app servers,
    and the hosts it serves (nginx/known-hosts.sh, as the image writes them at start).

    The Docker image has the same layout under /etc/nginx, with nginx/compose/ in place of the
    two generated files.
    """
    (prefix / "public").mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    links = {
        prefix / "nginx.conf": NGINX_DIR / "nginx.conf",
        prefix / "conf.d": NGINX_DIR / "conf.d",
        prefix / "mime.types": _nginx_conf_dir(nginx) / "mime.types",
        prefix / "public" / "static": APP_DIR / "shortstack" / "web" / "static",
        prefix / "public" / "errors": NGINX_DIR / "errors",
    }
    for link, target in links.items():
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    (prefix / "listen.conf").write_text(f"listen 127.0.0.1:{http_port};\n")
    (prefix / "hosts.conf").write_text(subprocess.run(["sh", str(NGINX_DIR / "known-hosts.sh"), public_base_url],
                                                      capture_output=True, text=True, check=True).stdout)
    (prefix / "app-servers.conf").write_text(
        "# Written by local_stack: the replicas it started, in place of compose's DNS-resolved app.\n"
        + "".join(f"server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;\n" for port in app_ports))
    return prefix


def nginx_command(nginx: str, prefix: Path, *extra: str) -> list[str]:
    """The nginx command line for a prefix made by write_nginx_prefix, in the foreground."""
    return [nginx, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", "stderr",
            "-g", f"daemon off; pid {prefix / 'nginx.pid'};", *extra]


def _nginx_conf_dir(nginx: str) -> Path:
    # mime.types ships beside the distribution's own nginx.conf; `nginx -V` says where that is.
    info = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    match = re.search(r"--conf-path=(\S+)", info)
    return Path(match.group(1)).parent if match else Path("/etc/nginx")
