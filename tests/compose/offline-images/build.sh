#!/usr/bin/env bash
# Makes sure every registry image that docker-compose.yml and the Dockerfiles name exists locally:
# pulled when a registry answers, else a stand-in is built here (an engine with no registry).
# Images already present are left as they are, but for stand-ins whose folder here changed since
# they were built (label shortstack.stand-in). README.md beside this file says how each differs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# image name (exactly as the project names it) -> stand-in folder and the Debian suite it starts from
images=(
  "python:3.11-slim-bookworm python bookworm"
  "locustio/locust:2.47.0 locust -"
  "postgres:16-alpine postgres trixie"
  "redis:7.2-alpine redis trixie"
  "nginxinc/nginx-unprivileged:1.28-alpine nginx sid"
  "prom/prometheus:v2.42.0 prometheus bookworm"
  "nginx/nginx-prometheus-exporter:0.11.0 nginx-exporter bookworm"
  "oliver006/redis_exporter:v1.45.0 redis-exporter bookworm"
  "prometheuscommunity/postgres-exporter:v0.11.1 postgres-exporter bookworm"
)

have() { docker image inspect "$1" >/dev/null 2>&1; }
stamp() { (cd "$here/$1" && cat $(ls | sort)) | sha256sum | cut -c1-16; }  # a stand-in folder's contents
label() { docker image inspect -f '{{ index .Config.Labels "shortstack.stand-in" }}' "$1" 2>/dev/null || true; }

base() {  # a minimal Debian SUITE imported as shortstack-offline/debian:SUITE
  local suite=$1 name=shortstack-offline/debian:$1 root
  have "$name" && return
  command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 2; }
  root=$(mktemp -d /var/tmp/shortstack-rootfs.XXXXXX)
  echo "build.sh: debootstrap $suite (about 30 s)"
  mirror=$(bash "$here/../debian-mirror.sh")
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 \
    || { echo "build.sh: debootstrap $suite failed; see $root.log" >&2; exit 2; }
  # sid's Release file can be past its Valid-Until by this machine's clock.
  echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99shortstack-offline"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$name" >/dev/null
  rm -rf "$root" "$root.log"
}

for entry in "${images[@]}"; do
  read -r name folder suite <<<"$entry"
  want=$(stamp "$folder")
  [ "$(label "$name")" = "$want" ] && continue
  # The official image when a registry answers (offline, the pull fails at once).
  docker pull -q "$name" >/dev/null 2>&1 && continue
  [ "$suite" = - ] || base "$suite"
  context=$(mktemp -d)
  cp -r "$here/$folder/." "$context/"
  # pip inside a build here goes through a TLS-intercepting egress: the stand-ins carry this
  # machine's CA bundle so the project's own Dockerfiles need nothing machine-specific.
  cp /etc/ssl/certs/ca-certificates.crt "$context/host-ca.crt"
  echo "build.sh: building stand-in $name"
  # The classic builder (this engine has no buildx); its deprecation notice is noise here.
  DOCKER_BUILDKIT=0 docker build -q --label "shortstack.stand-in=$want" -t "$name" "$context" >"$context.log" 2>&1 \
    || { cat "$context.log" >&2; echo "build.sh: building $name failed" >&2; exit 2; }
  rm -rf "$context" "$context.log"
done
