#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt already uses (the first non-security one), so the
# scripts that fetch from Debian (engine.sh, offline-images/build.sh) never name a mirror of their
# own. Sourced or run; exit 2 with a message when apt names none.
{
  sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
  sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
} | grep -v -e '^$' -e 'security' | head -n 1 | grep . || {
  echo "debian-mirror.sh: apt names no Debian mirror in /etc/apt/sources.list(.d)" >&2
  exit 2
}
