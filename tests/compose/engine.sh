#!/usr/bin/env bash
# Makes `docker compose` usable on this machine for the compose suite: installs Docker's engine
# and the Compose v2 plugin when missing (root only) and starts a daemon when none answers.
# Idempotent; prints what it did. Exit 2 with a readable message when it cannot.
set -euo pipefail

STATE_DIR=${SHORTSTACK_DOCKER_STATE:-/var/lib/shortstack-docker}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "engine.sh: $1 needs root. Install Docker with the Compose v2 plugin and start it, then run again." >&2
    exit 2
  fi
}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  need_root "installing docker.io and debootstrap"
  echo "engine.sh: installing docker.io and debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

# Debian 12 ships Compose v1 only; the v2 plugin is one static binary in trixie's docker-compose
# package, fetched with a private sources list so the host's apt setup stays untouched.
if ! docker compose version >/dev/null 2>&1; then
  need_root "installing the Compose v2 plugin"
  echo "engine.sh: installing the Compose v2 plugin from Debian trixie's docker-compose package"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  mirror=$(bash "$(dirname "$0")/debian-mirror.sh")
  echo "deb $mirror trixie main" > "$work/sources.list"
  apt_opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  install -D -m 755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
    /usr/local/lib/docker/cli-plugins/docker-compose
fi

if ! docker info >/dev/null 2>&1; then
  need_root "starting dockerd"
  mkdir -p "$STATE_DIR"
  echo "engine.sh: starting dockerd (data in $STATE_DIR, log in $STATE_DIR/dockerd.log)"
  setsid dockerd --data-root "$STATE_DIR/data" --exec-root "$STATE_DIR/exec" \
    --pidfile "$STATE_DIR/dockerd.pid" -H unix:///var/run/docker.sock \
    >"$STATE_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "engine.sh: dockerd did not answer within 60 s; see $STATE_DIR/dockerd.log" >&2; exit 2; }
fi
echo "engine.sh: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
